# The server and the workers in one slim image; the command picks the role:
#   docker build -t valuerank .
#   docker run -e DATABASE_URL=postgresql://user:pass@db:5432/valuerank -p 8000:8000 valuerank
#   docker run -e DATABASE_URL=... valuerank valuerank worker
# compose.yaml wires PostgreSQL, one server and a scalable worker service.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data

WORKDIR /app
# Dependencies first, so a code change does not reinstall them. The embedded PostgreSQL extra
# is left out: in a container the database is a service of its own (DATABASE_URL).
COPY pyproject.toml README.md ./
RUN mkdir app workers && touch app/__init__.py workers/__init__.py \
    && pip install . && pip uninstall -y valuerank-runs
COPY app ./app
COPY workers ./workers
COPY migrations ./migrations
COPY schema.graphql ./
# Editable, so the migrations directory beside app/ is where the code looks for it.
RUN pip install --no-deps -e . \
    && useradd --system --uid 10001 --home-dir /app valuerank \
    && mkdir -p /data && chown valuerank /data

USER valuerank
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/readyz', timeout=2)"]
CMD ["valuerank", "serve"]

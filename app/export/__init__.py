"""Export: a run's transcripts (CSV, JSONL), the run history with totals (JSON, CSV) and a run's
manifest, streamed from the database with memory bounded whatever the run's size.

http.py serves them at /export/...; cli.py's `valuerank export` writes the same bytes to a
terminal or a file. Both call the streams here, which read through a server-side cursor (or
PostgreSQL's COPY) and yield chunks of at most about `CHUNK_BYTES`.
"""

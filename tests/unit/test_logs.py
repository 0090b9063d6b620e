"""app/logs.py: one format, the context ids on each line, no traceback for what was planned."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from app import logs
from workers.runner import job_log_context


@contextlib.contextmanager
def configured(fmt: str) -> Iterator[io.StringIO]:
    """`logs.configure` into a string, everything it changed put back afterwards."""
    root = logging.getLogger()
    touched = [logging.getLogger(n) for n in (*logs.CHATTY_LOGGERS, *logs.QUIET_LOGGERS)]
    saved = (list(root.handlers), root.level, [(lg, lg.level) for lg in touched])
    stream = io.StringIO()
    logs.configure("info", fmt, stream=stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for logger, level in saved[2]:
            logger.setLevel(level)


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, logging.Logger]]:
    with configured("json") as stream:
        yield stream, logging.getLogger("app.example")


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_has_level_logger_time_message_and_context(
    captured: tuple[io.StringIO, logging.Logger],
) -> None:
    stream, log = captured
    with logs.log_context(request_id="r-1", run_id="run-9"):
        log.warning("provider %s is slow", "openai")
    log.info("outside")
    inside, outside = _lines(stream)
    assert inside["level"] == "WARNING" and inside["logger"] == "app.example"
    assert inside["message"] == "provider openai is slow"
    assert inside["request_id"] == "r-1" and inside["run_id"] == "run-9"
    assert "job_id" not in inside and str(inside["time"]).endswith("+00:00")
    assert "request_id" not in outside


def test_procrastinate_records_carry_the_job_and_run(
    captured: tuple[io.StringIO, logging.Logger],
) -> None:
    stream, _ = captured
    job = {"id": 42, "task_kwargs": {"runId": "run-7", "scenarioId": "s"}}
    logging.getLogger("procrastinate.worker").warning("slow job", extra={"job": job})
    (line,) = _lines(stream)
    assert line["job_id"] == "42" and line["run_id"] == "run-7" and "job" not in line


def _raised(error: BaseException) -> tuple[type[BaseException], BaseException, object]:
    try:
        raise error
    except BaseException as caught:
        return type(caught), caught, caught.__traceback__


def test_a_planned_retry_is_one_line_and_a_bug_keeps_its_traceback(
    captured: tuple[io.StringIO, logging.Logger],
) -> None:
    stream, log = captured
    worker = logging.getLogger("procrastinate.worker")
    worker.warning(
        "Job probe ended with status: Error, to retry",
        exc_info=_raised(RuntimeError("provider returned 503\nbody...")),  # type: ignore[arg-type]
        extra={"action": "job_error_retry"},
    )
    log.error("interrupted", exc_info=_raised(KeyboardInterrupt()))  # type: ignore[arg-type]
    log.error("a bug", exc_info=_raised(ValueError("boom")))  # type: ignore[arg-type]
    retry, interrupted, bug = _lines(stream)
    assert "exc_info" not in retry
    assert retry["message"].endswith("(RuntimeError: provider returned 503)")  # type: ignore[union-attr]
    assert "exc_info" not in interrupted
    assert "Traceback" in str(bug["exc_info"]) and "ValueError: boom" in str(bug["exc_info"])


def test_text_lines_name_the_context_and_per_job_lines_wait_for_debug() -> None:
    with configured("text") as stream:
        with logs.log_context(job_id="5"):
            logging.getLogger("workers.x").info("hello")
        logging.getLogger("procrastinate.worker").info("Starting job")
        logging.getLogger("uvicorn.access").info("GET /healthz 200")
        (line,) = stream.getvalue().splitlines()
    assert line.endswith(" INFO workers.x [job=5]: hello")


async def test_lines_logged_inside_a_job_name_the_job_and_its_run(
    captured: tuple[io.StringIO, logging.Logger],
) -> None:
    stream, log = captured
    job = SimpleNamespace(job=SimpleNamespace(id=7, queue="q", task_kwargs={"runId": "run-3"}))

    async def task() -> str:
        log.warning("calling the provider")
        return "done"

    assert await job_log_context(task, job, None) == "done"  # type: ignore[arg-type]
    log.warning("after the job")
    inside, after = _lines(stream)
    assert (inside["job_id"], inside["run_id"]) == ("7", "run-3")
    assert "job_id" not in after

"""One JSON object per log line on stdout, through the standard ``logging`` module.

Lambda sends every stdout line to CloudWatch Logs as one event, so a record (traceback included)
must be one line. Cheap: no dependency, one JSON encoding per record, fields given through
``extra=`` become top-level keys.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

ROOT_LOGGER = "lambda_app"

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


# Built once: json.dumps with options builds a new encoder on every call.
_encode = json.JSONEncoder(default=str, separators=(",", ":"), ensure_ascii=False).encode
Encoder = Callable[[dict[str, Any]], str]


@functools.lru_cache(maxsize=4)
def _second(whole: int) -> str:
    # Lines come many to a second: format each second once (~7 µs of a warm request's line).
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))


def _line(
    created: float,
    level: str,
    logger: str,
    message: str,
    fields: dict[str, Any],
    encode: Encoder = _encode,
) -> str:
    entry: dict[str, Any] = {
        "time": f"{_second(int(created))}.{int(created * 1000) % 1000:03d}Z",
        "level": level,
        "logger": logger,
        "message": message,
        **fields,
    }
    return encode(entry)


def _write(line: str) -> None:
    stream = sys.stdout  # as it is now: Lambda's pipe, or a test's capture
    stream.write(line + "\n")
    stream.flush()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {
            key: value
            for key, value in record.__dict__.items()
            # "_aws": Embedded Metric Format metadata riding on the line (api/middleware.py).
            if key not in _STANDARD and (key == "_aws" or not key.startswith("_"))
        }
        if record.exc_info and record.exc_info[1] is not None:
            fields["error"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            fields["traceback"] = self.formatException(record.exc_info)
        return _line(record.created, record.levelname, record.name, record.getMessage(), fields)


class StdoutHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            _write(self.format(record))
        except Exception:
            self.handleError(record)


def info_line(
    logger: logging.Logger, message: str, fields: dict[str, Any], encode: Encoder = _encode
) -> None:
    """An INFO line of ``logger`` in the same shape, written directly: for the one line every
    request writes, where building a LogRecord and passing it through the handlers cost more
    than the line itself (~25 µs of a warm request; measured with `make bench`). ``encode``
    turns the line's JSON-ready fields into text: a caller that has a faster encoder loaded
    (the API has pydantic-core's) may pass it."""
    if logger.isEnabledFor(logging.INFO):
        _write(_line(time.time(), "INFO", logger.name, message, fields, encode))


def configure_logging(level: str | int = "INFO") -> logging.Logger:
    """Send the ``lambda_app`` loggers to stdout as JSON lines; idempotent.

    ``propagate`` is off so Lambda's own root handler does not print each record a second time
    in its text format.
    """
    logger = logging.getLogger(ROOT_LOGGER)
    if not any(isinstance(handler, StdoutHandler) for handler in logger.handlers):
        handler = StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(level.upper() if isinstance(level, str) else level)
    logger.propagate = False
    # Our lines carry none of the caller's file and line, thread, process or asyncio task, so
    # logging need not look them up: the caller lookup walks the stack, which under the ASGI
    # middleware is deep, and cost ~45 µs per request line (the "Optimization" section of the
    # logging HOWTO documents these switches).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    if hasattr(logging, "logAsyncioTasks"):  # Python 3.12+
        logging.logAsyncioTasks = False
    return logger

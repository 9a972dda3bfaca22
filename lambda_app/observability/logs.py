"""One JSON object per log line on stdout, through the standard ``logging`` module.

Lambda sends every stdout line to CloudWatch Logs as one event, so a record (traceback included)
must be one line. Cheap: no dependency, one ``json.dumps`` per record, fields given through
``extra=`` become top-level keys.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

ROOT_LOGGER = "lambda_app"

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            # "_aws": Embedded Metric Format metadata riding on the line (api/middleware.py).
            if key not in _STANDARD and (key == "_aws" or not key.startswith("_")):
                entry[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            entry["error"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"), ensure_ascii=False)


class StdoutHandler(logging.Handler):
    """Writes to ``sys.stdout`` as it is at emit time (Lambda's pipe, a test's capture)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            stream = sys.stdout
            stream.write(line + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


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

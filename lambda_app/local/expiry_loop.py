"""The reservation expiry job in the background of ``order-api serve``: the same run the
scheduled Lambda function makes every minute (``service/expiry.py``), every 30 s in a thread,
so that a developer sees reservations expire in ``make run``."""

from __future__ import annotations

import logging
import threading

from lambda_app.service.expiry import ReservationExpiry

INTERVAL_SECONDS = 30.0
logger = logging.getLogger("lambda_app.expiry")


class ExpiryLoop:
    def __init__(self, expiry: ReservationExpiry, interval: float = INTERVAL_SECONDS) -> None:
        self._expiry = expiry
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reservation-expiry", daemon=True)

    def start(self) -> ExpiryLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stopped.is_set():
            try:
                # Each run well inside the interval, as in Lambda (30 s of a 60 s timeout).
                report = self._expiry.run(time_budget=self._interval / 2)
            except Exception:
                # A failed run is retried on the next tick, as the schedule does in AWS.
                logger.exception("reservation expiry failed")
            else:
                if report.attempts:
                    logger.info("reservation expiry", extra=report.as_dict())
            self._stopped.wait(self._interval)

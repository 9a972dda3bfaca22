"""Reservations expire: PENDING orders whose hold ran out are cancelled and give their stock back.

One run is what the scheduled Lambda job (``lambda_app/jobs/expire_reservations.py``) does each
minute and what ``order-api serve`` does every 30 s in the background:

- it reads the orders due at the run's start, page by page (the repository's reservation index,
  then each order itself, strongly consistent);
- it expires each one through the same transaction a cancel uses: status CANCELLED, reason
  ``expired``, every line's stock returned, applied only if the order is still PENDING at the
  version read. Of an expiry and a customer's cancel, a staff confirm, an address change or
  another run that race, exactly one write applies; the stock comes back at most once.
- its work is bounded: at most ``max_orders`` attempts, none started after ``time_budget``
  seconds. What is left stays in the index, oldest first, for the next run.

Per order the outcome is one of: expired; lost (someone changed the order first: it is left as
they left it, and, if it is somehow still due, the next run sees it again); failed (a conflict
with another transaction on its products, or throttling): nothing was written, so the next run
simply tries again. Throttling ends the run early: pressing on would only be throttled too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from lambda_app.domain.errors import ConcurrentUpdate, StaleWrite, StoreUnavailable
from lambda_app.domain.models import Order
from lambda_app.repository.dynamodb import DynamoRepository
from lambda_app.service.clock import Clock, utcnow

# Orders per page of due reservations: BatchGetItem reads at most 100 keys.
PAGE_SIZE = 100
# Bounds of one run. A transaction takes ~10-30 ms in AWS, so the time budget is what usually
# ends a run with a backlog: 30 s drains ~1,000-3,000 orders, a backlog of 10,000 in a few runs.
MAX_ORDERS_PER_RUN = 3000
TIME_BUDGET_SECONDS = 30.0

logger = logging.getLogger("lambda_app.expiry")


@dataclass(slots=True)
class ExpiryReport:
    """What one run did: counts, and how late the latest expiry was."""

    expired: int = 0
    lost: int = 0
    failed: int = 0
    # Seconds between a deadline and its expiry, the largest of this run (the contract: < 120).
    max_lag_seconds: float = 0.0
    # The run stopped at a bound or on throttling; due orders may be left for the next run.
    stopped_early: bool = False

    @property
    def attempts(self) -> int:
        return self.expired + self.lost + self.failed

    def as_dict(self) -> dict[str, float | int | bool]:
        return {
            "expired": self.expired,
            "lost": self.lost,
            "failed": self.failed,
            "max_lag_seconds": round(self.max_lag_seconds, 3),
            "stopped_early": self.stopped_early,
        }


class ReservationExpiry:
    def __init__(
        self,
        repository: DynamoRepository,
        clock: Clock = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._monotonic = monotonic
        self._page_size = page_size

    def run(
        self, *, max_orders: int = MAX_ORDERS_PER_RUN, time_budget: float = TIME_BUDGET_SECONDS
    ) -> ExpiryReport:
        started = self._monotonic()
        report = ExpiryReport()
        try:
            for page in self._repository.due_orders(self._clock(), self._page_size):
                for order in page:
                    if report.attempts >= max_orders or self._monotonic() - started >= time_budget:
                        report.stopped_early = True
                        return report
                    self._expire(order, report)
        except StoreUnavailable:
            logger.warning("reservation expiry throttled; the rest waits for the next run")
            report.stopped_early = True
        return report

    def add_deadlines(self, window: timedelta) -> int:
        """Once, after upgrading (``order-api add-reservation-deadlines``): give every PENDING
        order placed before reservations expired the deadline it would have had, placed +
        ``window``, so the job releases it too (at its next run, if that is already past).
        Each is a conditional write on the version read: an order changed meanwhile is skipped
        (run it again). Returns how many orders got a deadline."""
        added = 0
        for page in self._repository.pending_without_deadline(PAGE_SIZE):
            for order in page:
                try:
                    self._repository.save_order(
                        order.with_deadline(window, self._clock()), order.version
                    )
                except StaleWrite:
                    continue
                added += 1
        return added

    def _expire(self, order: Order, report: ExpiryReport) -> None:
        now = self._clock()
        expired = order.expired(now)
        try:
            self._repository.save_cancellation(expired, order)
        except StaleWrite:
            report.lost += 1  # confirmed, cancelled, changed or expired by someone else first
            return
        except ConcurrentUpdate:
            report.failed += 1  # a transaction on its products won; nothing written
            return
        except StoreUnavailable:
            report.failed += 1
            raise
        report.expired += 1
        assert order.expires_at is not None  # due orders have a deadline
        report.max_lag_seconds = max(
            report.max_lag_seconds, (now - order.expires_at).total_seconds()
        )

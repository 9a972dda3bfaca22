"""Lambda handler of the reservation expiry job: ``lambda_app.jobs.expire_reservations.handler``.

An EventBridge rule invokes it every minute (``infra/constructs/expiry.py``); each invocation is
one run of ``service/expiry.py``: PENDING orders past their deadline are cancelled with reason
``expired`` and their stock returned. A run that overlaps another, or repeats one that failed,
is safe: each order's expiry applies at most once.

A run's time budget is ``TIME_BUDGET_SECONDS``, cut short when the invocation has less time
left than that plus the slowest single DynamoDB call (the SDK's 3 attempts of a 2 s connect and
a 5 s read), so a run always ends before the function's timeout. What it leaves waits, oldest
first, for the next minute.

Each run writes one log line (``"message": "reservation expiry"``, with its counts) and one
EMF document (namespace ``METRICS_NAMESPACE``, ``Service=order-expiry``): ``ReservationsExpired``
and ``ReservationExpiryFailures`` (Count) and, when it expired something,
``ReservationExpiryLag`` (Seconds: the largest delay past a deadline in the run).

Environment (``JobSettings``): ``TABLE_NAME``, ``METRICS_NAMESPACE``, ``LOG_LEVEL``. No
secrets, and not ``RESERVATION_MINUTES``: every order carries its own deadline.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from lambda_app.observability.logs import configure_logging
from lambda_app.observability.metrics import COUNT, Metrics
from lambda_app.repository.client import make_client
from lambda_app.repository.dynamodb import DynamoRepository
from lambda_app.service.expiry import TIME_BUDGET_SECONDS, ExpiryReport, ReservationExpiry
from lambda_app.settings import JobSettings

SERVICE = "order-expiry"  # the EMF ``Service`` dimension the stack's alarms read
SLOWEST_CALL_SECONDS = 3 * (2 + 5)
logger = logging.getLogger("lambda_app.expiry")


def run_and_report(
    expiry: ReservationExpiry, metrics: Metrics, time_budget: float = TIME_BUDGET_SECONDS
) -> ExpiryReport:
    """One run, then its log line and metrics."""
    report = expiry.run(time_budget=time_budget)
    found = metrics.new()
    found.add("ReservationsExpired", report.expired, COUNT)
    found.add("ReservationExpiryFailures", report.failed, COUNT)
    if report.expired:
        found.add("ReservationExpiryLag", report.max_lag_seconds, "Seconds")
    metrics.publish(found)
    level = logging.WARNING if report.failed else logging.INFO
    logger.log(level, "reservation expiry", extra=report.as_dict())
    return report


@functools.cache
def _job() -> tuple[ReservationExpiry, Metrics]:
    """Built on the first invocation and kept for the container's life."""
    settings = JobSettings()
    configure_logging(settings.log_level)
    client = make_client(settings.region, settings.dynamodb_endpoint_url)
    expiry = ReservationExpiry(DynamoRepository(client, settings.table_name))
    return expiry, Metrics(settings.metrics_namespace, SERVICE)


def handler(event: Any, context: Any) -> dict[str, Any]:
    expiry, metrics = _job()
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    budget = TIME_BUDGET_SECONDS
    if remaining is not None:
        budget = max(0.0, min(budget, remaining() / 1000 - SLOWEST_CALL_SECONDS))
    return dict(run_and_report(expiry, metrics, budget).as_dict())

"""Lambda handler for the table's DynamoDB stream: order changes to EventBridge events.

``lambda_app.events.stream:handler``, wired to the stream (NEW_AND_OLD_IMAGES) by an event
source mapping with ``ReportBatchItemFailures``. Records are handled in stream order; their
events go out in ``PutEvents`` calls of at most 10 entries. A record whose event failed (an
entry with an ``ErrorCode``, a failed call, a record that cannot be read) is reported in
``batchItemFailures`` by its sequence number; Lambda then retries from the lowest one, and
bisection, retries and the on-failure destination handle the rest. After a failed call no
further calls are made: their records are reported too, since Lambda would retry them anyway
and sending them now would only add duplicates and reorder events.

Environment: ``EVENT_BUS_NAME`` (default ``default``), ``METRICS_NAMESPACE`` (default
``OrderService``), ``LOG_LEVEL`` (default ``INFO``). Read directly, without ``Settings``: this
function needs none of the API's configuration (and none of its secrets).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, cast

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lambda_app.events.changes import SOURCE, event_for_record
from lambda_app.observability.logs import configure_logging
from lambda_app.observability.metrics import Metrics

MAX_ENTRIES = 10  # PutEvents' limit per call
logger = logging.getLogger("lambda_app.events")

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
)


class EventsClient(Protocol):
    """The one EventBridge call we make (botocore's ``events`` client has it)."""

    def put_events(self, *, Entries: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]: ...


class Publisher:
    def __init__(self, client: EventsClient, bus_name: str, metrics: Metrics) -> None:
        self.client = client
        self.bus_name = bus_name
        self.metrics = metrics

    def process(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Publish the events of ``records``; the partial batch response for Lambda."""
        failed: list[str] = []
        pending: list[tuple[str, dict[str, Any]]] = []  # (sequence number, PutEvents entry)
        for position, record in enumerate(records):
            sequence = str(record["dynamodb"]["SequenceNumber"])
            try:
                event = event_for_record(record)
            except Exception:
                logger.exception(
                    "unreadable stream record",
                    extra={"stream_event_id": record.get("eventID"), "sequence_number": sequence},
                )
                # Lambda retries from this record on anyway: publish what came before it only.
                failed += [str(r["dynamodb"]["SequenceNumber"]) for r in records[position:]]
                break
            if event is not None:
                pending.append(
                    (
                        sequence,
                        {
                            "Source": SOURCE,
                            "DetailType": event.detail_type.value,
                            "Detail": json.dumps(event.detail, separators=(",", ":")),
                            "EventBusName": self.bus_name,
                            "Time": event.time,
                        },
                    )
                )
        published = self._publish(pending, failed)
        metrics = self.metrics.new()
        metrics.add("EventsPublished", published)
        metrics.add("EventPublishFailures", len(failed))
        self.metrics.publish(metrics)
        logger.info(
            "stream batch",
            extra={"records": len(records), "published": published, "failed": len(failed)},
        )
        return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}

    def _publish(self, pending: list[tuple[str, dict[str, Any]]], failed: list[str]) -> int:
        """Send ``pending`` in order; append the sequence numbers that failed to ``failed``."""
        published = 0
        for start in range(0, len(pending), MAX_ENTRIES):
            chunk = pending[start : start + MAX_ENTRIES]
            try:
                response = self.client.put_events(Entries=[entry for _, entry in chunk])
            except (ClientError, BotoCoreError):
                logger.exception("PutEvents failed", extra={"entries": len(chunk)})
                failed += [sequence for sequence, _ in pending[start:]]
                break
            if not response.get("FailedEntryCount"):
                published += len(chunk)
                continue
            results = response.get("Entries") or []
            for index, (sequence, entry) in enumerate(chunk):
                result = results[index] if index < len(results) else {"ErrorCode": "Missing"}
                if result.get("ErrorCode") or not result.get("EventId"):
                    failed.append(sequence)
                    logger.error(
                        "event not accepted",
                        extra={
                            "sequence_number": sequence,
                            "detail_type": entry["DetailType"],
                            "error_code": result.get("ErrorCode"),
                            "error_message": result.get("ErrorMessage"),
                        },
                    )
                else:
                    published += 1
            failed += [sequence for sequence, _ in pending[start + MAX_ENTRIES :]]
            break
        return published


@functools.cache
def _publisher() -> Publisher:
    """Built on first use and kept for the container's life (one client per container). Made
    through botocore's session, like the DynamoDB client: the asset ships botocore, not boto3,
    and the Lambda runtime's boto3 would wrap its own, other botocore."""
    session = botocore.session.get_session()
    client = cast("EventsClient", session.create_client("events", config=CLIENT_CONFIG))
    metrics = Metrics(os.environ.get("METRICS_NAMESPACE", "OrderService"), "order-events")
    return Publisher(client, os.environ.get("EVENT_BUS_NAME", "default"), metrics)


configure_logging(os.environ.get("LOG_LEVEL", "INFO"))


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        # Not a stream batch (a console test invoke): nothing to do, nothing to retry.
        logger.warning("not a DynamoDB stream event", extra={"event_type": type(event).__name__})
        return {"batchItemFailures": []}
    return _publisher().process(records)

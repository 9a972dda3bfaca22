"""CloudWatch Embedded Metric Format (EMF): metrics as JSON lines on stdout, no API calls.

CloudWatch Logs extracts the metrics from any log line shaped like this (spec:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)::

    {"_aws": {"Timestamp": 1732519800000, "CloudWatchMetrics": [
        {"Namespace": "OrderService", "Dimensions": [["Service", "Route"]],
         "Metrics": [{"Name": "Http4xx", "Unit": "Count"}]}]},
     "Service": "order-api", "Route": "POST /orders", "Http4xx": 1}

A few lines of our own instead of AWS Lambda Powertools' ``Metrics``: see docs/events.md for
the cold-start measurement behind that choice.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

COUNT = "Count"
NONE = "None"  # a plain number, e.g. an amount in minor units


def _stdout(line: str) -> None:
    stream = sys.stdout
    stream.write(line + "\n")
    stream.flush()


class MetricSet:
    """The metrics of one unit of work (a request, a batch), written as one EMF document.

    Every metric carries the base dimensions; a metric may add dimensions of its own
    (``add("Http4xx", 1, Route="GET /orders")``). Within one document a dimension name has one
    value, which is what a request or a batch naturally has.
    """

    __slots__ = ("_base", "_dimensions", "_groups", "_values", "namespace")

    def __init__(self, namespace: str, dimensions: dict[str, str]) -> None:
        self.namespace = namespace
        self._base = tuple(dimensions)
        self._dimensions = dict(dimensions)
        self._groups: dict[tuple[str, ...], dict[str, str]] = {}  # dimension set -> name -> unit
        self._values: dict[str, float] = {}

    def add(self, name: str, value: float, unit: str = COUNT, **dimensions: str) -> None:
        """Add ``value`` to metric ``name`` (the same name twice sums)."""
        self._dimensions.update(dimensions)
        group = self._base + tuple(dimensions)
        self._groups.setdefault(group, {})[name] = unit
        self._values[name] = self._values.get(name, 0) + value

    def __bool__(self) -> bool:
        return bool(self._values)

    def document(
        self, properties: dict[str, Any] | None = None, timestamp_ms: int | None = None
    ) -> dict[str, Any]:
        document: dict[str, Any] = {
            "_aws": {
                "Timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [list(group)],
                        "Metrics": [{"Name": name, "Unit": unit} for name, unit in units.items()],
                    }
                    for group, units in self._groups.items()
                ],
            }
        }
        # Properties first: a metric or dimension of the same name wins.
        document.update(properties or {})
        document.update(self._dimensions)
        document.update(self._values)
        return document


class Metrics:
    """Creates metric sets with this service's namespace and dimension, and writes them."""

    def __init__(
        self, namespace: str, service: str, write: Callable[[str], None] | None = None
    ) -> None:
        self.namespace = namespace
        self.service = service
        self._write = write

    def new(self) -> MetricSet:
        return MetricSet(self.namespace, {"Service": self.service})

    def publish(self, metrics: MetricSet, **properties: Any) -> None:
        """Write the set as one EMF line if it holds anything; ``properties`` are searchable
        fields that are not metrics (a request id)."""
        if not metrics:
            return
        line = json.dumps(metrics.document(properties), separators=(",", ":"), default=str)
        (self._write or _stdout)(line)

"""Structured logs and CloudWatch metrics: JSON lines on stdout, no API calls, no HTTP knowledge.

``logs`` formats log records as one JSON object per line; ``metrics`` writes CloudWatch Embedded
Metric Format documents. The API (``api/middleware.py``) and the stream handler
(``events/stream.py``) decide what to log and count; this package only knows how to write it.
"""

"""Domain events from the table's DynamoDB stream, published to EventBridge (no dual writes).

The API writes only to DynamoDB; ``stream.handler`` reads the table's stream and turns order
changes into ``OrderPlaced``/``OrderCancelled``/``OrderStatusChanged`` events. Schema and
consumer guidance: docs/events.md.
"""

"""The stack's building blocks: data (DynamoDB), auth (Cognito / JWT), api (HTTP API + Lambda),
events (stream -> EventBridge), observability (alarms, their topic, the dashboard)."""

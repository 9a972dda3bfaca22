"""Scheduled jobs: Lambda handlers that EventBridge invokes on a schedule, not per request."""

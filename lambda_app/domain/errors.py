"""Domain errors: what went wrong in the business's own words. Mapped to HTTP in ``api/errors.py``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambda_app.domain.models import IdempotencyRecord


class DomainError(Exception):
    """Base of every error this service raises on purpose."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    pass


class Forbidden(DomainError):
    pass


class InvalidRequest(DomainError):
    """The request is well-formed but breaks a business rule (unknown sku, mixed currencies)."""

    def __init__(self, detail: str, errors: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(detail)
        self.errors = list(errors)


class IdempotencyKeyReused(InvalidRequest):
    """The Idempotency-Key was already used by this caller with a different request body."""


class Conflict(DomainError):
    """The request conflicts with the resource's current state."""


class InsufficientStock(Conflict):
    def __init__(self, skus: Sequence[str]) -> None:
        self.skus = sorted(skus)
        super().__init__("Not enough stock for: " + ", ".join(self.skus))


class InvalidTransition(Conflict):
    def __init__(self, current: str, detail: str) -> None:
        super().__init__(detail)
        self.current = current


class AlreadyExists(Conflict):
    pass


class ConcurrentUpdate(Conflict):
    """Other writers kept winning the race for the same items; retrying shortly will work."""


class PreconditionFailed(DomainError):
    """If-Match named a version that is no longer current."""

    def __init__(self, current_version: int) -> None:
        super().__init__(f"The resource is at version {current_version}; If-Match did not match")
        self.current_version = current_version


class InvalidCursor(DomainError):
    pass


class StoreUnavailable(DomainError):
    """The database refused or timed out after the SDK's retries; safe to retry later."""

    def __init__(self, detail: str, retry_after_seconds: int = 1) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class StaleWrite(DomainError):
    """Someone changed the item between our read and our conditional write."""

    def __init__(self) -> None:
        super().__init__("The item changed while it was being updated")


class IdempotencyKeyTaken(DomainError):
    """Another request with the same Idempotency-Key created its order first."""

    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__("Idempotency-Key already used")
        self.record = record

"""Stage configuration, read from CDK context (``-c key=value`` or cdk.json).

| context key      | meaning                                                             | default   |
|------------------|---------------------------------------------------------------------|-----------|
| ``stage``        | ``dev`` or ``prod``                                                 | ``dev``   |
| ``cors_origins`` | comma-separated allowed origins; empty = no CORS configuration      | dev: localhost:3000, prod: none |
| ``jwt_issuer``   | bring your own IdP: issuer URL; then no Cognito pool is created     | unset     |
| ``jwt_audience`` | comma-separated audiences (required with ``jwt_issuer``)            | unset     |
| ``snapstart``    | ``true``: SnapStart on the API function, invoked through alias live | ``false`` |
| ``alarm_email``  | an address subscribed (email) to the alarm topic                    | unset     |
| ``log_level``    | ``LOG_LEVEL`` of both functions (DEBUG, INFO, WARNING, ERROR)       | ``INFO``  |
| ``reservation_minutes`` | how long a PENDING order holds its stock, 1..1440 (``RESERVATION_MINUTES``) | ``30`` |
| ``target``       | ``aws``, or ``local``: the same stack for a local AWS emulator      | ``aws``   |
| ``allow_missing_bytecode`` | ``true``: a prod synth may ship an asset without bytecode | ``false`` |

Everything else follows from the stage: prod keeps data (RETAIN, deletion protection) and logs
longer; dev is disposable (DESTROY). Names are prefixed with the stage so both can share an
account.

``target=local`` deploys this same app into a local AWS emulator (``make stack``). Everything it
changes is a named property of ``StageConfig`` below, each with its reason; nothing else in the
stack looks at the target.
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_logs as logs

from lambda_app.domain.models import reservation_window

STAGES = ("dev", "prod")
TARGETS = ("aws", "local")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# CloudWatch namespace of the EMF metrics (lambda_app/observability/metrics.py); the stage is
# part of it so dev traffic never shows up on prod's alarms and dashboard.
METRICS_NAMESPACE_PREFIX = "OrderService"
DEFAULT_CORS_ORIGINS = {"dev": ("http://localhost:3000",), "prod": ()}


def _split(value: Any) -> tuple[str, ...]:
    """A context value given as ``"a,b"`` on the command line or as a JSON list in cdk.json."""
    if value is None:
        return ()
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(item.strip() for item in items if str(item).strip())


def _flag(value: Any, key: str) -> bool:
    """A boolean context value: ``-c key=true`` arrives as a string, cdk.json may hold a bool."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ValueError(f"context {key!r} must be true or false, got {value!r}")


@dataclass(frozen=True)
class StageConfig:
    stage: str
    cors_origins: tuple[str, ...]
    jwt_issuer: str | None = None
    jwt_audience: tuple[str, ...] = ()
    snapstart: bool = False
    alarm_email: str | None = None
    log_level: str = "INFO"
    target: str = "aws"
    reservation_minutes: int = 30
    allow_missing_bytecode: bool = False

    @property
    def is_local(self) -> bool:
        return self.target == "local"

    @property
    def asset_platform(self) -> str:
        """The CPU the Lambda asset's binary wheels are built for: Graviton (aarch64) in AWS.
        Local switch: the emulator runs functions on this machine's own interpreter, so the asset
        must carry wheels for this machine's CPU (an aarch64 pydantic_core does not load on an
        x86_64 host)."""
        if self.is_local:
            return "aarch64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
        return "aarch64"

    @property
    def metric_math_alarms(self) -> bool:
        """Whether alarms on metric math (a rate, a sum over several metrics) are created.
        Local switch: MiniStack cannot create an alarm whose metric is an expression
        (CREATE_FAILED, and the whole stack rolls back), so the local stack goes without those
        alarms; the alarms on single metrics, the topic and the dashboard are still there."""
        return not self.is_local

    @property
    def is_prod(self) -> bool:
        return self.stage == "prod"

    @property
    def requires_bytecode(self) -> bool:
        """Prod refuses an asset without bytecode (every cold start would compile every module)
        unless told otherwise; dev only warns (infra/bundling.py: no_bytecode)."""
        return self.is_prod and not self.allow_missing_bytecode

    @property
    def stack_name(self) -> str:
        return f"{self.stage}-order-service"

    def name(self, suffix: str) -> str:
        """A physical name prefixed by the stage, e.g. ``dev-orders-api``."""
        return f"{self.stage}-orders-{suffix}"

    @property
    def metrics_namespace(self) -> str:
        """``METRICS_NAMESPACE`` of both functions, and the namespace alarms and dashboard read."""
        return f"{METRICS_NAMESPACE_PREFIX}/{self.stage}"

    @property
    def removal_policy(self) -> cdk.RemovalPolicy:
        return cdk.RemovalPolicy.RETAIN if self.is_prod else cdk.RemovalPolicy.DESTROY

    @property
    def deletion_protection(self) -> bool:
        return self.is_prod

    @property
    def point_in_time_recovery(self) -> bool:
        # Also on in dev: it costs ~20% of storage (cents on a dev table) and keeps dev == prod.
        return True

    @property
    def log_retention(self) -> logs.RetentionDays:
        return logs.RetentionDays.THREE_MONTHS if self.is_prod else logs.RetentionDays.ONE_WEEK

    @property
    def throttle_rate_limit(self) -> float:
        """Steady-state requests per second for the default route (API Gateway stage)."""
        return 200 if self.is_prod else 20

    @property
    def throttle_burst_limit(self) -> int:
        return 400 if self.is_prod else 40

    @property
    def uses_cognito(self) -> bool:
        return self.jwt_issuer is None

    @classmethod
    def from_context(cls, node: Any) -> StageConfig:
        """Build from a construct node (``app.node``): ``node.try_get_context(key)``."""
        stage = str(node.try_get_context("stage") or "dev").strip()
        if stage not in STAGES:
            raise ValueError(f"context 'stage' must be one of {STAGES}, got {stage!r}")
        cors = node.try_get_context("cors_origins")
        origins = DEFAULT_CORS_ORIGINS[stage] if cors is None else _split(cors)
        if "*" in origins and stage == "prod":
            raise ValueError("cors_origins '*' is not allowed in prod: list the origins")
        issuer = node.try_get_context("jwt_issuer") or None
        audience = _split(node.try_get_context("jwt_audience"))
        if issuer and not audience:
            raise ValueError("context 'jwt_issuer' needs 'jwt_audience' (comma-separated)")
        if audience and not issuer:
            raise ValueError("context 'jwt_audience' is only used together with 'jwt_issuer'")
        if issuer and not str(issuer).startswith("https://"):
            raise ValueError("context 'jwt_issuer' must be an https:// URL")
        email = str(node.try_get_context("alarm_email") or "").strip() or None
        if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            raise ValueError(f"context 'alarm_email' is not an email address: {email!r}")
        log_level = str(node.try_get_context("log_level") or "INFO").strip().upper()
        if log_level not in LOG_LEVELS:
            raise ValueError(f"context 'log_level' must be one of {LOG_LEVELS}, got {log_level!r}")
        minutes = _reservation_minutes(node.try_get_context("reservation_minutes"))
        target = str(node.try_get_context("target") or "aws").strip()
        if target not in TARGETS:
            raise ValueError(f"context 'target' must be one of {TARGETS}, got {target!r}")
        return cls(
            target=target,
            stage=stage,
            cors_origins=origins,
            jwt_issuer=str(issuer) if issuer else None,
            jwt_audience=audience,
            snapstart=_flag(node.try_get_context("snapstart"), "snapstart"),
            alarm_email=email,
            log_level=log_level,
            reservation_minutes=minutes,
            allow_missing_bytecode=_flag(
                node.try_get_context("allow_missing_bytecode"), "allow_missing_bytecode"
            ),
        )


def _reservation_minutes(value: Any) -> int:
    """``-c reservation_minutes=15`` (a string) or a number in cdk.json; checked at synth, so a
    bad value never reaches a deployed function."""
    if value is None:
        return StageConfig.reservation_minutes
    return reservation_window(value, "context 'reservation_minutes'") // timedelta(minutes=1)

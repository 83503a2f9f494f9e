"""Small patches to moto's service models that the deployed stack needs to show through.

- CloudFront origins keep `OriginAccessControlId` and `S3OriginConfig`, which
  moto 5.2.5 parses but never returns.
- CloudFront distributions report `InProgress` for a configurable time after
  each create or update (moto jumps straight to `Deployed`).
- CloudFront invalidations report `InProgress` for a configurable time, or
  while a hold is on (`INVALIDATION_TIMING`), then `Completed` (moto answers
  `COMPLETED` at once).
- Lambda functions return the `LoggingConfig` they were deployed with.
- Policy statements whose `Condition` does not match are neutral, as in IAM;
  moto 5.2.5 denies instead, so any conditional Deny (the TLS-only bucket
  policies pixelctl and the template set) locks everyone out. Requests count
  as `aws:SecureTransport` true, since real AWS endpoints are HTTPS.
- Conditional PutObject (`If-Match`, `If-None-Match`) is atomic, as in S3:
  moto checks and then writes, so two racing writers could both succeed.
- GetBucketVersioning answers S3's `<VersioningConfiguration>` document; moto
  5.2.5 names the root `<GetBucketVersioningResponse>`, which strict clients
  (the Rust SDK) refuse.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.cloudfront.models import CloudFrontBackend, Distribution, Invalidation, Origin
from moto.iam import policy_conditions
from moto.s3.responses import S3Response
from moto.iam.access_control import IAMPolicyStatement, PermissionResult


class CloudFrontTiming:
    """How long a changed distribution stays `InProgress` (seconds, runtime-adjustable)."""

    def __init__(self) -> None:
        self.deploy_seconds = 0.0


CLOUDFRONT_TIMING = CloudFrontTiming()


class InvalidationTiming:
    """How long a new invalidation stays `InProgress`, and the hold that keeps new ones there.

    `hold()` makes every invalidation created from then on wait for
    `release()`, so a test sees `InProgress` without depending on time.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.lock = threading.Lock()
        self.gate: threading.Event | None = None

    def hold(self) -> None:
        with self.lock:
            if self.gate is None:
                self.gate = threading.Event()

    def release(self) -> None:
        with self.lock:
            if self.gate is not None:
                self.gate.set()
                self.gate = None

    def stamp(self, invalidation: Invalidation) -> None:
        with self.lock:
            invalidation.local_aws_gate = self.gate
        invalidation.local_aws_ready_at = time.monotonic() + self.seconds


INVALIDATION_TIMING = InvalidationTiming()


def _origin_init(original: Any) -> Any:
    def init(self: Origin, origin: dict[str, Any]) -> None:
        original(self, origin)
        self.origin_access_control_id = origin.get("OriginAccessControlId", "")
        if "S3OriginConfig" in origin:
            self.s3_origin_config = {
                "OriginAccessIdentity": origin["S3OriginConfig"].get("OriginAccessIdentity", "")
            }

    return init


def _distribution_status(self: Distribution) -> str:
    ready_at = getattr(self, "local_aws_ready_at", 0.0)
    return "InProgress" if time.monotonic() < ready_at else "Deployed"


def _stamp(original: Any) -> Any:
    def wrapper(self: CloudFrontBackend, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        result[0].local_aws_ready_at = time.monotonic() + CLOUDFRONT_TIMING.deploy_seconds
        return result

    return wrapper


def _invalidation_init(original: Any) -> Any:
    def init(self: Invalidation, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        INVALIDATION_TIMING.stamp(self)

    return init


def _invalidation_status(self: Invalidation) -> str:
    gate = getattr(self, "local_aws_gate", None)
    if gate is not None and not gate.is_set():
        return "InProgress"
    return "InProgress" if time.monotonic() < getattr(self, "local_aws_ready_at", 0.0) else "Completed"


def _ignore_status(self: Invalidation, value: str) -> None:
    """moto's constructor writes `COMPLETED`; the status is derived from the timing instead."""


def _lambda_configuration(original: Any) -> Any:
    def get_configuration(self: LambdaFunction, *args: Any, **kwargs: Any) -> dict[str, Any]:
        config = original(self, *args, **kwargs)
        logging_config = getattr(self, "logging_config", None)
        if logging_config:
            config["LoggingConfig"] = logging_config
        return config

    return get_configuration


def _bool_operation(expected: Any, actual: str) -> bool:
    """IAM's `Bool` condition operator, which moto 5.2.5 ignores (so it always matched)."""
    wanted = expected if isinstance(expected, list) else [expected]
    return str(actual).lower() in [str(value).lower() for value in wanted]


def _statement_permission(original: Any) -> Any:
    def is_action_permitted(
        self: IAMPolicyStatement,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, str] | None = None,
    ) -> PermissionResult:
        values = {"aws:SecureTransport": "true", **(incoming_condition_values or {})}
        result = original(self, action, resource, principal, values)
        conditional = bool(self._statement.get("Condition"))
        if result == PermissionResult.DENIED and conditional and not self._check_conditions(values):
            return PermissionResult.NEUTRAL
        return result

    return is_action_permitted


_CONDITIONAL_PUT = threading.Lock()


def _atomic_conditional_put(original: Any) -> Any:
    def put_object(self: S3Response) -> Any:
        if self.headers.get("If-Match") or self.headers.get("If-None-Match"):
            with _CONDITIONAL_PUT:
                return original(self)
        return original(self)

    return put_object


def _bucket_versioning(self: S3Response) -> Any:
    status = self.backend.get_bucket_versioning(self.bucket_name)
    inner = f"<Status>{status}</Status>" if status else ""
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}</VersioningConfiguration>')
    return 200, {"Content-Type": "application/xml"}, body


def install() -> None:
    """Apply all patches (idempotent per process: call once at start-up)."""
    Origin.__init__ = _origin_init(Origin.__init__)
    Distribution.status = property(_distribution_status)
    CloudFrontBackend.create_distribution_with_tags = _stamp(CloudFrontBackend.create_distribution_with_tags)
    CloudFrontBackend.update_distribution = _stamp(CloudFrontBackend.update_distribution)
    Invalidation.__init__ = _invalidation_init(Invalidation.__init__)
    Invalidation.status = property(_invalidation_status, _ignore_status)
    LambdaFunction.get_configuration = _lambda_configuration(LambdaFunction.get_configuration)
    IAMPolicyStatement.is_action_permitted = _statement_permission(IAMPolicyStatement.is_action_permitted)
    policy_conditions.CONDITION_OPERATIONS.setdefault("Bool", _bool_operation)
    S3Response.put_object = _atomic_conditional_put(S3Response.put_object)
    S3Response.get_bucket_versioning = _bucket_versioning

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
- Lambda's account concurrency quota (`LAMBDA_ACCOUNT`, setting
  `lambda_account_concurrency`, default 1000): `GetAccountSettings` answers it, and a
  reservation (`PutFunctionConcurrency`, a function's `ReservedConcurrentExecutions`)
  that would leave fewer than 10 unreserved executions fails with Lambda's message.
- `GetFunction`'s `Code.Location` is a presigned URL, as Lambda answers (moto gives the
  bucket key, which a client could mistake for something to compare).
- S3 faults on demand (`S3_FAULTS`, `POST /_local-aws/s3-faults`): a `PutObject` under a
  key prefix answers `409 ConditionalRequestConflict` without writing, or writes and then
  answers a 500, so the client retries a write that already happened.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from moto.awslambda import urls as lambda_urls
from moto.awslambda.exceptions import InvalidParameterValueException
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.cloudfront.models import CloudFrontBackend, Distribution, Invalidation, Origin
from moto.iam import policy_conditions
from moto.iam.access_control import IAMPolicyStatement, PermissionResult
from moto.s3.responses import S3Response


class Hold:
    """A gate that what is created or changed while it is on waits for: `hold()` arms
    it for what comes next, `release()` lets everything it caught go at once."""

    def __init__(self) -> None:
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

    def current(self) -> threading.Event | None:
        with self.lock:
            return self.gate


def _held(obj: object) -> bool:
    gate = getattr(obj, "local_aws_gate", None)
    return gate is not None and not gate.is_set()


class CloudFrontTiming(Hold):
    """How long a changed distribution stays `InProgress` (seconds, runtime-adjustable),
    and the hold that keeps distributions changed while it is on `InProgress` until released."""

    def __init__(self) -> None:
        super().__init__()
        self.deploy_seconds = 0.0


CLOUDFRONT_TIMING = CloudFrontTiming()


class InvalidationTiming(Hold):
    """How long a new invalidation stays `InProgress`, and the hold that keeps new ones there.

    `hold()` makes every invalidation created from then on wait for
    `release()`, so a test sees `InProgress` without depending on time.
    """

    def __init__(self) -> None:
        super().__init__()
        self.seconds = 0.0

    def stamp(self, invalidation: Invalidation) -> None:
        invalidation.local_aws_gate = self.current()  # type: ignore[attr-defined]  # read by _invalidation_status
        invalidation.local_aws_ready_at = time.monotonic() + self.seconds  # type: ignore[attr-defined]


INVALIDATION_TIMING = InvalidationTiming()


def _origin_init(original: Any) -> Any:
    def init(self: Origin, origin: dict[str, Any]) -> None:
        original(self, origin)
        self.origin_access_control_id = origin.get("OriginAccessControlId", "")  # type: ignore[attr-defined]  # moto drops it
        if "S3OriginConfig" in origin:
            self.s3_origin_config = {  # type: ignore[attr-defined]  # moto drops it
                "OriginAccessIdentity": origin["S3OriginConfig"].get("OriginAccessIdentity", "")
            }

    return init


def _distribution_status(self: Distribution) -> str:
    if _held(self):
        return "InProgress"
    ready_at = getattr(self, "local_aws_ready_at", 0.0)
    return "InProgress" if time.monotonic() < ready_at else "Deployed"


def _stamp(original: Any) -> Any:
    def wrapper(self: CloudFrontBackend, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        result[0].local_aws_ready_at = time.monotonic() + CLOUDFRONT_TIMING.deploy_seconds
        result[0].local_aws_gate = CLOUDFRONT_TIMING.current()
        return result

    return wrapper


def _invalidation_init(original: Any) -> Any:
    def init(self: Invalidation, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        INVALIDATION_TIMING.stamp(self)

    return init


def _invalidation_status(self: Invalidation) -> str:
    if _held(self):
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
        return cast("dict[str, Any]", config)

    return get_configuration


def _bool_operation(expected_value: list[str] | str, actual_value: str) -> bool:
    """IAM's `Bool` condition operator, which moto 5.2.5 ignores (so it always matched)."""
    # (named as moto's own operators are: CONDITION_OPERATIONS holds any of them)
    wanted = expected_value if isinstance(expected_value, list) else [expected_value]
    return str(actual_value).lower() in [str(value).lower() for value in wanted]


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
        return cast("PermissionResult", result)

    return is_action_permitted


_CONDITIONAL_PUT = threading.Lock()


def _atomic_conditional_put(original: Any) -> Any:
    def put_object(self: S3Response) -> Any:
        if self.headers.get("If-Match") or self.headers.get("If-None-Match"):
            with _CONDITIONAL_PUT:
                return original(self)
        return original(self)

    return put_object


class LambdaAccount:
    """The account's concurrent executions quota, per region (one setting for all)."""

    MINIMUM_UNRESERVED = 10

    def __init__(self) -> None:
        self.concurrency_limit = 1000

    def unreserved(self, backend: LambdaBackend, leaving_out: str | None = None) -> int:
        reserved = sum(int(fn.reserved_concurrency) for fn in backend.list_functions()
                       if fn.reserved_concurrency and fn.function_name != leaving_out)
        return self.concurrency_limit - reserved

    def check(self, backend: LambdaBackend, function_name: str, wanted: int | None) -> None:
        """Refuses a reservation that leaves fewer than 10 executions unreserved, as Lambda does."""
        if wanted is None:
            return
        if self.unreserved(backend, function_name) - int(wanted) < self.MINIMUM_UNRESERVED:
            raise InvalidParameterValueException(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{self.MINIMUM_UNRESERVED}]."
            )


LAMBDA_ACCOUNT = LambdaAccount()


def _put_function_concurrency(self: LambdaBackend, function_name: str, reserved_concurrency: str) -> str:
    fn = self.get_function(function_name)
    LAMBDA_ACCOUNT.check(self, fn.function_name, int(reserved_concurrency))
    fn.reserved_concurrency = reserved_concurrency
    return fn.reserved_concurrency


def _get_account_settings(self: LambdaResponse) -> str:
    backend = self.backend
    functions = list(backend.list_functions())
    code_size = sum(int(getattr(fn, "code_size", 0) or 0) for fn in functions)
    return json.dumps({
        "AccountLimit": {
            "TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800,
            "ConcurrentExecutions": LAMBDA_ACCOUNT.concurrency_limit,
            "UnreservedConcurrentExecutions": LAMBDA_ACCOUNT.unreserved(backend),
        },
        "AccountUsage": {"TotalCodeSize": code_size, "FunctionCount": len(functions)},
    })


def _presigned_code_location(original: Any) -> Any:
    def get_code(self: LambdaFunction) -> dict[str, Any]:
        code = original(self)
        if "Location" in code.get("Code", {}):
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            snapshot = f"snapshots/{self.account_id}/{self.function_name}-{uuid.uuid4()}"
            code["Code"]["Location"] = (
                f"https://awslambda-{self.region}-tasks.s3.{self.region}.amazonaws.com/{snapshot}"
                f"?versionId={uuid.uuid4().hex}&X-Amz-Security-Token=local&X-Amz-Algorithm=AWS4-HMAC-SHA256"
                f"&X-Amz-Date={stamp}&X-Amz-SignedHeaders=host&X-Amz-Expires=600"
                f"&X-Amz-Credential=ASIALOCAL%2F{stamp[:8]}%2F{self.region}%2Fs3%2Faws4_request"
                f"&X-Amz-Signature={uuid.uuid4().hex}{uuid.uuid4().hex}"
            )
        return cast("dict[str, Any]", code)

    return get_code


@dataclass
class S3Fault:
    """An injected S3 fault on PutObject for keys under `prefix`, `times` times."""

    prefix: str
    fault: str  # "conflict" | "lost_response"
    times: int
    bucket: str | None = None


class S3Faults:
    """The armed S3 faults (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.faults: list[S3Fault] = []

    def arm(self, fault: S3Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()

    def take(self, bucket: str, key: str) -> str | None:
        with self.lock:
            for fault in self.faults:
                if key.startswith(fault.prefix) and fault.bucket in (None, bucket) and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                    return fault.fault
        return None


S3_FAULTS = S3Faults()


def _s3_error(status: int, code: str, message: str) -> Any:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>")
    return status, {"Content-Type": "application/xml"}, body


def _faulty_put(original: Any) -> Any:
    def put_object(self: S3Response) -> Any:
        key = self.parse_key_name() if hasattr(self, "parse_key_name") else ""
        fault = S3_FAULTS.take(self.bucket_name, key) if self.bucket_name and key else None
        if fault == "conflict":
            return _s3_error(409, "ConditionalRequestConflict", "A conflicting conditional operation is currently "
                             "in progress against this resource. Please try again.")
        answer = original(self)
        if fault == "lost_response":
            return _s3_error(500, "InternalError", "We encountered an internal error. Please try again.")
        return answer

    return put_object


def _bucket_versioning(self: S3Response) -> Any:
    status = self.backend.get_bucket_versioning(self.bucket_name)
    inner = f"<Status>{status}</Status>" if status else ""
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}</VersioningConfiguration>')
    return 200, {"Content-Type": "application/xml"}, body


def _patch(owner: type, name: str, value: Any) -> None:
    """Replace a moto class attribute (setattr: mypy rightly refuses assigning to a method)."""
    setattr(owner, name, value)


def install() -> None:
    """Apply all patches (idempotent per process: call once at start-up)."""
    _patch(Origin, "__init__", _origin_init(Origin.__init__))
    _patch(Distribution, "status", property(_distribution_status))
    _patch(CloudFrontBackend, "create_distribution_with_tags", _stamp(CloudFrontBackend.create_distribution_with_tags))
    _patch(CloudFrontBackend, "update_distribution", _stamp(CloudFrontBackend.update_distribution))
    _patch(Invalidation, "__init__", _invalidation_init(Invalidation.__init__))
    _patch(Invalidation, "status", property(_invalidation_status, _ignore_status))
    _patch(LambdaFunction, "get_configuration", _lambda_configuration(LambdaFunction.get_configuration))
    _patch(IAMPolicyStatement, "is_action_permitted", _statement_permission(IAMPolicyStatement.is_action_permitted))
    policy_conditions.CONDITION_OPERATIONS.setdefault("Bool", _bool_operation)
    _patch(S3Response, "put_object", _faulty_put(_atomic_conditional_put(S3Response.put_object)))
    _patch(S3Response, "get_bucket_versioning", _bucket_versioning)
    _patch(LambdaBackend, "put_function_concurrency", _put_function_concurrency)
    _patch(LambdaResponse, "get_account_settings", _get_account_settings)
    lambda_urls.url_paths[r"{0}/(?P<api_version>[^/]+)/account-settings/?$"] = LambdaResponse.dispatch
    _patch(LambdaFunction, "get_code", _presigned_code_location(LambdaFunction.get_code))

"""Small patches to moto's service models that the deployed stack needs to show through.

- CloudFront origins keep `OriginAccessControlId` and `S3OriginConfig`, which
  moto 5.2.5 parses but never returns.
- CloudFront distributions report `InProgress` for a configurable time after
  each create or update (moto jumps straight to `Deployed`).
- Lambda functions return the `LoggingConfig` they were deployed with.
"""

from __future__ import annotations

import time
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.cloudfront.models import CloudFrontBackend, Distribution, Origin


class CloudFrontTiming:
    """How long a changed distribution stays `InProgress` (seconds, runtime-adjustable)."""

    def __init__(self) -> None:
        self.deploy_seconds = 0.0


CLOUDFRONT_TIMING = CloudFrontTiming()


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


def _lambda_configuration(original: Any) -> Any:
    def get_configuration(self: LambdaFunction, *args: Any, **kwargs: Any) -> dict[str, Any]:
        config = original(self, *args, **kwargs)
        logging_config = getattr(self, "logging_config", None)
        if logging_config:
            config["LoggingConfig"] = logging_config
        return config

    return get_configuration


def install() -> None:
    """Apply all patches (idempotent per process: call once at start-up)."""
    Origin.__init__ = _origin_init(Origin.__init__)
    Distribution.status = property(_distribution_status)
    CloudFrontBackend.create_distribution_with_tags = _stamp(CloudFrontBackend.create_distribution_with_tags)
    CloudFrontBackend.update_distribution = _stamp(CloudFrontBackend.update_distribution)
    LambdaFunction.get_configuration = _lambda_configuration(LambdaFunction.get_configuration)

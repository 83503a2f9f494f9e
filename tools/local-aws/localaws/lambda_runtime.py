"""The local AWS runs Lambda functions: `Invoke` starts the deployed `bootstrap`.

Skeleton of the public interface (the implementation follows): other modules
(the API Gateway data plane) call `RUNTIME.invoke` and
`RUNTIME.function_policy_allows`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class InvokeResult:
    """What an invocation answered."""

    payload: bytes  # the function's answer, or the error JSON
    function_error: str | None  # "Unhandled" when the function failed, else None
    log_tail: str  # the invocation's log lines
    executed_version: str = "$LATEST"


class TooManyRequests(Exception):
    """The function's concurrency is exhausted (a sync invoke answers 429)."""


class FunctionNotFound(Exception):
    """No such function (404 `ResourceNotFoundException`)."""


@dataclass
class LambdaRuntime:
    """Runs functions' instances (skeleton)."""

    extra_env: dict[str, str] = field(default_factory=dict)

    def invoke(
        self,
        account_id: str,
        region: str,
        function: str,
        payload: bytes,
        invocation_type: str = "RequestResponse",
        wait_timeout: float | None = None,
    ) -> InvokeResult:
        raise NotImplementedError("lambda_runtime: invoke is being written")

    def function_policy_allows(
        self, account_id: str, region: str, function: str, principal_service: str, source_arn: str
    ) -> bool:
        raise NotImplementedError("lambda_runtime: function_policy_allows is being written")

    def shutdown(self) -> None:
        return None


RUNTIME = LambdaRuntime()

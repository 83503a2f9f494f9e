"""AWS::IAM::Role, AWS::Logs::LogGroup, AWS::Lambda::Function, AWS::Lambda::Permission and
AWS::Lambda::EventInvokeConfig (which `lambda_runtime` applies to Event invokes)."""

from __future__ import annotations

import json
from typing import Any

from moto.awslambda.models import LambdaBackend
from moto.awslambda.utils import get_backend as lambda_backend
from moto.core.exceptions import JsonRESTError
from moto.iam.models import IAMBackend, iam_backends
from moto.logs.models import LogsBackend, logs_backends

from ..moto_patches import LAMBDA_ACCOUNT
from . import Context, Created, ResourceFailure, ResourceHandler, tag_dict


def _iam(ctx: Context) -> IAMBackend:
    return iam_backends[ctx.account_id][ctx.partition]


def _logs(ctx: Context) -> LogsBackend:
    return logs_backends[ctx.account_id][ctx.region]


def _lambda(ctx: Context) -> LambdaBackend:
    """The backend the Lambda API serves: moto swaps it when Docker is off."""
    return lambda_backend(ctx.account_id, ctx.region)


def _json_text(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


class RoleHandler(ResourceHandler):
    type_name = "AWS::IAM::Role"
    attribute_names = frozenset({"Arn", "RoleId"})
    create_only = frozenset({"RoleName", "Path"})

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        name = props.get("RoleName") or ctx.generated_name(64)
        role = _iam(ctx).create_role(
            role_name=name,
            assume_role_policy_document=_json_text(props["AssumeRolePolicyDocument"]),
            path=props.get("Path", "/"),
            permissions_boundary=props.get("PermissionsBoundary"),
            description=props.get("Description", ""),
            tags=[{"Key": k, "Value": v} for k, v in tag_dict(props.get("Tags")).items()],
            max_session_duration=props.get("MaxSessionDuration"),
        )
        self._sync_policies(ctx, name, {}, props)
        return Created(name, {"Arn": role.arn, "RoleId": role.id})

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        backend = _iam(ctx)
        backend.update_assume_role_policy(physical_id, _json_text(new["AssumeRolePolicyDocument"]))
        role = backend.get_role(physical_id)
        role.description = new.get("Description", "")
        role.tags = [{"Key": k, "Value": v} for k, v in tag_dict(new.get("Tags")).items()]
        self._sync_policies(ctx, physical_id, old, new)
        return {"Arn": role.arn, "RoleId": role.id}

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        backend = _iam(ctx)
        if physical_id not in {role.name for role in backend.roles.values()}:
            return
        for policy_name in backend.list_role_policies(physical_id):
            backend.delete_role_policy(physical_id, policy_name)
        for arn in props.get("ManagedPolicyArns", []):
            backend.detach_role_policy(arn, physical_id)
        backend.delete_role(physical_id)

    @staticmethod
    def _sync_policies(ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        backend = _iam(ctx)
        wanted = {p["PolicyName"]: p["PolicyDocument"] for p in new.get("Policies", [])}
        for policy_name in backend.list_role_policies(name):
            if policy_name not in wanted:
                backend.delete_role_policy(name, policy_name)
        for policy_name, document in wanted.items():
            backend.put_role_policy(name, policy_name, _json_text(document))
        old_arns = set(old.get("ManagedPolicyArns", []))
        new_arns = set(new.get("ManagedPolicyArns", []))
        for arn in old_arns - new_arns:
            backend.detach_role_policy(arn, name)
        for arn in new_arns - old_arns:
            backend.attach_role_policy(arn, name)


class LogGroupHandler(ResourceHandler):
    type_name = "AWS::Logs::LogGroup"
    attribute_names = frozenset({"Arn"})
    create_only = frozenset({"LogGroupName"})

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        name = props.get("LogGroupName") or ctx.generated_name(512)
        backend = _logs(ctx)
        backend.create_log_group(name, tag_dict(props.get("Tags")))
        if "RetentionInDays" in props:
            backend.put_retention_policy(name, int(props["RetentionInDays"]))  # type: ignore[arg-type]  # moto annotates days as str but compares ints
        return Created(name, self._attributes(ctx, name))

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        backend = _logs(ctx)
        if "RetentionInDays" in new:
            backend.put_retention_policy(physical_id, int(new["RetentionInDays"]))  # type: ignore[arg-type]  # moto annotates days as str but compares ints
        else:
            backend.delete_retention_policy(physical_id)
        group = backend.groups[physical_id]
        backend.untag_resource(group.arn, list(backend.list_tags_for_resource(group.arn)))
        backend.tag_resource(group.arn, tag_dict(new.get("Tags")))
        return self._attributes(ctx, physical_id)

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        _logs(ctx).groups.pop(physical_id, None)

    @staticmethod
    def _attributes(ctx: Context, name: str) -> dict[str, Any]:
        return {"Arn": f"arn:{ctx.partition}:logs:{ctx.region}:{ctx.account_id}:log-group:{name}:*"}


_CONFIG_KEYS = ["Description", "Handler", "MemorySize", "Role", "Runtime", "Timeout", "Environment", "Layers"]


class FunctionHandler(ResourceHandler):
    type_name = "AWS::Lambda::Function"
    attribute_names = frozenset({"Arn"})
    create_only = frozenset({"FunctionName", "PackageType"})

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        name = props.get("FunctionName") or ctx.generated_name(64)
        spec = _typed_function_props({k: v for k, v in props.items() if k != "Tags"})
        spec["FunctionName"] = name
        spec["Tags"] = tag_dict(props.get("Tags"))
        try:
            # Lambda keeps 10 of the account's executions unreserved.
            LAMBDA_ACCOUNT.check(_lambda(ctx), name, spec.get("ReservedConcurrentExecutions"))
            function = _lambda(ctx).create_function(spec)
        except (JsonRESTError, ValueError) as err:
            raise _failure(err) from err
        function.logging_config = props.get("LoggingConfig")  # type: ignore[attr-defined]  # read back by moto_patches
        return Created(name, {"Arn": function.function_arn})

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        backend = _lambda(ctx)
        old, new = _typed_function_props(old), _typed_function_props(new)
        if new.get("ReservedConcurrentExecutions") != old.get("ReservedConcurrentExecutions"):
            try:
                LAMBDA_ACCOUNT.check(backend, physical_id, new.get("ReservedConcurrentExecutions"))
            except (JsonRESTError, ValueError) as err:
                raise _failure(err) from err
        changed = {k: new[k] for k in _CONFIG_KEYS if k in new and new.get(k) != old.get(k)}
        if "Environment" in old and "Environment" not in new:
            changed["Environment"] = {"Variables": {}}
        if changed:
            backend.update_function_configuration(physical_id, None, changed)  # type: ignore[arg-type]  # moto's annotation omits None (no qualifier)
        if new["Code"] != old.get("Code"):
            try:
                backend.update_function_code(physical_id, None, dict(new["Code"]))  # type: ignore[arg-type]  # moto's annotation omits None (no qualifier)
            except (JsonRESTError, ValueError) as err:
                raise _failure(err) from err
        function = backend.get_function(physical_id)
        function.reserved_concurrency = new.get("ReservedConcurrentExecutions")
        function.architectures = new.get("Architectures", ["x86_64"])
        function.logging_config = new.get("LoggingConfig")  # type: ignore[attr-defined]  # read back by moto_patches
        function.tags = tag_dict(new.get("Tags"))
        return {"Arn": function.function_arn}

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        backend = _lambda(ctx)
        if physical_id in {f.function_name for f in backend.list_functions()}:
            backend.delete_function(physical_id)


def _typed_function_props(props: dict[str, Any]) -> dict[str, Any]:
    """Number parameters arrive as strings; the Lambda API wants integers."""
    typed = dict(props)
    for key in ("MemorySize", "Timeout", "ReservedConcurrentExecutions"):
        if key in typed:
            typed[key] = int(typed[key])
    return typed


def _failure(err: Exception) -> ResourceFailure:
    message = getattr(err, "message", None) or " ".join(str(a) for a in err.args)
    return ResourceFailure(f"Resource handler returned message: \"{message}\"")


class PermissionHandler(ResourceHandler):
    type_name = "AWS::Lambda::Permission"
    create_only = frozenset(
        {"Action", "FunctionName", "Principal", "SourceArn", "SourceAccount", "EventSourceToken", "FunctionUrlAuthType", "PrincipalOrgID"}
    )

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        statement_id = ctx.generated_name(100)
        raw = {k: v for k, v in props.items() if k != "FunctionName"}
        raw["StatementId"] = statement_id
        _lambda(ctx).add_permission(props["FunctionName"], None, json.dumps(raw))  # type: ignore[arg-type]  # moto's annotation omits None (no qualifier)
        return Created(statement_id, {})

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        return {}

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        backend = _lambda(ctx)
        try:
            backend.remove_permission(props["FunctionName"], physical_id)
        except Exception:  # noqa: BLE001 - function or statement already gone
            return


_INVOKE_CONFIG_KEYS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")


class EventInvokeConfigHandler(ResourceHandler):
    """Retries and destinations of a function's asynchronous invocations."""

    type_name = "AWS::Lambda::EventInvokeConfig"
    create_only = frozenset({"FunctionName", "Qualifier"})

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        self._put(ctx, props)
        return Created(f"{props['FunctionName']}:{props.get('Qualifier', '$LATEST')}", {})

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        self._put(ctx, new)
        return {}

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        backend = _lambda(ctx)
        if props["FunctionName"] in {f.function_name for f in backend.list_functions()}:
            backend.get_function(props["FunctionName"]).event_invoke_config = []

    @staticmethod
    def _put(ctx: Context, props: dict[str, Any]) -> None:
        config: dict[str, Any] = {k: props[k] for k in _INVOKE_CONFIG_KEYS if k in props}
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in config:
                config[key] = int(config[key])
        backend = _lambda(ctx)
        try:
            backend.get_function(props["FunctionName"]).event_invoke_config = []
            backend.put_function_event_invoke_config(props["FunctionName"], config)
        except (JsonRESTError, ValueError) as err:
            raise _failure(err) from err


HANDLERS = [RoleHandler(), LogGroupHandler(), FunctionHandler(), PermissionHandler(), EventInvokeConfigHandler()]

"""CloudFormation API actions served by the deploy engine instead of moto's stack code.

Each function replaces (or adds) one action on moto's `CloudFormationResponse`,
reads the request with moto's parameter parsing, calls `engine.ENGINE` under
its lock, and returns an `ActionResult` that moto serializes per the botocore
model. Stack sets, ValidateTemplate and exports stay moto's own.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any

from moto.cloudformation.exceptions import CloudFormationError
from moto.cloudformation.responses import (
    CloudFormationResponse,
    get_template_summary_response_from_template,
)
from moto.core.responses import ActionResult, EmptyResult

from .engine import ENGINE, CfnError, ChangeSetRequest
from .paging import InvalidToken, page
from .stack_policy import PolicyError, parse
from .stacks import (
    change_set_description,
    change_set_summary,
    resource_description,
    stack_description,
    stack_summary,
)

Action = Callable[[CloudFormationResponse], ActionResult]
_ACTIONS: dict[str, Action] = {}
_OWN_TRANSFORMERS = (
    "DescribeChangeSetOutput.Changes",
    "DescribeChangeSetOutput.Parameters",
    "DescribeStacksOutput.Stacks.Stack.Tags",
)


def action(func: Action) -> Action:
    """Register `func` as the handler of the action of the same name, under the engine lock."""

    @functools.wraps(func)
    def wrapper(response: CloudFormationResponse) -> ActionResult:
        try:
            with ENGINE.lock:
                return func(response)
        except CfnError as err:
            raise CloudFormationError(err.code, err.message) from err
        except InvalidToken as err:
            raise CloudFormationError("ValidationError", str(err)) from err

    _ACTIONS[func.__name__] = wrapper
    return wrapper


def install() -> None:
    """Patch moto's CloudFormationResponse with the engine-backed actions."""
    for name, handler in _ACTIONS.items():
        setattr(CloudFormationResponse, name, handler)
    transformers = dict(CloudFormationResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER)
    for key in _OWN_TRANSFORMERS:
        transformers.pop(key, None)
    CloudFormationResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER = transformers


def _scope(r: CloudFormationResponse) -> tuple[str, str]:
    return r.current_account, r.region


def _template_body(r: CloudFormationResponse) -> str | None:
    url = r._get_param("TemplateURL")
    return r._get_stack_from_s3_url(url) if url else r._get_param("TemplateBody")


def _tags(r: CloudFormationResponse) -> dict[str, str] | None:
    tags = r._get_param("Tags")
    return {t["Key"]: t["Value"] for t in tags} if tags else None


def _change_set_request(r: CloudFormationResponse, change_set_type: str, name: str) -> ChangeSetRequest:
    return ChangeSetRequest(
        stack_name=r._get_param("StackName"),
        change_set_name=name,
        change_set_type=change_set_type,
        template_body=_template_body(r),
        use_previous_template=r._get_bool_param("UsePreviousTemplate", False),
        parameters=r._get_param("Parameters", []),
        capabilities=r._get_param("Capabilities", []),
        tags=_tags(r),
        description=r._get_param("Description"),
        notification_arns=r._get_param("NotificationARNs", []),
        deployment_config=_deployment_config(r),
    )


def _deployment_config(r: CloudFormationResponse) -> dict[str, Any] | None:
    """CreateChangeSet's DeploymentConfig, as AWS reports it back (Mode upper-case)."""
    config = r._get_param("DeploymentConfig")
    if not config:
        return None
    mode = str(config.get("Mode", "STANDARD")).upper()
    if mode not in ("EXPRESS", "STANDARD"):
        raise CfnError("ValidationError", f"DeploymentConfig.Mode '{mode}' must be EXPRESS or STANDARD")
    out: dict[str, Any] = {"Mode": mode}
    if "DisableRollback" in config:
        out["DisableRollback"] = str(config["DisableRollback"]).lower() == "true"
    return out


@action
def create_change_set(r: CloudFormationResponse) -> ActionResult:
    request = _change_set_request(r, r._get_param("ChangeSetType", "UPDATE"), r._get_param("ChangeSetName"))
    change_set = ENGINE.create_change_set(*_scope(r), request)
    return ActionResult({"Id": change_set.change_set_id, "StackId": change_set.stack.stack_id})


@action
def describe_change_set(r: CloudFormationResponse) -> ActionResult:
    change_set = ENGINE.find_change_set(*_scope(r), r._get_param("ChangeSetName"), r._get_param("StackName"))
    described = change_set_description(change_set, r._get_bool_param("IncludePropertyValues", False))
    changes, token = page(described["Changes"], lambda c: str(c["ResourceChange"]["LogicalResourceId"]),
                          r._get_param("NextToken"))
    described["Changes"] = changes
    return ActionResult(_with_token(described, token))


@action
def execute_change_set(r: CloudFormationResponse) -> ActionResult:
    change_set = ENGINE.find_change_set(*_scope(r), r._get_param("ChangeSetName"), r._get_param("StackName"))
    # Not stated: the change set's deployment mode decides (express: no rollback).
    stated = r._get_param("DisableRollback")
    ENGINE.execute_change_set(change_set, r._get_param("ClientRequestToken"),
                              None if stated is None else r._get_bool_param("DisableRollback", False))
    return EmptyResult()


@action
def delete_change_set(r: CloudFormationResponse) -> ActionResult:
    change_set = ENGINE.find_change_set(*_scope(r), r._get_param("ChangeSetName"), r._get_param("StackName"))
    ENGINE.delete_change_set(change_set)
    return EmptyResult()


@action
def list_change_sets(r: CloudFormationResponse) -> ActionResult:
    change_sets = ENGINE.list_change_sets(*_scope(r), r._get_param("StackName"))
    listed, token = page(change_sets, lambda c: c.change_set_id, r._get_param("NextToken"))
    return ActionResult(_with_token({"Summaries": [change_set_summary(c) for c in listed]}, token))


@action
def create_stack(r: CloudFormationResponse) -> ActionResult:
    name = r._get_param("StackName")
    if any(s.name == name and s.status != "DELETE_COMPLETE" for s in ENGINE.list_stacks(*_scope(r))):
        raise CfnError("AlreadyExistsException", f"Stack [{name}] already exists")
    change_set = ENGINE.create_change_set(*_scope(r), _change_set_request(r, "CREATE", _direct_name()))
    stack = change_set.stack
    stack.termination_protection = r._get_bool_param("EnableTerminationProtection", False)
    _execute_direct(change_set, r)
    return ActionResult({"StackId": stack.stack_id})


@action
def update_stack(r: CloudFormationResponse) -> ActionResult:
    change_set = ENGINE.create_change_set(*_scope(r), _change_set_request(r, "UPDATE", _direct_name()))
    if change_set.status == "FAILED":
        ENGINE.delete_change_set(change_set)
        raise CfnError("ValidationError", "No updates are to be performed.")
    _execute_direct(change_set, r)
    return ActionResult({"StackId": change_set.stack.stack_id})


def _direct_name() -> str:
    return f"direct-{uuid.uuid4().hex}"


def _execute_direct(change_set: Any, r: CloudFormationResponse) -> None:
    """CreateStack/UpdateStack run through a change set that nobody sees."""
    ENGINE.execute_change_set(change_set, r._get_param("ClientRequestToken"),
                              r._get_bool_param("DisableRollback", False))
    ENGINE.change_sets.pop(change_set.change_set_id, None)


@action
def delete_stack(r: CloudFormationResponse) -> ActionResult:
    try:
        stack = ENGINE.find_stack(*_scope(r), r._get_param("StackName"))
    except CfnError:
        return EmptyResult()
    if stack.status != "DELETE_COMPLETE":
        ENGINE.delete_stack(stack, set(r._get_param("RetainResources", [])), r._get_param("ClientRequestToken"))
    return EmptyResult()


@action
def describe_stacks(r: CloudFormationResponse) -> ActionResult:
    name = r._get_param("StackName")
    if name:
        stacks = [ENGINE.find_stack(*_scope(r), name)]
    else:
        stacks = [s for s in ENGINE.list_stacks(*_scope(r)) if s.status != "DELETE_COMPLETE"]
    stacks, token = page(stacks, lambda s: s.stack_id, r._get_param("NextToken"))
    return ActionResult(_with_token({"Stacks": [stack_description(s) for s in stacks]}, token))


@action
def list_stacks(r: CloudFormationResponse) -> ActionResult:
    wanted = set(r._get_param("StackStatusFilter", []))
    stacks = [s for s in ENGINE.list_stacks(*_scope(r)) if not wanted or s.status in wanted]
    stacks, token = page(stacks, lambda s: s.stack_id, r._get_param("NextToken"))
    return ActionResult(_with_token({"StackSummaries": [stack_summary(s) for s in stacks]}, token))


@action
def describe_stack_events(r: CloudFormationResponse) -> ActionResult:
    stack = ENGINE.find_stack(*_scope(r), r._get_param("StackName"))
    newest_first = list(reversed(stack.events))
    listed, token = page(newest_first, lambda e: str(e["EventId"]), r._get_param("NextToken"))
    return ActionResult(_with_token({"StackEvents": listed}, token))


def _with_token(result: dict[str, Any], token: str | None) -> dict[str, Any]:
    """`result` with `NextToken` when there is a further page (paging.PAGING)."""
    return {**result, "NextToken": token} if token else result


@action
def describe_stack_resources(r: CloudFormationResponse) -> ActionResult:
    stack = ENGINE.find_stack(*_scope(r), r._get_param("StackName"))
    wanted = r._get_param("LogicalResourceId")
    resources = [res for lid, res in stack.resources.items() if wanted in (None, lid)]
    return ActionResult({"StackResources": [resource_description(stack, res) for res in resources]})


@action
def describe_stack_resource(r: CloudFormationResponse) -> ActionResult:
    stack = ENGINE.find_stack(*_scope(r), r._get_param("StackName"))
    logical_id = r._get_param("LogicalResourceId")
    if logical_id not in stack.resources:
        raise CfnError("ValidationError", f"Resource {logical_id} does not exist for stack {stack.name}")
    return ActionResult({"StackResourceDetail": resource_description(stack, stack.resources[logical_id])})


@action
def list_stack_resources(r: CloudFormationResponse) -> ActionResult:
    stack = ENGINE.find_stack(*_scope(r), r._get_param("StackName"))
    summaries = [resource_description(stack, res) for res in stack.resources.values()]
    return ActionResult({"StackResourceSummaries": summaries})


@action
def get_template(r: CloudFormationResponse) -> ActionResult:
    change_set_name = r._get_param("ChangeSetName")
    if change_set_name:
        body = ENGINE.find_change_set(*_scope(r), change_set_name, r._get_param("StackName")).template_body
    else:
        body = ENGINE.find_stack(*_scope(r), r._get_param("StackName")).template_body
    return ActionResult({"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]})


@action
def get_template_summary(r: CloudFormationResponse) -> ActionResult:
    name = r._get_param("StackName")
    body = ENGINE.find_stack(*_scope(r), name).template_body if name else _template_body(r)
    if not body:
        raise CfnError("ValidationError", "Either Template URL or Template Body must be specified.")
    return ActionResult(get_template_summary_response_from_template(body))


@action
def update_termination_protection(r: CloudFormationResponse) -> ActionResult:
    stack = ENGINE.find_stack(*_scope(r), r._get_param("StackName"))
    stack.termination_protection = r._get_bool_param("EnableTerminationProtection", False)
    return ActionResult({"StackId": stack.stack_id})


@action
def set_stack_policy(r: CloudFormationResponse) -> ActionResult:
    stack = ENGINE.find_stack(*_scope(r), r._get_param("StackName"))
    if r._get_param("StackPolicyURL"):
        raise CfnError("ValidationError", "StackPolicyURL is not supported by the local AWS: send StackPolicyBody")
    body = r._get_param("StackPolicyBody")
    if not body:
        raise CfnError("ValidationError", "Either StackPolicyBody or StackPolicyURL must be specified")
    try:
        parse(body)
    except PolicyError as err:
        raise CfnError("ValidationError", str(err)) from err
    stack.policy_body = body
    return EmptyResult()


@action
def get_stack_policy(r: CloudFormationResponse) -> ActionResult:
    stack = ENGINE.find_stack(*_scope(r), r._get_param("StackName"))
    return ActionResult({} if stack.policy_body is None else {"StackPolicyBody": stack.policy_body})


@action
def cancel_update_stack(r: CloudFormationResponse) -> ActionResult:
    ENGINE.cancel_update(ENGINE.find_stack(*_scope(r), r._get_param("StackName")))
    return EmptyResult()


@action
def continue_update_rollback(r: CloudFormationResponse) -> ActionResult:
    stack = ENGINE.find_stack(*_scope(r), r._get_param("StackName"))
    ENGINE.continue_update_rollback(stack, set(r._get_param("ResourcesToSkip", [])), r._get_param("ClientRequestToken"))
    return ActionResult({})

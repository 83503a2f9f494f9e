"""CloudFormation template language: parsing, parameters, conditions, intrinsics.

The deploy engine needs to resolve a template against a stack's parameters and
the physical ids/attributes of resources that already exist. This module knows
nothing about AWS services; it turns template text into plain data.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml

NO_VALUE = object()
"""Marker produced by `Ref AWS::NoValue`; removed from the resolved data."""

PENDING_PREFIX = "{{pending:"
"""Start of the placeholder a change-set preview uses for not-yet-known values."""

INTRINSIC_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "FindInMap": "Fn::FindInMap",
    "Base64": "Fn::Base64",
    "GetAZs": "Fn::GetAZs",
    "ImportValue": "Fn::ImportValue",
    "ToJsonString": "Fn::ToJsonString",
}


class TemplateError(Exception):
    """A template or parameter problem, reported to the caller as a ValidationError."""


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that understands the short intrinsic tags (`!Ref`, `!Sub`, ...)."""


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    key = INTRINSIC_TAGS.get(tag_suffix)
    if key is None:
        raise TemplateError(f"Unsupported YAML tag `!{tag_suffix}`")
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if key == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return {key: value}


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def parse_template(body: str) -> dict[str, Any]:
    """Parse a JSON or YAML template body into a dict with long-form intrinsics."""
    try:
        parsed = yaml.load(body, Loader=_CfnLoader)  # safe loader subclass
    except yaml.YAMLError as err:
        raise TemplateError(f"Template format error: {err}") from err
    if not isinstance(parsed, dict):
        raise TemplateError("Template format error: the template is not a mapping")
    if not isinstance(parsed.get("Resources"), dict) or not parsed["Resources"]:
        raise TemplateError(
            "Template format error: At least one Resources member must be defined."
        )
    return parsed


@dataclass
class ResolvedParameters:
    """Parameter values after defaults, plus which ones are NoEcho."""

    values: dict[str, Any]
    no_echo: set[str] = field(default_factory=set)

    def masked(self) -> list[dict[str, str]]:
        """The Parameters list as DescribeStacks shows it, NoEcho values masked."""
        return [
            {
                "ParameterKey": key,
                "ParameterValue": "****" if key in self.no_echo else _param_text(value),
            }
            for key, value in self.values.items()
        ]


def _param_text(value: Any) -> str:
    return ",".join(value) if isinstance(value, list) else str(value)


def resolve_parameters(template: dict[str, Any], given: dict[str, str]) -> ResolvedParameters:
    """Apply defaults and constraints; reject unknown or missing parameters like AWS."""
    declared = template.get("Parameters") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise TemplateError(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    missing = [k for k, spec in declared.items() if k not in given and "Default" not in spec]
    if missing:
        raise TemplateError(f"Parameters: [{', '.join(missing)}] must have values")
    values: dict[str, Any] = {}
    no_echo: set[str] = set()
    for key, spec in declared.items():
        raw = str(given[key]) if key in given else _param_text(spec["Default"])
        _check_constraints(key, raw, spec)
        values[key] = raw.split(",") if _is_list_type(spec.get("Type", "String")) else raw
        if str(spec.get("NoEcho", "false")).lower() == "true":
            no_echo.add(key)
    return ResolvedParameters(values, no_echo)


def _is_list_type(param_type: str) -> bool:
    return param_type.startswith("List<") or param_type == "CommaDelimitedList"


def _check_constraints(key: str, raw: str, spec: dict[str, Any]) -> None:
    allowed = spec.get("AllowedValues")
    if allowed is not None and raw not in [str(v) for v in allowed]:
        raise TemplateError(f"Parameter '{key}' must be one of AllowedValues")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, raw):
        raise TemplateError(f"Parameter '{key}' must match pattern {pattern}")
    if "MinLength" in spec and len(raw) < int(spec["MinLength"]):
        raise TemplateError(f"Parameter '{key}' must contain at least {spec['MinLength']} characters")
    if "MaxLength" in spec and len(raw) > int(spec["MaxLength"]):
        raise TemplateError(f"Parameter '{key}' must contain at most {spec['MaxLength']} characters")
    if spec.get("Type") == "Number":
        try:
            number = float(raw)
        except ValueError as err:
            raise TemplateError(f"Parameter '{key}' must be a number") from err
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise TemplateError(f"Parameter '{key}' must be a number not less than {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise TemplateError(f"Parameter '{key}' must be a number not greater than {spec['MaxValue']}")


RefLookup = Callable[[str], Any]
AttLookup = Callable[[str, str], Any]


class Resolver:
    """Evaluates intrinsic functions against parameters, conditions and resources.

    `ref` and `get_att` are callbacks for resource references, so the same
    resolver serves the deploy (real values) and the change-set preview
    (placeholders for resources that do not exist yet).
    """

    def __init__(
        self,
        template: dict[str, Any],
        parameters: ResolvedParameters,
        pseudo: dict[str, Any],
        ref: RefLookup,
        get_att: AttLookup,
    ):
        self.template = template
        self.parameters = parameters
        self.pseudo = pseudo
        self._ref = ref
        self._get_att = get_att
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        """Evaluate a named condition (memoised)."""
        if name not in self._conditions:
            declared = self.template.get("Conditions") or {}
            if name not in declared:
                raise TemplateError(f"Template error: unresolved condition dependency {name}")
            self._conditions[name] = bool(self._evaluate_condition(declared[name]))
        return self._conditions[name]

    def is_active(self, logical_id: str) -> bool:
        """Whether a resource exists under the current conditions."""
        name = self.template["Resources"][logical_id].get("Condition")
        return name is None or self.condition(name)

    def _evaluate_condition(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            (key, arg), = node.items()
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Equals":
                left, right = (self.resolve(v) for v in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._evaluate_condition(arg[0])
            if key == "Fn::And":
                return all(self._evaluate_condition(v) for v in arg)
            if key == "Fn::Or":
                return any(self._evaluate_condition(v) for v in arg)
        return self.resolve(node)

    def resolve(self, node: Any) -> Any:
        """Resolve all intrinsics in `node`; `AWS::NoValue` entries are dropped."""
        if isinstance(node, list):
            items = (self.resolve(v) for v in node)
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            handler = self._FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, arg)
        resolved = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _fn_ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters.values:
            return self.parameters.values[name]
        if name in self.template["Resources"]:
            return self._ref(name)
        raise TemplateError(f"Template format error: Unresolved resource dependencies [{name}] in the Resources block of the template")

    def _fn_get_att(self, arg: Any) -> Any:
        logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
        if logical_id not in self.template["Resources"]:
            raise TemplateError(f"Template error: instance of Fn::GetAtt references undefined resource {logical_id}")
        return self._get_att(logical_id, self.resolve(attribute))

    def _fn_sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        local = {k: self.resolve(v) for k, v in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            expr = match.group(1)
            if expr.startswith("!"):
                return "${" + expr[1:] + "}"
            if expr in local:
                return str(local[expr])
            if "." in expr and expr.split(".", 1)[0] in self.template["Resources"]:
                return str(self._fn_get_att(expr))
            return str(self._fn_ref(expr))

        return re.sub(r"\$\{([^}]+)\}", substitute, text)

    def _fn_if(self, arg: list[Any]) -> Any:
        name, when_true, when_false = arg
        return self.resolve(when_true if self.condition(name) else when_false)

    def _fn_join(self, arg: list[Any]) -> str:
        delimiter, values = arg
        return str(delimiter.join(str(v) for v in self.resolve(values)))

    def _fn_select(self, arg: list[Any]) -> Any:
        index, values = int(self.resolve(arg[0])), self.resolve(arg[1])
        if index >= len(values):
            placeholders = [v for v in values if PENDING_PREFIX in str(v)]
            if placeholders:
                return placeholders[0]
            raise TemplateError(f"Template error: Fn::Select cannot select nonexistent value at index {index}")
        return values[index]

    def _fn_split(self, arg: list[Any]) -> list[str]:
        delimiter, value = arg
        return str(self.resolve(value)).split(delimiter)

    def _fn_find_in_map(self, arg: list[Any]) -> Any:
        name, top, second = (self.resolve(v) for v in arg)
        try:
            return self.template["Mappings"][name][top][second]
        except KeyError as err:
            raise TemplateError(f"Template error: Unable to get mapping for {name}::{top}::{second}") from err

    def _fn_base64(self, arg: Any) -> str:
        return base64.b64encode(str(self.resolve(arg)).encode()).decode()

    def _fn_get_azs(self, arg: Any) -> list[str]:
        region = self.resolve(arg) or self.pseudo["AWS::Region"]
        return [f"{region}{suffix}" for suffix in "abc"]

    def _fn_import_value(self, arg: Any) -> Any:
        raise TemplateError(f"No export named {self.resolve(arg)} found.")

    def _fn_to_json_string(self, arg: Any) -> str:
        return json.dumps(self.resolve(arg))

    _FUNCTIONS: ClassVar[dict[str, Callable[[Resolver, Any], Any]]] = {
        "Ref": _fn_ref,
        "Fn::GetAtt": _fn_get_att,
        "Fn::Sub": _fn_sub,
        "Fn::If": _fn_if,
        "Fn::Join": _fn_join,
        "Fn::Select": _fn_select,
        "Fn::Split": _fn_split,
        "Fn::FindInMap": _fn_find_in_map,
        "Fn::Base64": _fn_base64,
        "Fn::GetAZs": _fn_get_azs,
        "Fn::ImportValue": _fn_import_value,
        "Fn::ToJsonString": _fn_to_json_string,
        "Fn::Equals": lambda self, arg: self._evaluate_condition({"Fn::Equals": arg}),
        "Fn::Not": lambda self, arg: self._evaluate_condition({"Fn::Not": arg}),
        "Fn::And": lambda self, arg: self._evaluate_condition({"Fn::And": arg}),
        "Fn::Or": lambda self, arg: self._evaluate_condition({"Fn::Or": arg}),
        "Condition": lambda self, arg: self.condition(arg),
    }


def references(node: Any) -> set[str]:
    """Names referenced by Ref, GetAtt and Sub anywhere in `node` (resources or parameters)."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                for expr in re.findall(r"\$\{([^!}][^}]*)\}", text):
                    found.add(expr.split(".")[0])
                if isinstance(value, list):
                    found |= references(value[1])
            else:
                found |= references(value)
    return found


def dependency_order(resources: dict[str, Any]) -> list[str]:
    """Logical ids ordered so every resource comes after the ones it depends on."""
    deps: dict[str, set[str]] = {}
    for logical_id, body in resources.items():
        depends_on = body.get("DependsOn", [])
        explicit = {depends_on} if isinstance(depends_on, str) else set(depends_on)
        implicit = references(body.get("Properties", {}))
        deps[logical_id] = (explicit | implicit) & set(resources)
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(logical_id: str) -> None:
        if logical_id in ordered:
            return
        if logical_id in visiting:
            raise TemplateError(f"Circular dependency between resources: [{logical_id}]")
        visiting.add(logical_id)
        for dep in sorted(deps[logical_id]):
            visit(dep)
        visiting.discard(logical_id)
        ordered.append(logical_id)

    for logical_id in resources:
        visit(logical_id)
    return ordered

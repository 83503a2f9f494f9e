"""AWS::ApiGatewayV2::Api, Integration, Route and Stage on moto's apigatewayv2 backend."""

from __future__ import annotations

from typing import Any, cast

from moto.apigatewayv2.models import ApiGatewayV2Backend, apigatewayv2_backends

from . import Context, Created, ResourceHandler, camel_keys, tag_dict


def _backend(ctx: Context) -> ApiGatewayV2Backend:
    return apigatewayv2_backends[ctx.account_id][ctx.region]


def _cors(props: dict[str, Any]) -> dict[str, Any] | None:
    cors = camel_keys(props.get("CorsConfiguration"))
    if cors and "maxAge" in cors:
        cors["maxAge"] = int(cors["maxAge"])
    return cast("dict[str, Any] | None", cors)


def _route_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Number parameters arrive as strings; the API returns typed throttling values."""
    typed = camel_keys(settings)
    if "throttlingBurstLimit" in typed:
        typed["throttlingBurstLimit"] = int(typed["throttlingBurstLimit"])
    if "throttlingRateLimit" in typed:
        typed["throttlingRateLimit"] = float(typed["throttlingRateLimit"])
    return cast("dict[str, Any]", typed)


_STAGE_KEYS = [
    "AccessLogSettings",
    "AutoDeploy",
    "ClientCertificateId",
    "Description",
    "StageName",
    "StageVariables",
]


def _stage_config(props: dict[str, Any]) -> dict[str, Any]:
    config = camel_keys({k: props[k] for k in _STAGE_KEYS if k in props})
    if "DefaultRouteSettings" in props:
        config["defaultRouteSettings"] = _route_settings(props["DefaultRouteSettings"])
    if "RouteSettings" in props:
        # Keyed by route key ("POST /generate"), which stays as written.
        config["routeSettings"] = {route: _route_settings(settings) for route, settings in props["RouteSettings"].items()}
    config["tags"] = tag_dict(props.get("Tags"))
    return cast("dict[str, Any]", config)


class ApiHandler(ResourceHandler):
    type_name = "AWS::ApiGatewayV2::Api"
    attribute_names = frozenset({"ApiEndpoint", "ApiId"})
    create_only = frozenset({"ProtocolType"})

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        # Through a dict: moto annotates the optional ones as required str (and CORS as str).
        arguments: dict[str, Any] = dict(
            api_key_selection_expression=props.get("ApiKeySelectionExpression"),
            cors_configuration=_cors(props),
            description=props.get("Description"),
            disable_schema_validation=props.get("DisableSchemaValidation"),
            disable_execute_api_endpoint=props.get("DisableExecuteApiEndpoint"),
            name=props["Name"],
            protocol_type=props["ProtocolType"],
            route_selection_expression=props.get("RouteSelectionExpression"),
            tags=tag_dict(props.get("Tags")),
            version=props.get("Version"),
        )
        api = _backend(ctx).create_api(**arguments)
        return Created(api.api_id, self._attributes(api))

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        backend = _backend(ctx)
        arguments: dict[str, Any] = dict(
            api_id=physical_id,
            api_key_selection_expression=new.get("ApiKeySelectionExpression"),
            cors_configuration=_cors(new),
            description=new.get("Description"),
            disable_schema_validation=new.get("DisableSchemaValidation"),
            disable_execute_api_endpoint=new.get("DisableExecuteApiEndpoint"),
            name=new["Name"],
            route_selection_expression=new.get("RouteSelectionExpression"),
            version=new.get("Version"),
        )
        api = backend.update_api(**arguments)
        api.cors_configuration = _cors(new)  # type: ignore[assignment]  # moto keeps the parsed dict there
        backend.untag_resource(api.arn, list(backend.get_tags(api.arn)))
        backend.tag_resource(api.arn, tag_dict(new.get("Tags")))
        return self._attributes(api)

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        _backend(ctx).delete_api(physical_id)

    @staticmethod
    def _attributes(api: Any) -> dict[str, Any]:
        return {"ApiEndpoint": api.api_endpoint, "ApiId": api.api_id}


def _integration_args(props: dict[str, Any]) -> dict[str, Any]:
    return {
        "api_id": props["ApiId"],
        "connection_id": props.get("ConnectionId"),
        "connection_type": props.get("ConnectionType"),
        "content_handling_strategy": props.get("ContentHandlingStrategy"),
        "credentials_arn": props.get("CredentialsArn"),
        "description": props.get("Description"),
        "integration_method": props.get("IntegrationMethod"),
        "integration_subtype": props.get("IntegrationSubtype"),
        "integration_type": props["IntegrationType"],
        "integration_uri": props.get("IntegrationUri"),
        "passthrough_behavior": props.get("PassthroughBehavior"),
        "payload_format_version": props.get("PayloadFormatVersion"),
        "request_parameters": props.get("RequestParameters"),
        "request_templates": props.get("RequestTemplates"),
        "response_parameters": props.get("ResponseParameters"),
        "template_selection_expression": props.get("TemplateSelectionExpression"),
        "timeout_in_millis": int(props["TimeoutInMillis"]) if "TimeoutInMillis" in props else None,
        "tls_config": props.get("TlsConfig"),
    }


class IntegrationHandler(ResourceHandler):
    type_name = "AWS::ApiGatewayV2::Integration"
    attribute_names = frozenset({"IntegrationId"})
    create_only = frozenset({"ApiId"})

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        integration = _backend(ctx).create_integration(**_integration_args(props))
        return Created(integration.id, {"IntegrationId": integration.id})

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        _backend(ctx).update_integration(integration_id=physical_id, **_integration_args(new))
        return {"IntegrationId": physical_id}

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        backend = _backend(ctx)
        if props["ApiId"] in backend.apis:
            backend.delete_integration(props["ApiId"], physical_id)


def _route_args(props: dict[str, Any]) -> dict[str, Any]:
    return {
        "api_id": props["ApiId"],
        "api_key_required": props.get("ApiKeyRequired", False),
        "authorization_scopes": props.get("AuthorizationScopes", []),
        "authorization_type": props.get("AuthorizationType", "NONE"),
        "authorizer_id": props.get("AuthorizerId"),
        "model_selection_expression": props.get("ModelSelectionExpression"),
        "operation_name": props.get("OperationName"),
        "request_models": props.get("RequestModels"),
        "request_parameters": props.get("RequestParameters"),
        "route_key": props["RouteKey"],
        "route_response_selection_expression": props.get("RouteResponseSelectionExpression"),
        "target": props.get("Target"),
    }


class RouteHandler(ResourceHandler):
    type_name = "AWS::ApiGatewayV2::Route"
    attribute_names = frozenset({"RouteId"})
    create_only = frozenset({"ApiId"})

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        route = _backend(ctx).create_route(**_route_args(props))
        return Created(route.route_id, {"RouteId": route.route_id})

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        _backend(ctx).update_route(route_id=physical_id, **_route_args(new))
        return {"RouteId": physical_id}

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        backend = _backend(ctx)
        if props["ApiId"] in backend.apis:
            backend.delete_route(props["ApiId"], physical_id)



class StageHandler(ResourceHandler):
    type_name = "AWS::ApiGatewayV2::Stage"
    create_only = frozenset({"ApiId", "StageName"})

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        stage = _backend(ctx).create_stage(props["ApiId"], _stage_config(props))
        return Created(stage.name, {})

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        backend = _backend(ctx)
        backend.delete_stage(new["ApiId"], physical_id)
        backend.create_stage(new["ApiId"], _stage_config(new))
        return {}

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        backend = _backend(ctx)
        if props["ApiId"] in backend.apis:
            backend.delete_stage(props["ApiId"], physical_id)


HANDLERS = [ApiHandler(), IntegrationHandler(), RouteHandler(), StageHandler()]

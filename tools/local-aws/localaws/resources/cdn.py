"""AWS::CloudFront::OriginAccessControl and AWS::CloudFront::Distribution.

CloudFormation writes these as plain lists; the CloudFront API (and moto's
backend) wants `{Quantity, Items}` wrappers, so the conversion lives here.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from moto.cloudfront.models import CloudFrontBackend, cloudfront_backends

from . import Context, Created, ResourceHandler


def _backend(ctx: Context) -> CloudFrontBackend:
    return cloudfront_backends[ctx.account_id][ctx.partition]


def _items(values: list[Any] | None) -> dict[str, Any]:
    values = values or []
    return {"Quantity": len(values), "Items": values}


def _origin(origin: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in origin.items() if k != "CustomOriginConfig"}
    custom = origin.get("CustomOriginConfig")
    if custom is not None:
        custom = dict(custom)
        protocols = custom.pop("OriginSSLProtocols", None)
        if protocols is not None:
            custom["OriginSslProtocols"] = _items(protocols)
        out["CustomOriginConfig"] = custom
    return out


def _cache_behavior(behavior: dict[str, Any]) -> dict[str, Any]:
    out = dict(behavior)
    methods = behavior.get("AllowedMethods")
    if methods is not None:
        cached = behavior.get("CachedMethods", ["GET", "HEAD"])
        out["AllowedMethods"] = {**_items(methods), "CachedMethods": _items(cached)}
    out.pop("CachedMethods", None)
    return out


def distribution_config(cfn: dict[str, Any], caller_reference: str) -> dict[str, Any]:
    """CloudFormation DistributionConfig -> CloudFront API DistributionConfig."""
    config: dict[str, Any] = {
        "CallerReference": caller_reference,
        "Comment": cfn.get("Comment", ""),
        "Enabled": cfn["Enabled"],
        "Origins": _items([_origin(o) for o in cfn["Origins"]]),
        "DefaultCacheBehavior": _cache_behavior(cfn["DefaultCacheBehavior"]),
    }
    passthrough = ["PriceClass", "HttpVersion", "DefaultRootObject", "WebACLId", "Logging", "ViewerCertificate"]
    config.update({k: cfn[k] for k in passthrough if k in cfn})
    if "IPV6Enabled" in cfn:
        config["IsIPV6Enabled"] = cfn["IPV6Enabled"]
    if "Aliases" in cfn:
        config["Aliases"] = _items(cfn["Aliases"])
    if "CacheBehaviors" in cfn:
        config["CacheBehaviors"] = _items([_cache_behavior(b) for b in cfn["CacheBehaviors"]])
    if "CustomErrorResponses" in cfn:
        config["CustomErrorResponses"] = _items(cfn["CustomErrorResponses"])
    return config


class OriginAccessControlHandler(ResourceHandler):
    type_name = "AWS::CloudFront::OriginAccessControl"
    attribute_names = frozenset({"Id"})

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        control = _backend(ctx).create_origin_access_control(props["OriginAccessControlConfig"])
        return Created(control.id, {"Id": control.id})

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        _backend(ctx).update_origin_access_control(physical_id, new["OriginAccessControlConfig"])
        return {"Id": physical_id}

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        _backend(ctx).origin_access_controls.pop(physical_id, None)


class DistributionHandler(ResourceHandler):
    type_name = "AWS::CloudFront::Distribution"
    attribute_names = frozenset({"DomainName", "Id"})

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        config = distribution_config(copy.deepcopy(props["DistributionConfig"]), str(uuid.uuid4()))
        tags = [{"Key": t["Key"], "Value": t["Value"]} for t in props.get("Tags", [])]
        dist, _, _ = _backend(ctx).create_distribution_with_tags(config, tags)
        return Created(dist.distribution_id, self._attributes(dist))

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        backend = _backend(ctx)
        dist, etag = backend.get_distribution(physical_id)
        reference = dist.distribution_config.caller_reference
        config = distribution_config(copy.deepcopy(new["DistributionConfig"]), reference)
        dist, _, _ = backend.update_distribution(config, physical_id, etag)  # type: ignore[arg-type]  # moto annotates the If-Match ETag as bool
        backend.tagger.delete_all_tags_for_resource(dist.arn)
        backend.tagger.tag_resource(dist.arn, list(new.get("Tags", [])))
        return self._attributes(dist)

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        _backend(ctx).distributions.pop(physical_id, None)

    @staticmethod
    def _attributes(dist: Any) -> dict[str, Any]:
        return {"DomainName": dist.domain_name, "Id": dist.distribution_id}


HANDLERS = [OriginAccessControlHandler(), DistributionHandler()]

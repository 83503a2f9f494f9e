"""AWS::S3::Bucket and AWS::S3::BucketPolicy on moto's S3 backend.

moto's own CloudFormation model for buckets drops lifecycle, public access
block and ownership controls; this one applies every property the template
uses through the same calls `s3api put-bucket-*` makes.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from moto.s3.cloud_formation import cfn_to_api_encryption
from moto.s3.exceptions import MissingBucket
from moto.s3.models import S3Backend, s3_backends

from . import Context, Created, ResourceFailure, ResourceHandler, tag_dict


def _backend(ctx: Context) -> S3Backend:
    return s3_backends[ctx.account_id][ctx.partition]


def lifecycle_rules(config: dict[str, Any]) -> list[dict[str, Any]]:
    """CloudFormation LifecycleConfiguration -> the rule dicts moto's S3 API parses."""
    return [_lifecycle_rule(rule) for rule in config.get("Rules", [])]


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    prefix = rule.get("Prefix", "")
    out: dict[str, Any] = {"Status": rule.get("Status", "Enabled"), "Filter": {"Prefix": prefix}}
    if "Id" in rule:
        out["ID"] = rule["Id"]
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": str(rule["ExpirationInDays"])}
    elif "ExpirationDate" in rule:
        out["Expiration"] = {"Date": rule["ExpirationDate"]}
    if "AbortIncompleteMultipartUpload" in rule:
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": str(days)}
    if "NoncurrentVersionExpiration" in rule:
        days = rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": str(days)}
    if "Transitions" in rule:
        out["Transition"] = [
            {"Days": str(t["TransitionInDays"]), "StorageClass": t["StorageClass"]}
            for t in rule["Transitions"]
        ]
    return out


class BucketHandler(ResourceHandler):
    type_name = "AWS::S3::Bucket"
    attribute_names = frozenset({"Arn", "DomainName", "RegionalDomainName", "DualStackDomainName", "WebsiteURL"})
    create_only = frozenset({"BucketName"})

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        name = props.get("BucketName") or ctx.generated_name(63, lowercase=True)
        backend = _backend(ctx)
        if name in backend.buckets:
            raise ResourceFailure(f"{name} already exists")
        backend.create_bucket(name, ctx.region)
        self._apply(ctx, name, {}, props)
        return Created(name, self._attributes(ctx, name))

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        self._apply(ctx, physical_id, old, new)
        return self._attributes(ctx, physical_id)

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        backend = _backend(ctx)
        if physical_id not in backend.buckets:
            return
        if backend.delete_bucket(physical_id) is None:
            raise ResourceFailure(
                f"The bucket you tried to delete is not empty (Bucket: {physical_id})"
            )

    @staticmethod
    def _attributes(ctx: Context, name: str) -> dict[str, Any]:
        region = ctx.region
        return {
            "Arn": f"arn:{ctx.partition}:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
            "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com",
        }

    @staticmethod
    def _apply(ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Put every configured sub-resource, and remove the ones the template dropped."""
        backend = _backend(ctx)
        if "BucketEncryption" in new:
            backend.put_bucket_encryption(name, cfn_to_api_encryption(new["BucketEncryption"]))
        elif "BucketEncryption" in old:
            backend.delete_bucket_encryption(name)
        if "PublicAccessBlockConfiguration" in new:
            backend.put_public_access_block(name, new["PublicAccessBlockConfiguration"])
        elif "PublicAccessBlockConfiguration" in old:
            backend.delete_public_access_block(name)
        if "LifecycleConfiguration" in new:
            backend.put_bucket_lifecycle(name, lifecycle_rules(new["LifecycleConfiguration"]))
        elif "LifecycleConfiguration" in old:
            backend.delete_bucket_lifecycle(name)
        rules = (new.get("OwnershipControls") or {}).get("Rules") or []
        if rules:
            backend.put_bucket_ownership_controls(name, rules[0]["ObjectOwnership"])
        elif "OwnershipControls" in old:
            backend.delete_bucket_ownership_controls(name)
        if "VersioningConfiguration" in new:
            backend.put_bucket_versioning(name, new["VersioningConfiguration"]["Status"])
        if "Tags" in new or "Tags" in old:
            backend.put_bucket_tagging(name, tag_dict(new.get("Tags")))


class BucketPolicyHandler(ResourceHandler):
    type_name = "AWS::S3::BucketPolicy"
    create_only = frozenset({"Bucket"})

    def create(self, ctx: Context, props: dict[str, Any]) -> Created:
        self._put(ctx, props)
        return Created(props["Bucket"], {})

    def update(self, ctx: Context, physical_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        self._put(ctx, new)
        return {}

    def delete(self, ctx: Context, physical_id: str, props: dict[str, Any]) -> None:
        with contextlib.suppress(MissingBucket):
            _backend(ctx).delete_bucket_policy(props["Bucket"])

    @staticmethod
    def _put(ctx: Context, props: dict[str, Any]) -> None:
        document = props["PolicyDocument"]
        text = document if isinstance(document, str) else json.dumps(document)
        _backend(ctx).put_bucket_policy(props["Bucket"], text.encode())


HANDLERS = [BucketHandler(), BucketPolicyHandler()]

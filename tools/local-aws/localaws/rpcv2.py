"""Smithy RPC v2 CBOR for moto: clients that speak it (the Rust SDK's CloudWatch client)
get answers from moto's JSON protocol for the same service.

A request `POST /service/{TargetPrefix}/operation/{Operation}` with `smithy-protocol:
rpc-v2-cbor` and a CBOR body is turned into the JSON-protocol request moto serves
(`X-Amz-Target: {TargetPrefix}.{Operation}`, a JSON body), and moto's answer back into
CBOR, shaped by botocore's model of the operation (timestamps as CBOR tag 1, only the
members the output shape has). Errors keep their status, with `__type` and `message`.
"""

from __future__ import annotations

import datetime
import io
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

import botocore.session
from botocore.model import (
    ListShape,
    MapShape,
    OperationModel,
    ServiceModel,
    Shape,
    StructureShape,
)
from botocore.parsers import RpcV2CBORParser
from botocore.serialize import RpcV2CBORSerializer

PATH = re.compile(r"^/service/(?P<service>[A-Za-z0-9_]+)/operation/(?P<operation>[A-Za-z0-9_]+)$")

# Services whose clients may speak RPC v2 CBOR, by their `targetPrefix`: botocore name.
SERVICES = {"GraniteServiceVersion20100801": "cloudwatch"}

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_MODELS: dict[str, ServiceModel] = {}


def _model(target_prefix: str) -> ServiceModel | None:
    name = SERVICES.get(target_prefix)
    if name is None:
        return None
    if name not in _MODELS:
        _MODELS[name] = botocore.session.get_session().get_service_model(name)
    return _MODELS[name]


def operation_of(environ: dict[str, Any]) -> str | None:
    """The operation an RPC v2 request names, or None for any other request."""
    match = PATH.match(environ.get("PATH_INFO", ""))
    if match is None or environ.get("HTTP_SMITHY_PROTOCOL", "").lower() != "rpc-v2-cbor":
        return None
    return match.group("operation")


def _plain(value: Any) -> Any:
    """Decoded CBOR as JSON values: datetimes become epoch seconds."""
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


def decode(body: bytes) -> Any:
    """A CBOR document as Python values (botocore's decoder)."""
    if not body:
        return {}
    parser = RpcV2CBORParser()
    return parser.parse_data_item(parser.get_peekable_stream_from_bytes(body))


def _fit(value: Any, shape: Shape | None) -> Any:
    """`value` with only what `shape` describes, so the serializer knows every member."""
    if shape is None or value is None:
        return value
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {k: _fit(v, shape.members[k]) for k, v in value.items() if k in shape.members and v is not None}
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_fit(v, shape.member) for v in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {k: _fit(v, shape.value) for k, v in value.items()}
    return value


def encode(value: Any, shape: Shape | None) -> bytes:
    """`value` as CBOR, typed by `shape` (botocore's encoder)."""
    out = bytearray()
    if shape is None:
        return b""
    RpcV2CBORSerializer()._serialize_data_item(out, _fit(value, shape), shape)
    return bytes(out)


def encode_error(code: str, message: str) -> bytes:
    """`{"__type": code, "message": message}` as CBOR."""
    serializer = RpcV2CBORSerializer()
    out = bytearray([0xA2])  # a map of two pairs
    for text in ("__type", code, "message", message):
        serializer._serialize_type_string(out, text, None, None)
    return bytes(out)


def adapt(environ: dict[str, Any], start_response: Callable[..., Any], app: WsgiApp) -> Iterable[bytes]:
    """Answers an RPC v2 CBOR request through `app` (moto) speaking JSON."""
    match = PATH.match(environ.get("PATH_INFO", ""))
    assert match is not None
    model = _model(match.group("service"))
    if model is None or match.group("operation") not in model.operation_names:
        start_response("404 Not Found", [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")])
        return [encode_error("UnknownOperationException", f"no operation {environ.get('PATH_INFO')}")]
    operation: OperationModel = model.operation_model(match.group("operation"))
    length = int(environ.get("CONTENT_LENGTH") or 0)
    params = _plain(decode(environ["wsgi.input"].read(length)))
    body = json.dumps(params).encode()
    forwarded = dict(environ)
    forwarded.update({
        "PATH_INFO": "/", "QUERY_STRING": "", "CONTENT_TYPE": "application/x-amz-json-1.0",
        "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
        "HTTP_X_AMZ_TARGET": f"{model.metadata['targetPrefix']}.{operation.name}",
    })
    forwarded.pop("HTTP_SMITHY_PROTOCOL", None)
    captured: dict[str, Any] = {}

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        captured["status"], captured["headers"] = status, headers
        return lambda _: None

    answer = b"".join(app(forwarded, capture))
    status = str(captured.get("status", "500 Internal Server Error"))
    request_id = next((v for k, v in captured.get("headers", []) if k.lower() == "x-amzn-requestid"), "")
    if status.startswith("2"):
        payload = encode(json.loads(answer or b"{}"), operation.output_shape)
    else:
        try:
            error = json.loads(answer or b"{}")
        except json.JSONDecodeError:
            error = {"message": answer.decode("utf-8", "replace")}
        code = str(error.get("__type") or error.get("code") or "InternalFailure").split("#")[-1]
        payload = encode_error(code, str(error.get("message") or error.get("Message") or ""))
    headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
               ("Content-Length", str(len(payload)))]
    if request_id:
        headers.append(("x-amzn-RequestId", request_id))
    start_response(status, headers)
    return [payload]

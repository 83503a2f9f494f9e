"""Bedrock for image models, answered by the local AWS: InvokeModel and the model lifecycle.

The deployed function generates Stability images through `aws-sdk-bedrockruntime`; with
`AWS_ENDPOINT_URL` pointing here, its signed `POST /model/{modelId}/invoke` (SigV4
service `bedrock`) lands on this port. moto 5.2.5 has no image models, so
`BedrockInvoke` (an interceptor, see server.py) answers as Bedrock does: the Amazon body
family (`taskType: TEXT_IMAGE` -> `{"images", "error"}`) and the Stability family
(`{prompt, ...}` -> `{"seeds", "finish_reasons", "images"}`; Stable Image Ultra and Core
refuse SD3.5's `mode` key), each model only in the regions that offer it, restJson
errors (`x-amzn-ErrorType` + `{"message"}`) otherwise. A model past its end of life
answers `ResourceNotFoundException`. The control plane's `GetFoundationModel`
(`GET /foundation-models/{id}`) and `ListFoundationModels` (`GET /foundation-models`)
report each model's `modelLifecycle` from the shared model catalogue (moto's `bedrock`
backend has no foundation models). Images are the fake providers' PNGs; failures,
refusals, holds and lifecycle changes come from the shared `ProviderControls`
(provider `bedrock`).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import date
from typing import Any
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from .fake_providers import ProviderControls, b64, placeholder_png
from .model_catalog import ModelEntry, today

PROVIDER = "bedrock"
_INVOKE_PATH = re.compile(r"^/model/([^/]+)/invoke$")
_FOUNDATION_MODELS_PATH = re.compile(r"^/foundation-models(?:/([^/]+))?$")
_FOUNDATION_MODEL_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+::foundation-model/(.+)$")

_ERROR_CODES = {400: "ValidationException", 401: "UnrecognizedClientException", 403: "AccessDeniedException", 404: "ResourceNotFoundException",
                408: "ModelTimeoutException", 424: "ModelErrorException", 429: "ThrottlingException",
                500: "InternalServerException", 503: "ServiceUnavailableException"}
_ASPECT_RATIOS = ("16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21")


def bedrock_error(status: int, message: str, code: str | None = None) -> Response:
    """A restJson error as Bedrock Runtime answers it (the SDKs read `x-amzn-ErrorType`)."""
    code = code or _ERROR_CODES.get(status, "InternalServerException")
    return Response(json.dumps({"message": message}), status=status, mimetype="application/json",
                    headers={"x-amzn-ErrorType": code, "x-amzn-RequestId": str(uuid.uuid4())})


def malformed(detail: str) -> Response:
    return bedrock_error(400, f"Malformed input request: {detail}, please reformat your input and try again.")


def signing_scope(authorization: str) -> tuple[str, str] | None:
    """(region, service) of a SigV4 `Authorization` header's credential scope."""
    for part in authorization.replace(",", " ").split():
        if part.startswith("Credential="):
            pieces = part.split("/")
            if len(pieces) >= 5:
                return pieces[2], pieces[3]
    return None


def model_id_from_path(request: Request, pattern: re.Pattern[str] = _INVOKE_PATH) -> str | None:
    """The model id of an InvokeModel path, percent-decoded (`amazon.nova-canvas-v1%3A0`), ARNs reduced to ids."""
    raw = str(request.environ.get("RAW_URI") or request.path).split("?", 1)[0]
    match = pattern.match(raw)
    if match is None or match.group(1) is None:
        return None
    model_id = unquote(match.group(1))
    arn = _FOUNDATION_MODEL_ARN.match(model_id)
    return arn.group(1) if arn else model_id


def _timestamp(day: date | None) -> str | None:
    return f"{day.isoformat()}T00:00:00Z" if day else None


def foundation_model(region: str, model_id: str, entry: ModelEntry) -> dict[str, Any]:
    """A `FoundationModelSummary` / `FoundationModelDetails` with its `modelLifecycle`."""
    lifecycle: dict[str, Any] = {"status": "LEGACY" if entry.shutdown_date or entry.retired else "ACTIVE",
                                 "startOfLifeTime": "2025-01-01T00:00:00Z"}
    for key, day in (("legacyTime", entry.legacy_date), ("endOfLifeTime", entry.shutdown_date)):
        if day:
            lifecycle[key] = _timestamp(day)
    return {
        "modelArn": f"arn:aws:bedrock:{region}::foundation-model/{model_id}",
        "modelId": model_id,
        "modelName": entry.display_name,
        "providerName": entry.extra.get("provider", "Stability AI"),
        "inputModalities": ["TEXT", "IMAGE"],
        "outputModalities": ["IMAGE"],
        "responseStreamingSupported": False,
        "customizationsSupported": [],
        "inferenceTypesSupported": ["ON_DEMAND"],
        "modelLifecycle": lifecycle,
    }


class BedrockInvoke:
    """The interceptor: answers signed InvokeModel requests, leaves every other request to moto."""

    def __init__(self, controls: ProviderControls) -> None:
        if PROVIDER not in controls.providers:
            raise ValueError("the controls must cover `bedrock`")
        self.controls = controls

    def __call__(self, request: Request) -> Response | None:
        scope = signing_scope(request.headers.get("Authorization", ""))
        if scope is None or scope[1] != "bedrock":
            return None
        if request.method == "GET" and _FOUNDATION_MODELS_PATH.match(request.path):
            return self.foundation_models(scope[0], request)
        if request.method != "POST":
            return None
        model_id = model_id_from_path(request)
        if model_id is None:
            return None
        started = time.monotonic()
        call = self.controls.arrive(PROVIDER, "POST", request.path, model_id, key_present=True)
        response = self.invoke(scope[0], model_id, request.get_data())
        response.headers["X-Amzn-Bedrock-Invocation-Latency"] = str(int((time.monotonic() - started) * 1000))
        return call.done(response)

    def foundation_models(self, region: str, request: Request) -> Response:
        """`GetFoundationModel` and `ListFoundationModels` in the signing region."""
        model_id = model_id_from_path(request, _FOUNDATION_MODELS_PATH)
        catalogue = self.controls.catalogue
        if model_id is None:
            summaries = [foundation_model(region, found, entry) for found, entry in catalogue.listing(PROVIDER)
                         if region in entry.regions]
            return _answer({"modelSummaries": summaries})
        entry = catalogue.entry(PROVIDER, model_id)
        # A model past its end of life is no longer found; until then it reports LEGACY and its dates.
        if entry is None or region not in entry.regions or not entry.served(today()):
            return bedrock_error(404, "The model specified in the request is not found.", "ResourceNotFoundException")
        return _answer({"modelDetails": foundation_model(region, model_id, entry)})

    def invoke(self, region: str, model_id: str, body: bytes) -> Response:
        failure = self.controls.take_failure(PROVIDER)
        if failure is not None:
            return bedrock_error(failure.status, failure.message)
        model = self.controls.catalogue.entry(PROVIDER, model_id)
        if model is not None and region in model.regions and not model.served(today()):
            return bedrock_error(404, "This model version has reached the end of its life. Please refer to the "
                                 "AWS documentation for more details.")
        if model is None or region not in model.regions:
            return bedrock_error(400, "The provided model identifier is invalid.")
        try:
            request = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            return malformed(f"expected a JSON object ({err})")
        if not isinstance(request, dict):
            return malformed("#: expected type: JSONObject")
        if model.extra.get("family") == "amazon":
            return self._amazon(model_id, request)
        return self._stability(model_id, request)

    def _amazon(self, model_id: str, request: dict[str, Any]) -> Response:
        task = request.get("taskType")
        if task != "TEXT_IMAGE":
            return bedrock_error(400, f"taskType {task!r} is not supported by the local AWS (only TEXT_IMAGE)")
        text = (request.get("textToImageParams") or {}).get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= 1024:
            return malformed("#/textToImageParams/text: expected a string of 1 to 1024 characters")
        config = request.get("imageGenerationConfig") or {}
        count = config.get("numberOfImages", 1)
        if not isinstance(count, int) or not 1 <= count <= 5:
            return malformed(f"#/imageGenerationConfig/numberOfImages: {count} is not between 1 and 5")
        for dimension in ("width", "height"):
            value = config.get(dimension, 1024)
            if not isinstance(value, int) or not 320 <= value <= 4096 or value % 16:
                return malformed(f"#/imageGenerationConfig/{dimension}: {value} is not a multiple of 16 "
                                 "between 320 and 4096")
        scale = config.get("cfgScale", 6.5)
        if not isinstance(scale, (int, float)) or not 1.1 <= scale <= 10:
            return malformed(f"#/imageGenerationConfig/cfgScale: {scale} is not between 1.1 and 10")
        if self.controls.take_refusal(PROVIDER):
            return bedrock_error(400, "This request has been blocked by our content filters.")
        images = [b64(placeholder_png(f"bedrock:{model_id}:{text}:{i}")) for i in range(count)]
        return _answer({"images": images, "error": None})

    def _stability(self, model_id: str, request: dict[str, Any]) -> Response:
        prompt = request.get("prompt")
        if not isinstance(prompt, str) or not 1 <= len(prompt) <= 10000:
            return malformed("#: required key [prompt] not found or not a string of 1 to 10000 characters")
        if "mode" in request and not model_id.startswith("stability.sd3"):
            # Stable Image Ultra and Core take no mode; only SD3.5 does.
            return malformed("#: extraneous key [mode] is not permitted")
        mode = request.get("mode", "text-to-image")
        if mode != "text-to-image":
            return bedrock_error(400, f"mode {mode!r} is not supported by the local AWS (only text-to-image)")
        if request.get("aspect_ratio", "1:1") not in _ASPECT_RATIOS:
            return malformed(f"#/aspect_ratio: must be one of {', '.join(_ASPECT_RATIOS)}")
        if request.get("output_format", "png") not in ("png", "jpeg", "webp"):
            return malformed("#/output_format: must be one of png, jpeg, webp")
        seed = request.get("seed") or int(uuid.uuid4().int % 4294967295)
        if self.controls.take_refusal(PROVIDER):
            return _answer({"seeds": [seed], "finish_reasons": ["Filter reason: prompt"], "images": []})
        image = b64(placeholder_png(f"bedrock:{model_id}:{prompt}"))
        return _answer({"seeds": [seed], "finish_reasons": [None], "images": [image]})


def _answer(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), mimetype="application/json", headers={"x-amzn-RequestId": str(uuid.uuid4())})

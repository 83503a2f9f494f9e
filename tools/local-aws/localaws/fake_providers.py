"""Fake AI image providers, each speaking its own provider's wire format, on 127.0.0.1.

The deployed Pixel Prompt function calls OpenAI (images and the chat completion behind
`/enhance`), Google Gemini and Imagen, Black Forest Labs, Recraft and Stability AI. None
of them can be reached from this machine and no key exists, so this server answers
their documented requests (REFERENCE §2) with real PNGs: each provider under its own
path prefix, so its base URL is `http://127.0.0.1:{port}/{provider}`. Keys are checked
for presence only (any non-empty value works, unless revoked: a rotated-out key) and
missing ones get the provider's own error; errors, refusals and URLs follow each
provider's shapes.

Each provider also lists its models the way it does (OpenAI `GET /v1/models` with
`shutdown_date`, Gemini `GET /v1beta/models`; see `model_catalog.py`) and refuses to
generate with one it no longer serves. Gemini's thinking image models send interim
"thought" images before the final one; a Stability image its output filter caught comes
back blurred with `finish-reason: CONTENT_FILTERED`; OpenAI's reasoning chat models
refuse `max_tokens` and a non-default `temperature`.

Controls (JSON), at `/_fake/<control>` here and at `/_local-aws/providers/<control>`
on the local AWS (see `ProviderControls`): `fail`, `refuse`, `bad-key`, `revoke`, `models`,
`hold`, `release`, `clear`, `reset`, `GET requests`, `GET models`. Bedrock's wire format
lives in `bedrock.py`; it shares the PNG generator, the model catalogue and the controls.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import struct
import threading
import time
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .model_catalog import CatalogueError, ModelCatalogue

HOST = "127.0.0.1"
# The provider kinds of `PROVIDER_BASE_URLS` this server answers (Bedrock is an AWS
# service: the local AWS answers it, see bedrock.py).
HTTP_PROVIDERS = ("openai", "gemini", "imagen", "bfl", "recraft", "stability")
IMAGE_SIZE = 64
# A long-running server keeps only the newest images, BFL tasks and logged requests.
KEPT_IMAGES = 512
KEPT_REQUESTS = 10_000

log = logging.getLogger(__name__)


# --- images and prompts ---------------------------------------------------------------


def placeholder_png(seed: str, size: int = IMAGE_SIZE) -> bytes:
    """A valid RGB PNG whose colours and square come from `seed` (provider, model, prompt)."""
    digest = hashlib.sha256(seed.encode()).digest()
    background, accent = digest[0:3], bytes(255 - b for b in digest[0:3])
    side = size // 4 + digest[5] % (size // 4)
    left, top = digest[3] % (size - side), digest[4] % (size - side)
    plain = b"\x00" + background * size  # filter type 0, then the pixels
    marked = b"\x00" + background * left + accent * side + background * (size - left - side)
    raw = b"".join(marked if top <= y < top + side else plain for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


_DETAILS = (
    "soft golden-hour light, shallow depth of field, rich colour",
    "dramatic rim lighting, wide-angle composition, crisp detail",
    "misty atmosphere, muted pastel palette, painterly texture",
    "high-contrast cinematic lighting, centred subject, sharp focus",
)


def enhanced_prompt(prompt: str) -> str:
    """What the fake chat models answer: the prompt plus concrete detail, always longer."""
    detail = _DETAILS[hashlib.sha256(prompt.encode()).digest()[0] % len(_DETAILS)]
    return f"{prompt.strip().rstrip('.')}, {detail}"


# --- controls ---------------------------------------------------------------------------


class ControlError(Exception):
    """A bad control request; answered with HTTP 400."""


@dataclass
class Armed:
    """An injected failure (`status`, `message`), refusal (`kind`: `prompt`, or `output` for
    a filtered result; `reason`: Gemini's finish reason) or bad key, for `times` requests
    or until cleared."""

    status: int = 0
    message: str = ""
    times: int | None = None
    kind: str = "prompt"
    reason: str = ""

    def take(self) -> bool:
        """Uses one request; False once exhausted."""
        if self.times is None:
            return True
        if self.times <= 0:
            return False
        self.times -= 1
        return True


@dataclass
class Call:
    """One logged request: `done` records the status it was answered with."""

    entry: dict[str, Any]
    controls: ProviderControls

    def done(self, response: Response) -> Response:
        with self.controls.lock:
            self.entry["status"] = response.status_code
        return response


@dataclass
class ProviderControls:
    """Failure, refusal and hold switches per provider, and the log of requests served.

    Shared by the fake providers' server and the local AWS's Bedrock, so one set of
    controls drives both. The log never holds a key: only whether one was present.
    """

    providers: tuple[str, ...]
    lock: threading.Lock = field(default_factory=threading.Lock)
    failures: dict[str, Armed] = field(default_factory=dict)
    refusals: dict[str, Armed] = field(default_factory=dict)
    bad_keys: dict[str, Armed] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)
    catalogue: ModelCatalogue = field(default_factory=ModelCatalogue)
    # provider -> sha256 (hex) of the keys it refuses as invalid (a rotated-out key)
    revoked: dict[str, set[str]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    closing: bool = False

    def __post_init__(self) -> None:
        self.providers = tuple(self.providers)
        self.changed = threading.Condition(self.lock)

    # Used by the providers, in this order, for each API request.

    def arrive(self, provider: str, method: str, path: str, model: str | None, key_present: bool) -> Call:
        """Logs the request, then waits while the provider is held."""
        entry = {"provider": provider, "method": method, "path": path, "model": model,
                 "key_present": key_present, "held": False, "status": None}
        with self.changed:
            self.requests.append(entry)
            del self.requests[:-KEPT_REQUESTS]
            while provider in self.held and not self.closing:
                entry["held"] = True
                self.changed.wait()
            entry["held"] = False
        return Call(entry, self)

    def is_revoked(self, provider: str, key: str) -> bool:
        """Whether `key` was revoked for `provider` (compared by its sha256, never kept)."""
        digest = hashlib.sha256(key.encode()).hexdigest()
        with self.lock:
            return digest in self.revoked.get(provider, set())

    def take_failure(self, provider: str) -> Armed | None:
        return self._take(self.failures, provider)

    def take_refusal(self, provider: str, kind: str = "prompt") -> Armed | None:
        """The armed refusal of that kind, if one is armed (a refusal of another kind stays)."""
        with self.lock:
            switch = self.refusals.get(provider)
            if switch is None or switch.kind != kind:
                return None
        return self._take(self.refusals, provider)

    def take_bad_key(self, provider: str) -> bool:
        return self._take(self.bad_keys, provider) is not None

    def _take(self, armed: dict[str, Armed], provider: str) -> Armed | None:
        with self.lock:
            switch = armed.get(provider)
            if switch is None:
                return None
            if switch.take():
                return switch
            del armed[provider]
            return None

    def close(self) -> None:
        """Lets every held request go (the server is stopping)."""
        with self.changed:
            self.closing = True
            self.changed.notify_all()

    # The control endpoints.

    def control(self, method: str, name: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """Answers a control request: (HTTP status, JSON body)."""
        name = name.strip("/")
        if method == "GET" and name == "requests":
            with self.lock:
                return 200, {"requests": [dict(e) for e in self.requests]}
        if method == "GET" and name == "models":
            return 200, {"models": self.catalogue.describe()}
        handler: Callable[[dict[str, Any]], dict[str, Any]] | None = {
            "fail": self._fail, "refuse": self._refuse, "bad-key": self._bad_key, "models": self._models,
            "hold": self._hold, "release": self._release, "clear": self._clear, "reset": self._reset,
            "revoke": self._revoke,
        }.get(name)
        if method != "POST" or handler is None:
            return 404, {"error": f"no control {method} {name}; POST fail|refuse|bad-key|models|hold|release|"
                                  "revoke|clear|reset, GET requests|models"}
        try:
            parsed = json.loads(body or b"{}")
            if not isinstance(parsed, dict):
                raise ControlError("the body must be a JSON object")
            return 200, handler(parsed)
        except (ControlError, CatalogueError, json.JSONDecodeError) as err:
            return 400, {"error": str(err)}

    def _provider(self, body: dict[str, Any], required: bool = True) -> str | None:
        provider = body.get("provider")
        if provider is None and not required:
            return None
        if provider not in self.providers:
            raise ControlError(f"`provider` must be one of {', '.join(self.providers)}")
        return str(provider)

    @staticmethod
    def _times(body: dict[str, Any]) -> int | None:
        times = body.get("times")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
            raise ControlError("`times` must be a whole number of at least 1 (omit it for `until cleared`)")
        return times

    def _fail(self, body: dict[str, Any]) -> dict[str, Any]:
        provider = self._provider(body)
        status = body.get("status", 500)
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ControlError("`status` must be an HTTP error status (400-599)")
        message = str(body.get("message") or "The server had an error while processing your request.")
        armed = Armed(status, message, self._times(body))
        with self.lock:
            self.failures[str(provider)] = armed
        return {"fail": {"provider": provider, "status": status, "message": message, "times": armed.times}}

    def _refuse(self, body: dict[str, Any]) -> dict[str, Any]:
        provider = self._provider(body)
        kind = body.get("kind", "prompt")
        if kind not in ("prompt", "output"):
            raise ControlError("`kind` must be `prompt` (the prompt is refused) or `output` (the result is filtered)")
        if kind == "output" and provider not in ("stability", "gemini"):
            raise ControlError("`kind: output` is modeled for stability (finish-reason CONTENT_FILTERED) and gemini")
        reason = str(body.get("reason") or ("IMAGE_SAFETY" if provider == "gemini" else ""))
        armed = Armed(times=self._times(body), kind=kind, reason=reason)
        with self.lock:
            self.refusals[str(provider)] = armed
        return {"refuse": {"provider": provider, "times": armed.times, "kind": kind, "reason": reason or None}}

    def _bad_key(self, body: dict[str, Any]) -> dict[str, Any]:
        provider = self._provider(body)
        if provider == "bedrock":
            raise ControlError("Bedrock takes no key (IAM); use `fail` with 403 for a denied call")
        armed = Armed(times=self._times(body))
        with self.lock:
            self.bad_keys[str(provider)] = armed
        return {"bad_key": {"provider": provider, "times": armed.times}}

    def _models(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"models": self.catalogue.set_state(body)}

    def _hold(self, body: dict[str, Any]) -> dict[str, Any]:
        provider = self._provider(body)
        with self.lock:
            self.held.add(str(provider))
        return {"held": sorted(self.held)}

    def _release(self, body: dict[str, Any]) -> dict[str, Any]:
        provider = self._provider(body, required=False)
        with self.changed:
            self.held.difference_update([provider] if provider else list(self.held))
            self.changed.notify_all()
            return {"held": sorted(self.held)}

    def _revoke(self, body: dict[str, Any]) -> dict[str, Any]:
        provider = self._provider(body)
        digest = body.get("key_sha256")
        if not isinstance(digest, str) or len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ControlError("`key_sha256` must be the lower-case hex sha256 of the key to revoke")
        with self.lock:
            self.revoked.setdefault(str(provider), set()).add(digest)
            count = len(self.revoked[str(provider)])
        return {"revoked": {"provider": provider, "keys": count}}

    def _clear(self, body: dict[str, Any]) -> dict[str, Any]:
        provider = self._provider(body, required=False)
        with self.changed:
            for switches in (self.failures, self.refusals, self.bad_keys, self.revoked):
                for name in [provider] if provider else list(switches):
                    switches.pop(str(name), None)
            self.held.difference_update([provider] if provider else list(self.held))
            self.changed.notify_all()
        return {"cleared": provider or "all"}

    def _reset(self, _: dict[str, Any]) -> dict[str, Any]:
        with self.changed:
            self.failures.clear()
            self.refusals.clear()
            self.bad_keys.clear()
            self.revoked.clear()
            self.held.clear()
            self.catalogue.reset()
            self.requests.clear()
            self.changed.notify_all()
        return {"reset": True}


# --- each provider's error shapes ------------------------------------------------------

_GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                  409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
                  504: "DEADLINE_EXCEEDED"}
_SLUGS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 413: "payload_too_large",
          422: "invalid_parameters", 429: "rate_limit_exceeded", 500: "internal_error", 503: "service_unavailable"}


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


def provider_error(provider: str, status: int, message: str, code: str | None = None) -> Response:
    """An error as `provider` shapes it."""
    if provider == "openai":
        kind = "server_error" if status >= 500 else "requests" if status == 429 else "invalid_request_error"
        code = code or {429: "rate_limit_exceeded"}.get(status)
        return _json(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})
    if provider in ("gemini", "imagen"):
        return _json(status, {"error": {"code": status, "message": message,
                                        "status": _GOOGLE_STATUS.get(status, "UNKNOWN")}})
    if provider == "bfl":
        return _json(status, {"detail": message})
    if provider == "stability":
        return _json(status, {"id": uuid.uuid4().hex, "name": code or _SLUGS.get(status, "error"), "errors": [message]})
    # Recraft answers its 401 and 404 as plain text, other errors as JSON.
    if status in (401, 404):
        return Response({401: "request unauthorized", 404: "404 page not found"}[status], status=status,
                        mimetype="text/plain")
    return _json(status, {"code": code or _SLUGS.get(status, "error"), "message": message})


def invalid_key(provider: str) -> Response:
    """What each provider answers a key it does not accept (wrong, or revoked after a rotation)."""
    if provider == "openai":
        return provider_error(provider, 401, "Incorrect API key provided. You can find your API key at "
                              "https://platform.openai.com/account/api-keys.", code="invalid_api_key")
    if provider in ("gemini", "imagen"):
        # Google answers an invalid key with 400 INVALID_ARGUMENT and the reason API_KEY_INVALID.
        return _json(400, {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                                     "status": "INVALID_ARGUMENT",
                                     "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                                  "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}})
    if provider == "bfl":
        return provider_error(provider, 403, "Not authenticated - Invalid Authentication")
    if provider == "stability":
        return provider_error(provider, 401, "authorization: invalid API key", code="unauthorized")
    return provider_error(provider, 401, "request unauthorized")


def missing_key(provider: str) -> Response:
    """What each provider answers a request without its key."""
    if provider in ("gemini", "imagen"):
        return provider_error(provider, 403, "Method doesn't allow unregistered callers (callers without "
                              "established identity). Please use API Key or other form of API consumer "
                              "identity to call this API.")
    if provider == "bfl":
        return provider_error(provider, 403, "Not authenticated - Invalid Authentication")
    if provider == "openai":
        return provider_error(provider, 401, "You didn't provide an API key. You need to provide your API key "
                              "in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
    return provider_error(provider, 401, "authorization: missing or invalid API key")


def model_not_served(provider: str, model: str, method: str = "generateContent") -> Response:
    """A model the provider does not (or no longer) serve, in its own words."""
    if provider == "openai":
        message = (f"The model `{model}` has been deprecated, learn more here: "
                   "https://platform.openai.com/docs/deprecations")
        return _json(404, {"error": {"message": message, "type": "invalid_request_error", "param": None,
                                     "code": "model_not_found"}})
    return provider_error(provider, 404, f"models/{model} is not found for API version v1beta, or is not "
                          f"supported for {method}. Call ListModels to see the list of available models and "
                          "their supported methods.")


# --- the server -------------------------------------------------------------------------

_OPENAI_SIZES = {
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
    "gpt-image": ("auto", "1024x1024", "1536x1024", "1024x1536"),
}
_STABILITY_SD3_MODELS = ("sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash",
                         "sd3-large", "sd3-large-turbo", "sd3-medium")
_ASPECT_RATIOS = ("16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21")
_BFL_SIZED_MODELS = ("flux-pro-1.1", "flux-pro", "flux-dev")  # take width/height; others aspect_ratio
# FLUX.2 endpoints take width/height from 256 to 2048 in steps of 16.
_BFL_FLUX2_PREFIX = "flux-2-"
# Chat models that still take sampling parameters; OpenAI's reasoning models refuse them.
_OPENAI_SAMPLING_FAMILIES = ("gpt-3.5", "gpt-4o", "gpt-4.1", "gpt-4-", "chatgpt-4o")
_GEMINI_THINKING_IMAGE_PREFIX = "gemini-3"

_ROUTES = Map([
    Rule("/openai/v1/images/generations", methods=["POST"], endpoint="openai_images"),
    Rule("/openai/v1/chat/completions", methods=["POST"], endpoint="openai_chat"),
    Rule("/openai/v1/models", methods=["GET"], endpoint="openai_models"),
    Rule("/openai/v1/models/<path:model>", methods=["GET"], endpoint="openai_model"),
    Rule("/<any(gemini, imagen):provider>/v1beta/models", methods=["GET"], endpoint="google_models"),
    Rule("/<any(gemini, imagen):provider>/v1beta/models/<model>", methods=["GET"], endpoint="google_model"),
    Rule("/recraft/v1/images/generations", methods=["POST"], endpoint="recraft_images"),
    Rule("/gemini/v1beta/models/<action>", methods=["POST"], endpoint="gemini"),
    Rule("/imagen/v1beta/models/<action>", methods=["POST"], endpoint="imagen"),
    Rule("/bfl/v1/get_result", methods=["GET"], endpoint="bfl_result"),
    Rule("/bfl/v1/<model>", methods=["POST"], endpoint="bfl_submit"),
    Rule("/stability/v2beta/stable-image/generate/<any(sd3, core, ultra):service>", methods=["POST"],
         endpoint="stability"),
    Rule("/<any(openai, recraft, bfl):provider>/files/<name>", methods=["GET"], endpoint="file"),
])


class QuietHandler(WSGIRequestHandler):
    """Logs the method and path only: Gemini's `?key=` must never reach a log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.info("%s %s %s", self.command, self.path.split("?", 1)[0], code)


@dataclass
class BflTask:
    model: str
    prompt: str
    moderated: bool
    polls: int = 0


class FakeProviders:
    """The fake providers' HTTP server: `start`, `base_urls`, `stop`."""

    def __init__(self, controls: ProviderControls | None = None) -> None:
        self.controls = controls or ProviderControls(HTTP_PROVIDERS)
        missing = set(HTTP_PROVIDERS) - set(self.controls.providers)
        if missing:
            raise ValueError(f"the controls must cover {', '.join(sorted(missing))}")
        self.port = 0
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._images: OrderedDict[str, bytes] = OrderedDict()
        self._tasks: OrderedDict[str, BflTask] = OrderedDict()

    def start(self, port: int = 0) -> None:
        """Listens on 127.0.0.1:`port` (0 picks a free one) in a background thread."""
        self._server = make_server(HOST, port, self, threaded=True, request_handler=QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-providers", daemon=True)
        self._thread.start()

    def base_urls(self) -> dict[str, str]:
        """Provider kind -> base URL: the JSON object the function's `PROVIDER_BASE_URLS` wants."""
        return {provider: f"{self.origin}/{provider}" for provider in HTTP_PROVIDERS}

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        self.controls.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # WSGI

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self.answer(Request(environ))(environ, start_response)

    def answer(self, request: Request) -> Response:
        if request.path.startswith("/_fake/"):
            status, body = self.controls.control(request.method, request.path[len("/_fake/"):], request.get_data())
            return _json(status, body)
        provider = request.path.strip("/").split("/", 1)[0]
        try:
            endpoint, args = _ROUTES.bind_to_environ(request.environ).match()
        except (NotFound, MethodNotAllowed) as err:
            if provider in HTTP_PROVIDERS:
                return provider_error(provider, err.code or 404, f"Invalid URL ({request.method} {request.path})")
            return _json(404, {"error": f"no provider at {request.path}; providers: {', '.join(HTTP_PROVIDERS)}"})
        except HTTPException as err:
            return _json(err.code or 400, {"error": str(err)})
        if endpoint == "file":
            return self._file(args["name"])
        handler: Callable[..., Response] = getattr(self, f"_{endpoint}")
        return handler(request, **args)

    # helpers

    def _keep(self, png: bytes) -> str:
        """Keeps an image for download; returns its file name."""
        name = f"{uuid.uuid4().hex}.png"
        with self._lock:
            self._images[name] = png
            while len(self._images) > KEPT_IMAGES:
                self._images.popitem(last=False)
        return name

    def _file(self, name: str) -> Response:
        with self._lock:
            png = self._images.get(name)
        if png is None:
            # Like an expired signed URL on the providers' blob stores.
            return Response("The specified blob does not exist.", status=404, mimetype="text/plain")
        return Response(png, mimetype="image/png")

    def _begin(self, provider: str, request: Request, model: str | None, key_present: bool) -> tuple[Call, Response | None]:
        """The common start of every API request: log, hold, key check, injected failure."""
        call = self.controls.arrive(provider, request.method, request.path, model, key_present)
        if not key_present:
            return call, call.done(missing_key(provider))
        if self.controls.is_revoked(provider, self._presented_key(provider, request)):
            with self.controls.lock:
                call.entry["key_revoked"] = True
            return call, call.done(invalid_key(provider))
        if self.controls.take_bad_key(provider):
            return call, call.done(invalid_key(provider))
        failure = self.controls.take_failure(provider)
        if failure is not None:
            return call, call.done(provider_error(provider, failure.status, failure.message))
        return call, None

    @staticmethod
    def _presented_key(provider: str, request: Request) -> str:
        """The key a request carries, where `provider` takes it (compared, never logged)."""
        if provider in ("gemini", "imagen"):
            return str(request.args.get("key") or request.headers.get("x-goog-api-key") or "")
        if provider == "bfl":
            return str(request.headers.get("x-key") or "")
        return request.headers.get("Authorization", "").partition(" ")[2].strip()

    @staticmethod
    def _bearer(request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and bool(token.strip())

    @staticmethod
    def _google_key(request: Request) -> bool:
        return bool(request.args.get("key") or request.headers.get("x-goog-api-key"))

    @staticmethod
    def _body(request: Request) -> dict[str, Any] | None:
        try:
            body = json.loads(request.get_data() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

    # OpenAI

    def _openai_images(self, request: Request) -> Response:
        body = self._body(request) or {}
        model = str(body.get("model") or "dall-e-2")
        call, early = self._begin("openai", request, model, self._bearer(request))
        if early:
            return early

        def invalid(message: str, param: str, code: str = "invalid_value") -> Response:
            return call.done(_json(400, {"error": {"message": message, "type": "invalid_request_error",
                                                   "param": param, "code": code}}))

        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return invalid("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
        if not self.controls.catalogue.served("openai", model):
            return call.done(model_not_served("openai", model))
        family = "gpt-image" if model.startswith("gpt-image") else model
        sizes = _OPENAI_SIZES.get(family)
        if sizes is None:
            return invalid(f"Invalid value: '{model}'. Supported values are: 'dall-e-2', 'dall-e-3' and "
                           "'gpt-image-1'.", "model")
        size = str(body.get("size", sizes[0] if family == "gpt-image" else "1024x1024"))
        if size not in sizes:
            return invalid(f"Invalid value: '{size}'. Supported values are: "
                           f"{', '.join(repr(s) for s in sizes)}.", "size")
        n = body.get("n", 1)
        if not isinstance(n, int) or not 1 <= n <= (1 if model == "dall-e-3" else 10):
            return invalid(f"Invalid 'n': {n} is not supported for {model}.", "n", "invalid_value")
        if family == "gpt-image" and "response_format" in body:
            return invalid("Unknown parameter: 'response_format'.", "response_format", "unknown_parameter")
        if self.controls.take_refusal("openai"):
            if family == "gpt-image":
                return call.done(_json(400, {"error": {
                    "message": "Your request was rejected by the safety system. If you believe this is an error, "
                               "contact us at help.openai.com and include the request ID.",
                    "type": "image_generation_user_error", "param": None, "code": "moderation_blocked"}}))
            return call.done(_json(400, {"error": {
                "message": "Your request was rejected as a result of our safety system. Your prompt may contain "
                           "text that is not allowed by our safety system.",
                "type": "invalid_request_error", "param": None, "code": "content_policy_violation"}}))
        images = [placeholder_png(f"openai:{model}:{prompt}:{i}") for i in range(n)]
        answer: dict[str, Any] = {"created": int(time.time())}
        if family == "gpt-image":
            answer["data"] = [{"b64_json": b64(png)} for png in images]
            answer["usage"] = {"input_tokens": len(prompt.split()), "output_tokens": 4160 * n,
                               "total_tokens": len(prompt.split()) + 4160 * n,
                               "input_tokens_details": {"text_tokens": len(prompt.split()), "image_tokens": 0}}
        elif body.get("response_format") == "b64_json":
            answer["data"] = [{"b64_json": b64(png)} for png in images]
        else:
            answer["data"] = [{"url": f"{self.origin}/openai/files/{self._keep(png)}"} for png in images]
        if model == "dall-e-3":
            answer["data"][0]["revised_prompt"] = enhanced_prompt(prompt)
        return call.done(_json(200, answer))

    def _openai_chat(self, request: Request) -> Response:
        body = self._body(request) or {}
        model = body.get("model")
        call, early = self._begin("openai", request, model if isinstance(model, str) else None, self._bearer(request))
        if early:
            return early
        messages = body.get("messages")
        if not isinstance(model, str) or not isinstance(messages, list) or not messages:
            param = "model" if not isinstance(model, str) else "messages"
            return call.done(_json(400, {"error": {"message": f"Missing required parameter: '{param}'.",
                                                   "type": "invalid_request_error", "param": param,
                                                   "code": "missing_required_parameter"}}))
        if not self.controls.catalogue.served("openai", model):
            return call.done(model_not_served("openai", model))
        if not model.startswith(_OPENAI_SAMPLING_FAMILIES):
            if "max_tokens" in body:
                return call.done(_json(400, {"error": {
                    "message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                               "'max_completion_tokens' instead.",
                    "type": "invalid_request_error", "param": "max_tokens", "code": "unsupported_parameter"}}))
            temperature = body.get("temperature", 1)
            if temperature != 1:
                return call.done(_json(400, {"error": {
                    "message": f"Unsupported value: 'temperature' does not support {temperature} with this model. "
                               "Only the default (1) value is supported.",
                    "type": "invalid_request_error", "param": "temperature", "code": "unsupported_value"}}))
        user = next((m.get("content") for m in reversed(messages)
                     if isinstance(m, dict) and m.get("role") == "user"), "")
        user = user if isinstance(user, str) else ""
        message: dict[str, Any] = {"role": "assistant", "content": enhanced_prompt(user), "refusal": None,
                                   "annotations": []}
        if self.controls.take_refusal("openai"):
            message.update(content=None, refusal="I'm sorry, but I can't help with that request.")
        words = sum(len(str(m.get("content", "")).split()) for m in messages if isinstance(m, dict))
        answer_words = len(str(message["content"] or message["refusal"]).split())
        return call.done(_json(200, {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "system_fingerprint": "fp_local",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": words, "completion_tokens": answer_words, "total_tokens": words + answer_words},
        }))

    # Recraft

    def _recraft_images(self, request: Request) -> Response:
        body = self._body(request) or {}
        model = str(body.get("model") or "recraftv3")
        call, early = self._begin("recraft", request, model, self._bearer(request))
        if early:
            return early
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return call.done(provider_error("recraft", 400, "prompt is required", "invalid_prompt"))
        if len(prompt) > 1000:
            return call.done(provider_error("recraft", 400, "prompt is longer than 1000 characters", "invalid_prompt"))
        n = body.get("n", 1)
        if not isinstance(n, int) or not 1 <= n <= 6:
            return call.done(provider_error("recraft", 400, "n must be between 1 and 6", "invalid_n"))
        if self.controls.take_refusal("recraft"):
            return call.done(provider_error("recraft", 400, "The prompt was rejected by content moderation",
                                            "content_moderation"))
        images = [placeholder_png(f"recraft:{model}:{prompt}:{i}") for i in range(n)]
        if body.get("response_format") == "b64_json":
            data = [{"image_id": str(uuid.uuid4()), "b64_json": b64(png)} for png in images]
        else:
            data = [{"image_id": str(uuid.uuid4()), "url": f"{self.origin}/recraft/files/{self._keep(png)}"}
                    for png in images]
        return call.done(_json(200, {"created": int(time.time()), "credits": 40 * n, "data": data}))

    # Google: Gemini and Imagen

    def _gemini(self, request: Request, action: str) -> Response:
        model, _, method = action.partition(":")
        call, early = self._begin("gemini", request, model, self._google_key(request))
        if early:
            return early
        if method != "generateContent" or not model.startswith("gemini-") or \
                not self.controls.catalogue.served("gemini", model):
            return call.done(model_not_served("gemini", model, method or "this method"))
        body = self._body(request)
        contents = body.get("contents") if body else None
        if not isinstance(contents, list) or not contents:
            return call.done(provider_error("gemini", 400, "* GenerateContentRequest.contents: contents is not "
                                            "specified"))
        prompt = " ".join(str(part.get("text", "")) for content in contents if isinstance(content, dict)
                          for part in content.get("parts", []) if isinstance(part, dict)).strip()
        modalities = ((body or {}).get("generationConfig") or {}).get("responseModalities") or ["TEXT"]
        wants_image = "IMAGE" in modalities
        if wants_image and "image" not in model:
            return call.done(provider_error("gemini", 400, "The requested combination of response modalities "
                                            f"({', '.join(modalities)}) is not supported by the model "
                                            f"models/{model}."))
        usage = {"promptTokenCount": len(prompt.split()), "candidatesTokenCount": 1290 if wants_image else 40,
                 "totalTokenCount": len(prompt.split()) + (1290 if wants_image else 40)}
        if self.controls.take_refusal("gemini"):
            return call.done(_json(200, {
                "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
                    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]},
                "usageMetadata": usage, "modelVersion": model}))
        filtered = self.controls.take_refusal("gemini", "output") if wants_image else None
        if filtered is not None:
            # The image models stop with an image-specific finish reason and no image.
            return call.done(_json(200, {
                "candidates": [{"content": {"parts": [{"text": "I can't create that image."}], "role": "model"},
                                "finishReason": filtered.reason, "index": 0,
                                "finishMessage": "Unable to show the generated image."}],
                "usageMetadata": usage, "modelVersion": model}))
        if wants_image:
            parts: list[dict[str, Any]] = []
            if model.startswith(_GEMINI_THINKING_IMAGE_PREFIX):
                # Thinking image models show interim "thought" images first (a smaller PNG here).
                parts += [{"text": "Sketching the composition first.", "thought": True},
                          {"inlineData": {"mimeType": "image/png",
                                          "data": b64(placeholder_png(f"gemini-thought:{model}:{prompt}",
                                                                      IMAGE_SIZE // 2))},
                           "thought": True}]
            parts += [
                {"text": "Here is the image you asked for."},
                {"inlineData": {"mimeType": "image/png", "data": b64(placeholder_png(f"gemini:{model}:{prompt}"))}},
            ]
        else:
            parts = [{"text": enhanced_prompt(prompt)}]
        return call.done(_json(200, {
            "candidates": [{"content": {"parts": parts, "role": "model"}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage, "modelVersion": model, "responseId": uuid.uuid4().hex[:22],
        }))

    def _imagen(self, request: Request, action: str) -> Response:
        model, _, method = action.partition(":")
        call, early = self._begin("imagen", request, model, self._google_key(request))
        if early:
            return early
        if method != "predict" or not model.startswith("imagen-") or \
                not self.controls.catalogue.served("imagen", model):
            return call.done(model_not_served("imagen", model, method or "this method"))
        body = self._body(request) or {}
        instances = body.get("instances")
        prompt = instances[0].get("prompt") if isinstance(instances, list) and instances and \
            isinstance(instances[0], dict) else None
        if not isinstance(prompt, str) or not prompt.strip():
            return call.done(provider_error("imagen", 400, "Invalid prompt: the prompt is empty."))
        parameters = body.get("parameters") or {}
        count = parameters.get("sampleCount", 4)
        if not isinstance(count, int) or not 1 <= count <= 4:
            return call.done(provider_error("imagen", 400, "sampleCount must be between 1 and 4."))
        if self.controls.take_refusal("imagen"):
            # Imagen answers `{}` when every sample was filtered, unless asked for the reason.
            if parameters.get("includeRaiReason"):
                return call.done(_json(200, {"predictions": [{"raiFilteredReason": (
                    "Your current safety filter threshold filtered out the generated image. You will not be "
                    "charged for blocked images. Try rephrasing the prompt.")}]}))
            return call.done(_json(200, {}))
        return call.done(_json(200, {"predictions": [
            {"bytesBase64Encoded": b64(placeholder_png(f"imagen:{model}:{prompt}:{i}")), "mimeType": "image/png"}
            for i in range(count)
        ]}))

    # Black Forest Labs

    def _bfl_submit(self, request: Request, model: str) -> Response:
        call, early = self._begin("bfl", request, model, bool(request.headers.get("x-key")))
        if early:
            return early
        if not model.startswith("flux-"):
            return call.done(provider_error("bfl", 404, "Not Found"))
        body = self._body(request)
        if body is None:
            return call.done(_json(422, {"detail": [{"type": "json_invalid", "loc": ["body"],
                                                     "msg": "JSON decode error", "input": None}]}))
        problems = []
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            problems.append({"type": "string_type", "loc": ["body", "prompt"], "msg": "Input should be a valid string",
                             "input": prompt})
        if model in _BFL_SIZED_MODELS:
            for dimension in ("width", "height"):
                value = body.get(dimension, 1024 if dimension == "width" else 768)
                if not isinstance(value, int) or not 256 <= value <= 1440 or value % 32:
                    problems.append({"type": "value_error", "loc": ["body", dimension], "input": value,
                                     "msg": "Value error, must be a multiple of 32 between 256 and 1440"})
        elif model.startswith(_BFL_FLUX2_PREFIX):
            for dimension in ("width", "height"):
                value = body.get(dimension, 1024)
                if not isinstance(value, int) or not 256 <= value <= 2048 or value % 16:
                    problems.append({"type": "value_error", "loc": ["body", dimension], "input": value,
                                     "msg": "Value error, must be a multiple of 16 between 256 and 2048"})
        if problems:
            return call.done(_json(422, {"detail": problems}))
        task_id = str(uuid.uuid4())
        task = BflTask(model, str(prompt), moderated=self.controls.take_refusal("bfl") is not None)
        with self._lock:
            self._tasks[task_id] = task
            while len(self._tasks) > KEPT_IMAGES:
                self._tasks.popitem(last=False)
        return call.done(_json(200, {"id": task_id, "polling_url": f"{self.origin}/bfl/v1/get_result?id={task_id}",
                                     "cost": 4.0, "input_mp": 0.0, "output_mp": 1.05}))

    def _bfl_result(self, request: Request) -> Response:
        task_id = request.args.get("id", "")
        with self._lock:
            task = self._tasks.get(task_id)
        call, early = self._begin("bfl", request, task.model if task else None, bool(request.headers.get("x-key")))
        if early:
            return early
        if task is None:
            return call.done(_json(200, {"id": task_id, "status": "Task not found", "result": None}))
        with self._lock:
            task.polls += 1
        if task.moderated:
            return call.done(_json(200, {"id": task_id, "status": "Request Moderated", "result": None,
                                         "details": {"Moderation Reasons": ["Derivative Works Filter"]}}))
        # Like a real task, the first poll finds it still running.
        if task.polls == 1:
            return call.done(_json(200, {"id": task_id, "status": "Pending", "result": None, "progress": 0.5}))
        sample = f"{self.origin}/bfl/files/{self._sample(task_id, task)}"
        return call.done(_json(200, {"id": task_id, "status": "Ready", "progress": None, "result": {
            "sample": sample, "prompt": task.prompt, "seed": int(hashlib.sha256(task_id.encode()).hexdigest()[:6], 16),
            "start_time": time.time() - 2, "end_time": time.time(), "duration": 2.0}}))

    def _sample(self, task_id: str, task: BflTask) -> str:
        """The sample's file name, made on the first `Ready` answer and kept for the later ones."""
        name = f"{task_id}.png"
        with self._lock:
            if name not in self._images:
                self._images[name] = placeholder_png(f"bfl:{task.model}:{task.prompt}")
        return name

    # Stability AI

    def _stability(self, request: Request, service: str) -> Response:
        model = request.form.get("model", "sd3.5-large") if service == "sd3" else service
        call, early = self._begin("stability", request, model, self._bearer(request))
        if early:
            return early

        def bad(message: str) -> Response:
            return call.done(provider_error("stability", 400, message))

        accept = request.headers.get("Accept", "image/*")
        accept = "image/*" if accept == "*/*" else accept
        if accept not in ("image/*", "application/json"):
            return bad("accept: must be image/* or application/json")
        if request.mimetype != "multipart/form-data":
            return bad("content-type: must be multipart/form-data")
        prompt = request.form.get("prompt", "")
        if not prompt.strip() or len(prompt) > 10000:
            return bad("prompt: is required and must be at most 10000 characters")
        if service == "sd3" and model not in _STABILITY_SD3_MODELS:
            return bad(f"model: must be one of {', '.join(_STABILITY_SD3_MODELS)}")
        if request.form.get("aspect_ratio", "1:1") not in _ASPECT_RATIOS:
            return bad(f"aspect_ratio: must be one of {', '.join(_ASPECT_RATIOS)}")
        formats = ("png", "jpeg") if service == "sd3" else ("png", "jpeg", "webp")
        if request.form.get("output_format", "png") not in formats:
            return bad(f"output_format: must be one of {', '.join(formats)}")
        if self.controls.take_refusal("stability"):
            return call.done(provider_error("stability", 403, "Your request was flagged by our content moderation "
                                            "system, as a result your request was denied and you were not charged.",
                                            "content_moderation"))
        png = placeholder_png(f"stability:{model}:{prompt}")
        seed = str(int.from_bytes(hashlib.sha256(png).digest()[:4], "big"))
        # The output filter blurs what it catches; the answer is still a 200 image.
        finish = "CONTENT_FILTERED" if self.controls.take_refusal("stability", "output") else "SUCCESS"
        if accept == "application/json":
            return call.done(_json(200, {"image": b64(png), "finish_reason": finish, "seed": int(seed)}))
        return call.done(Response(png, mimetype="image/png", headers={"finish-reason": finish, "seed": seed}))

    # Model lists

    def _openai_models(self, request: Request) -> Response:
        call, early = self._begin("openai", request, None, self._bearer(request))
        if early:
            return early
        return call.done(_json(200, {"object": "list", "data": [
            _openai_model(model_id, entry.shutdown_date) for model_id, entry in self.controls.catalogue.listing("openai")
        ]}))

    def _openai_model(self, request: Request, model: str) -> Response:
        call, early = self._begin("openai", request, model, self._bearer(request))
        if early:
            return early
        entry = self.controls.catalogue.entry("openai", model)
        if entry is None or not self.controls.catalogue.served("openai", model):
            return call.done(_json(404, {"error": {"message": f"The model '{model}' does not exist",
                                                   "type": "invalid_request_error", "param": "model",
                                                   "code": "model_not_found"}}))
        return call.done(_json(200, _openai_model(model, entry.shutdown_date)))

    def _google_models(self, request: Request, provider: str) -> Response:
        call, early = self._begin(provider, request, None, self._google_key(request))
        if early:
            return early
        size = request.args.get("pageSize", "50")
        if not size.isdigit() or not 1 <= int(size) <= 1000:
            return call.done(provider_error(provider, 400, "page_size must be between 1 and 1000"))
        listing = self.controls.catalogue.listing(provider)
        start = int(request.args.get("pageToken") or 0) if (request.args.get("pageToken") or "0").isdigit() else 0
        page = listing[start:start + int(size)]
        answer: dict[str, Any] = {"models": [_google_model(model_id, entry.display_name, entry.extra)
                                             for model_id, entry in page]}
        if start + int(size) < len(listing):
            answer["nextPageToken"] = str(start + int(size))
        return call.done(_json(200, answer))

    def _google_model(self, request: Request, provider: str, model: str) -> Response:
        call, early = self._begin(provider, request, model, self._google_key(request))
        if early:
            return early
        entry = self.controls.catalogue.entry(provider, model)
        if entry is None or not self.controls.catalogue.served(provider, model):
            return call.done(provider_error(provider, 404, f"models/{model} is not found for API version v1beta."))
        return call.done(_json(200, _google_model(model, entry.display_name, entry.extra)))


def _openai_model(model_id: str, shutdown: Any) -> dict[str, Any]:
    """One `GET /v1/models` entry; `shutdown_date` is null until a shutdown is announced."""
    return {"id": model_id, "object": "model", "created": 1767225600, "owned_by": "system",
            "shutdown_date": shutdown.isoformat() if shutdown else None}


def _google_model(model_id: str, display_name: str, extra: dict[str, Any]) -> dict[str, Any]:
    """One `GET /v1beta/models` entry (the Gemini API reports no lifecycle fields)."""
    return {"name": f"models/{model_id}", "version": "001", "displayName": display_name or model_id,
            "description": display_name, "inputTokenLimit": 65536, "outputTokenLimit": 32768,
            "supportedGenerationMethods": list(extra.get("methods", ["generateContent"]))}

"""The fake AI providers and Bedrock InvokeModel, over real HTTP, as the deployed function uses them.

Each provider's request answers a decodable PNG in that provider's own answer shape; a
missing key, an injected failure and a refusal answer each provider's own error shapes;
a held provider keeps requests open until released; the request log never holds a key.
Each provider's model list answers in its own shape and a model it no longer serves is
refused. Bedrock is called with boto3's `bedrock-runtime` and `bedrock` clients against
the local AWS started with `--fake-providers`. Run: `.venv/bin/pytest tools/local-aws/test_fake_providers.py`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import signal
import struct
import subprocess
import threading
import urllib.error
import urllib.request
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from harness import REPO, start_local_aws, stop, wait_until
from localaws.fake_providers import HTTP_PROVIDERS, FakeProviders

KEY = "sk-fake-test-key-7f3a9c"
GPT_IMAGE = "gpt-image-2.6-sunburst"
GEMINI_IMAGE = "gemini-3.1-flash-image"
# Google shut Imagen down (2026-08-17); the wire-format tests revive one model with the
# `models` control.
IMAGEN = "imagen-4.0-generate-001"
Answer = tuple[int, dict[str, str], bytes]


# --- helpers --------------------------------------------------------------------------


def http(method: str, url: str, body: bytes | dict[str, Any] | None = None,
         headers: dict[str, str] | None = None) -> Answer:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    headers = {"Content-Type": "application/json", **(headers or {})} if isinstance(body, dict) else headers or {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def as_json(answer: Answer) -> Any:
    return json.loads(answer[2])


def json_object(data: bytes) -> dict[str, Any]:
    found = json.loads(data)
    assert isinstance(found, dict), found
    return found


def assert_png(data: bytes) -> tuple[int, int]:
    """Checks the signature, the IHDR chunk and that the pixel data inflates to the right size."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (kind, length) == (b"IHDR", 13)
    ihdr = data[16:29]
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(b"IHDR" + ihdr)
    width, height, depth, colour = struct.unpack(">IIBB", ihdr[:10])
    assert (depth, colour) == (8, 2)
    idat_at = data.index(b"IDAT")
    idat_length = struct.unpack(">I", data[idat_at - 4:idat_at])[0]
    pixels = zlib.decompress(data[idat_at + 4:idat_at + 4 + idat_length])
    assert len(pixels) == height * (1 + 3 * width)
    assert data.endswith(b"IEND\xaeB`\x82")
    return width, height


def multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
                    for name, value in fields.items())
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# --- the fake providers, in this process -------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProviders]:
    server = FakeProviders()
    server.start(0)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh_controls(request: pytest.FixtureRequest) -> None:
    if "fake" in request.fixturenames:
        origin = request.getfixturevalue("fake").origin
        assert http("POST", f"{origin}/_fake/reset", {})[0] == 200
        assert http("POST", f"{origin}/_fake/models", {"provider": "imagen", "model": IMAGEN, "state": "active"})[0] \
            == 200


def control(fake: FakeProviders, name: str, body: dict[str, Any]) -> dict[str, Any]:
    status, _, answer = http("POST", f"{fake.origin}/_fake/{name}", body)
    assert status == 200, answer
    return json_object(answer)


def logged(fake: FakeProviders) -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = json_object(http("GET", f"{fake.origin}/_fake/requests")[2])["requests"]
    return requests


class Client:
    """One request per provider as the Rust clients send it (the key optional)."""

    def __init__(self, fake: FakeProviders, key: str | None = KEY) -> None:
        self.urls = fake.base_urls()
        self.key = key

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def openai(self, model: str = GPT_IMAGE, prompt: str = "a red fox") -> Answer:
        return http("POST", f"{self.urls['openai']}/v1/images/generations",
                    {"model": model, "prompt": prompt, "size": "1024x1024", "n": 1}, self.bearer())

    def recraft(self, prompt: str = "a red fox") -> Answer:
        return http("POST", f"{self.urls['recraft']}/v1/images/generations",
                    {"model": "recraftv4_1", "prompt": prompt, "size": "1024x1024", "n": 1}, self.bearer())

    def gemini(self, prompt: str = "a red fox", image: bool = True, key_in_query: bool = False) -> Answer:
        body: dict[str, Any] = {"contents": [{"parts": [{"text": prompt}]}]}
        model = "gemini-3.5-flash"
        if image:
            body["generationConfig"] = {"responseModalities": ["TEXT", "IMAGE"]}
            model = GEMINI_IMAGE
        url = f"{self.urls['gemini']}/v1beta/models/{model}:generateContent"
        headers = {}
        if self.key and key_in_query:
            url += f"?key={self.key}"
        elif self.key:
            headers["x-goog-api-key"] = self.key
        return http("POST", url, body, headers)

    def imagen(self, prompt: str = "a red fox") -> Answer:
        headers = {"x-goog-api-key": self.key} if self.key else {}
        return http("POST", f"{self.urls['imagen']}/v1beta/models/{IMAGEN}:predict",
                    {"instances": [{"prompt": prompt}], "parameters": {"sampleCount": 1}}, headers)

    def bfl(self, prompt: str = "a red fox") -> Answer:
        headers = {"x-key": self.key} if self.key else {}
        return http("POST", f"{self.urls['bfl']}/v1/flux-2-pro", {"prompt": prompt, "width": 1024, "height": 1024},
                    headers)

    def bfl_poll(self, polling_url: str) -> Answer:
        return http("GET", polling_url, headers={"x-key": self.key} if self.key else {})

    def stability(self, prompt: str = "a red fox", accept: str = "image/*") -> Answer:
        body, content_type = multipart({"prompt": prompt, "model": "sd3.5-large-turbo", "output_format": "png",
                                        "aspect_ratio": "1:1"})
        return http("POST", f"{self.urls['stability']}/v2beta/stable-image/generate/sd3", body,
                    {**self.bearer(), "Accept": accept, "Content-Type": content_type})

    def call(self, provider: str, prompt: str = "a red fox") -> Answer:
        method: Callable[..., Answer] = getattr(self, provider)
        return method(prompt=prompt)


def final_gemini_image(answer: dict[str, Any]) -> bytes:
    """The last image part that is not a thought, as the Rust client takes it."""
    parts = [p for p in answer["candidates"][0]["content"]["parts"] if "inlineData" in p and not p.get("thought")]
    return base64.b64decode(parts[-1]["inlineData"]["data"])


def image_of(fake: FakeProviders, provider: str, answer: Answer, key: str = KEY) -> bytes:
    """The image bytes inside a successful answer, downloading URLs as the clients do (BFL polls with `key`)."""
    status, headers, body = answer
    assert status == 200, body
    if provider == "stability":
        assert headers["content-type"] == "image/png" and headers["finish-reason"] == "SUCCESS"
        return body
    found = json.loads(body)
    if provider == "gemini":
        return final_gemini_image(found)
    if provider == "imagen":
        return base64.b64decode(found["predictions"][0]["bytesBase64Encoded"])
    if provider == "bfl":
        poll = Client(fake, key=key).bfl_poll
        assert as_json(poll(found["polling_url"]))["status"] == "Pending"
        url = as_json(poll(found["polling_url"]))["result"]["sample"]
    else:
        item = found["data"][0]
        if "b64_json" in item:
            return base64.b64decode(item["b64_json"])
        url = item["url"]
    assert url.startswith(f"{fake.origin}/{provider}/"), url
    downloaded = http("GET", url)  # signed-URL style: no key
    assert downloaded[0] == 200 and downloaded[1]["content-type"] == "image/png"
    return downloaded[2]


# --- images ----------------------------------------------------------------------------


@pytest.mark.parametrize("provider", HTTP_PROVIDERS)
def test_each_provider_answers_a_real_png_in_its_own_shape(fake: FakeProviders, provider: str) -> None:
    png = image_of(fake, provider, Client(fake).call(provider))
    assert assert_png(png) == (64, 64)
    entries = logged(fake)
    assert entries and all(e["provider"] == provider and e["key_present"] and e["status"] == 200 for e in entries)


def test_openai_answers_base64_for_gpt_image_and_refuses_shut_down_models(fake: FakeProviders) -> None:
    client = Client(fake)
    assert set(as_json(client.openai(GPT_IMAGE))["data"][0]) == {"b64_json"}
    for retired in ("dall-e-3", "gpt-image-1"):
        status, _, body = client.openai(retired)
        assert status == 404 and json.loads(body)["error"]["code"] == "model_not_found", body
        assert f"The model `{retired}` has been deprecated" in json.loads(body)["error"]["message"]


def test_models_google_shut_down_are_not_found(fake: FakeProviders) -> None:
    client = Client(fake)
    for model, method in (("gemini-2.0-flash-preview-image-generation", "generateContent"),
                          ("imagen-3.0-generate-002", "predict")):
        provider = "gemini" if method == "generateContent" else "imagen"
        answer = http("POST", f"{client.urls[provider]}/v1beta/models/{model}:{method}",
                      {"contents": [{"parts": [{"text": "x"}]}], "instances": [{"prompt": "x"}]},
                      {"x-goog-api-key": KEY})
        assert answer[0] == 404 and as_json(answer)["error"]["status"] == "NOT_FOUND", answer


def test_gemini_thinking_image_models_send_thought_images_before_the_final_one(fake: FakeProviders) -> None:
    found = as_json(Client(fake).gemini())
    parts = found["candidates"][0]["content"]["parts"]
    thoughts = [p for p in parts if p.get("thought") and "inlineData" in p]
    assert thoughts and parts.index(thoughts[-1]) < len(parts) - 1
    assert assert_png(base64.b64decode(thoughts[0]["inlineData"]["data"])) == (32, 32)
    assert assert_png(final_gemini_image(found)) == (64, 64)


def test_stability_answers_json_when_asked(fake: FakeProviders) -> None:
    found = as_json(Client(fake).stability(accept="application/json"))
    assert found["finish_reason"] == "SUCCESS" and isinstance(found["seed"], int)
    assert_png(base64.b64decode(found["image"]))


def test_images_differ_by_prompt_and_model(fake: FakeProviders) -> None:
    client = Client(fake)
    fox, owl = (image_of(fake, "imagen", client.imagen(p)) for p in ("a fox", "an owl"))
    gpt = base64.b64decode(as_json(client.openai(GPT_IMAGE, "a fox"))["data"][0]["b64_json"])
    assert len({fox, owl, gpt}) == 3
    assert image_of(fake, "imagen", client.imagen("a fox")) == fox


def test_bfl_submit_poll_download(fake: FakeProviders) -> None:
    client = Client(fake)
    task = as_json(client.bfl())
    assert task["polling_url"] == f"{fake.origin}/bfl/v1/get_result?id={task['id']}"
    assert as_json(client.bfl_poll(task["polling_url"])) == {
        "id": task["id"], "status": "Pending", "result": None, "progress": 0.5}
    ready = as_json(client.bfl_poll(task["polling_url"]))
    assert ready["status"] == "Ready" and ready["result"]["prompt"] == "a red fox"
    assert ready["result"]["sample"].startswith("http://127.0.0.1:")
    assert_png(http("GET", ready["result"]["sample"])[2])
    assert as_json(client.bfl_poll(f"{fake.origin}/bfl/v1/get_result?id=nope"))["status"] == "Task not found"
    assert as_json(http("POST", f"{client.urls['bfl']}/v1/flux-2-pro", {"prompt": "x", "width": 1000},
                        {"x-key": KEY}))["detail"][0]["loc"] == ["body", "width"]
    assert as_json(http("POST", f"{client.urls['bfl']}/v1/flux-pro-1.1", {"prompt": "x", "width": 1000},
                        {"x-key": KEY}))["detail"][0]["loc"] == ["body", "width"]


def test_chat_models_answer_a_longer_prompt(fake: FakeProviders) -> None:
    client = Client(fake)
    chat = as_json(http("POST", f"{client.urls['openai']}/v1/chat/completions", {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": "Improve prompts."}, {"role": "user", "content": "a fox"}],
    }, client.bearer()))
    assert chat["object"] == "chat.completion" and chat["choices"][0]["finish_reason"] == "stop"
    enhanced = chat["choices"][0]["message"]["content"]
    assert enhanced.startswith("a fox, ") and len(enhanced) > len("a fox")
    gemini = as_json(client.gemini("a fox", image=False))
    text = gemini["candidates"][0]["content"]["parts"][0]["text"]
    assert text.startswith("a fox, ") and len(text) > len("a fox")


def test_reasoning_chat_models_refuse_max_tokens_and_a_temperature(fake: FakeProviders) -> None:
    client = Client(fake)
    url = f"{client.urls['openai']}/v1/chat/completions"
    messages = [{"role": "user", "content": "a fox"}]
    old_style = http("POST", url, {"model": "gpt-6-luna", "messages": messages, "max_tokens": 400}, client.bearer())
    assert old_style[0] == 400 and as_json(old_style)["error"]["code"] == "unsupported_parameter"
    warm = http("POST", url, {"model": "gpt-6-luna", "messages": messages, "temperature": 0.7,
                              "max_completion_tokens": 400}, client.bearer())
    assert warm[0] == 400 and as_json(warm)["error"]["param"] == "temperature"
    ok = http("POST", url, {"model": "gpt-6-luna", "messages": messages, "max_completion_tokens": 4000,
                            "reasoning_effort": "low"}, client.bearer())
    assert ok[0] == 200 and as_json(ok)["choices"][0]["message"]["content"].startswith("a fox, ")
    classic = http("POST", url, {"model": "gpt-4o-mini", "messages": messages, "max_tokens": 400,
                                 "temperature": 0.7}, client.bearer())
    assert classic[0] == 200

def test_requests_outside_a_providers_api_get_its_errors(fake: FakeProviders) -> None:
    client = Client(fake)
    bad_size = http("POST", f"{client.urls['openai']}/v1/images/generations",
                    {"model": GPT_IMAGE, "prompt": "x", "size": "999x999"}, client.bearer())
    assert bad_size[0] == 400 and as_json(bad_size)["error"]["param"] == "size"
    unknown = http("POST", f"{client.urls['gemini']}/v1beta/models/palm-2:generateContent",
                   {"contents": [{"parts": [{"text": "x"}]}]}, {"x-goog-api-key": KEY})
    assert unknown[0] == 404 and as_json(unknown)["error"]["status"] == "NOT_FOUND"
    text_model_image = http("POST", f"{client.urls['gemini']}/v1beta/models/gemini-3.5-flash:generateContent",
                            {"contents": [{"parts": [{"text": "x"}]}],
                             "generationConfig": {"responseModalities": ["TEXT", "IMAGE"]}}, {"x-goog-api-key": KEY})
    assert text_model_image[0] == 400 and as_json(text_model_image)["error"]["status"] == "INVALID_ARGUMENT"
    assert http("GET", f"{client.urls['recraft']}/v2/nothing")[:3:2] == (404, b"404 page not found")


# --- keys -------------------------------------------------------------------------------

# provider -> (status, a check of the body) for a request without a key
MISSING_KEY: dict[str, tuple[int, Callable[[bytes], bool]]] = {
    "openai": (401, lambda b: "didn't provide an API key" in json.loads(b)["error"]["message"]),
    "recraft": (401, lambda b: b == b"request unauthorized"),
    "gemini": (403, lambda b: json.loads(b)["error"]["status"] == "PERMISSION_DENIED"),
    "imagen": (403, lambda b: json.loads(b)["error"]["status"] == "PERMISSION_DENIED"),
    "bfl": (403, lambda b: json.loads(b) == {"detail": "Not authenticated - Invalid Authentication"}),
    "stability": (401, lambda b: json.loads(b)["name"] == "unauthorized"),
}


@pytest.mark.parametrize("provider", HTTP_PROVIDERS)
def test_missing_key_answers_the_providers_own_error(fake: FakeProviders, provider: str) -> None:
    status, _, body = Client(fake, key=None).call(provider)
    expected_status, check = MISSING_KEY[provider]
    assert status == expected_status and check(body), body
    assert [(e["provider"], e["key_present"], e["status"]) for e in logged(fake)] == [(provider, False, status)]


# provider -> (status, a check that the body is that provider's invalid-key error)
INVALID_KEY: dict[str, tuple[int, Callable[[bytes], bool]]] = {
    "openai": (401, lambda b: json.loads(b)["error"]["code"] == "invalid_api_key"),
    "recraft": (401, lambda b: b == b"request unauthorized"),
    "gemini": (400, lambda b: json.loads(b)["error"]["details"][0]["reason"] == "API_KEY_INVALID"),
    "imagen": (400, lambda b: json.loads(b)["error"]["status"] == "INVALID_ARGUMENT"),
    "bfl": (403, lambda b: json.loads(b) == {"detail": "Not authenticated - Invalid Authentication"}),
    "stability": (401, lambda b: json.loads(b)["name"] == "unauthorized"),
}


@pytest.mark.parametrize("provider", HTTP_PROVIDERS)
def test_a_revoked_key_is_refused_and_another_accepted(fake: FakeProviders, provider: str) -> None:
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    assert control(fake, "revoke", {"provider": provider, "key_sha256": digest}) == {
        "revoked": {"provider": provider, "keys": 1}}
    status, _, body = Client(fake).call(provider)
    expected_status, check = INVALID_KEY[provider]
    assert status == expected_status and check(body), body
    # The rotated-in key works; the log says which request was refused, never with what.
    image_of(fake, provider, Client(fake, key="sk-rotated-in-key-2").call(provider), key="sk-rotated-in-key-2")
    entries = [e for e in logged(fake) if e["method"] == "POST"]
    assert [(e.get("key_revoked", False), e["status"]) for e in entries][:2] == [(True, expected_status), (False, 200)]
    assert KEY not in json.dumps(logged(fake)) and digest not in json.dumps(logged(fake))
    control(fake, "clear", {"provider": provider})
    image_of(fake, provider, Client(fake).call(provider))


def test_gemini_takes_the_key_in_the_query_too(fake: FakeProviders) -> None:
    assert Client(fake).gemini(key_in_query=True)[0] == 200


def test_no_key_value_reaches_the_request_log_or_the_server_log(
        fake: FakeProviders, caplog: pytest.LogCaptureFixture) -> None:
    client = Client(fake)
    with caplog.at_level(logging.INFO, logger="localaws.fake_providers"):
        for provider in HTTP_PROVIDERS:
            image_of(fake, provider, client.call(provider))
        client.gemini(key_in_query=True)
    entries = logged(fake)
    assert len(entries) >= len(HTTP_PROVIDERS) + 1
    assert KEY not in json.dumps(entries)
    assert any(e["path"].endswith(":generateContent") and e["key_present"] for e in entries)
    assert caplog.records and KEY not in caplog.text


# --- failures, refusals, holds ----------------------------------------------------------

# provider -> a check that the body is that provider's error shape with the injected message
ERROR_SHAPE: dict[str, Callable[[bytes], bool]] = {
    "openai": lambda b: json.loads(b)["error"] == {"message": "boom", "type": "server_error", "param": None,
                                                   "code": None},
    "recraft": lambda b: json.loads(b) == {"code": "service_unavailable", "message": "boom"},
    "gemini": lambda b: json.loads(b) == {"error": {"code": 503, "message": "boom", "status": "UNAVAILABLE"}},
    "imagen": lambda b: json.loads(b) == {"error": {"code": 503, "message": "boom", "status": "UNAVAILABLE"}},
    "bfl": lambda b: json.loads(b) == {"detail": "boom"},
    "stability": lambda b: json.loads(b)["name"] == "service_unavailable" and json.loads(b)["errors"] == ["boom"],
}


@pytest.mark.parametrize("provider", HTTP_PROVIDERS)
def test_fail_answers_the_providers_error_format_for_the_given_times(fake: FakeProviders, provider: str) -> None:
    client = Client(fake)
    armed = control(fake, "fail", {"provider": provider, "status": 503, "message": "boom", "times": 2})
    assert armed["fail"]["times"] == 2
    for _ in range(2):
        status, _, body = client.call(provider)
        assert status == 503 and ERROR_SHAPE[provider](body), body
    image_of(fake, provider, client.call(provider))


def test_fail_lasts_until_cleared_and_only_for_that_provider(fake: FakeProviders) -> None:
    client = Client(fake)
    control(fake, "fail", {"provider": "openai", "status": 429})
    for _ in range(3):
        status, _, body = client.openai()
        assert status == 429 and json.loads(body)["error"]["code"] == "rate_limit_exceeded"
    assert client.recraft()[0] == 200
    control(fake, "clear", {"provider": "openai"})
    assert client.openai()[0] == 200


# provider -> a check that the answer is that provider's refusal
REFUSAL: dict[str, Callable[[Answer], bool]] = {
    "openai": lambda a: a[0] == 400 and json.loads(a[2])["error"]["code"] == "moderation_blocked",
    "recraft": lambda a: a[0] == 400 and json.loads(a[2])["code"] == "content_moderation",
    "gemini": lambda a: a[0] == 200 and json.loads(a[2])["promptFeedback"]["blockReason"] == "SAFETY"
    and "candidates" not in json.loads(a[2]),
    "imagen": lambda a: a[0] == 200 and json.loads(a[2]) == {},
    "bfl": lambda a: a[0] == 200 and json.loads(a[2])["status"] == "Request Moderated",
    "stability": lambda a: a[0] == 403 and json.loads(a[2])["name"] == "content_moderation",
}


@pytest.mark.parametrize("provider", HTTP_PROVIDERS)
def test_refuse_answers_the_providers_content_policy_shape_once(fake: FakeProviders, provider: str) -> None:
    client = Client(fake)
    control(fake, "refuse", {"provider": provider, "times": 1})
    answer = client.call(provider)
    if provider == "bfl":  # BFL accepts the task and reports the moderation when polled
        answer = client.bfl_poll(as_json(answer)["polling_url"])
    assert REFUSAL[provider](answer), answer
    image_of(fake, provider, client.call(provider))


def test_refused_chat_answers_a_refusal_instead_of_content(fake: FakeProviders) -> None:
    client = Client(fake)
    control(fake, "refuse", {"provider": "openai"})
    chat = as_json(http("POST", f"{client.urls['openai']}/v1/chat/completions",
                        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}, client.bearer()))
    message = chat["choices"][0]["message"]
    assert message["content"] is None and message["refusal"]
    image = client.openai(GPT_IMAGE)
    assert image[0] == 400 and as_json(image)["error"]["code"] == "moderation_blocked"


def test_hold_keeps_requests_open_until_released(fake: FakeProviders) -> None:
    client = Client(fake)
    control(fake, "hold", {"provider": "imagen"})
    answers: list[Answer] = []
    worker = threading.Thread(target=lambda: answers.append(client.imagen()))
    worker.start()
    wait_until("the imagen request to be held", lambda: any(e["held"] for e in logged(fake)))
    assert client.openai()[0] == 200  # other providers are not held
    assert answers == [] and worker.is_alive()
    assert control(fake, "release", {"provider": "imagen"}) == {"held": []}
    worker.join(timeout=5)
    assert_png(image_of(fake, "imagen", answers[0]))
    assert [e["held"] for e in logged(fake)] == [False, False]


def test_controls_reject_what_they_cannot_do(fake: FakeProviders) -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("fail", {"provider": "midjourney"}), ("fail", {"provider": "openai", "status": 200}),
        ("refuse", {"provider": "openai", "times": 0}), ("hold", {})]
    for name, body in cases:
        status, _, answer = http("POST", f"{fake.origin}/_fake/{name}", body)
        assert status == 400 and json.loads(answer)["error"], (name, body)
    assert http("POST", f"{fake.origin}/_fake/explode", {})[0] == 404


# --- model lists and lifecycle ------------------------------------------------------------


def test_openai_lists_its_models_with_their_shutdown_dates(fake: FakeProviders) -> None:
    client = Client(fake)
    listed = as_json(http("GET", f"{client.urls['openai']}/v1/models", headers=client.bearer()))
    assert listed["object"] == "list"
    by_id = {m["id"]: m for m in listed["data"]}
    assert by_id[GPT_IMAGE] == {"id": GPT_IMAGE, "object": "model", "created": 1767225600, "owned_by": "system",
                                "shutdown_date": None}
    assert by_id["gpt-4o-mini"]["shutdown_date"] == "2027-01-14"
    assert "dall-e-3" not in by_id  # shut down: no longer listed
    one = http("GET", f"{client.urls['openai']}/v1/models/{GPT_IMAGE}", headers=client.bearer())
    assert one[0] == 200 and as_json(one)["id"] == GPT_IMAGE
    gone = http("GET", f"{client.urls['openai']}/v1/models/dall-e-3", headers=client.bearer())
    assert gone[0] == 404 and as_json(gone)["error"]["code"] == "model_not_found"
    assert http("GET", f"{client.urls['openai']}/v1/models")[0] == 401


def test_gemini_lists_the_models_it_serves_page_by_page(fake: FakeProviders) -> None:
    url = f"{Client(fake).urls['gemini']}/v1beta/models"
    names: list[str] = []
    token = ""
    while True:
        page = as_json(http("GET", f"{url}?pageSize=3&pageToken={token}", headers={"x-goog-api-key": KEY}))
        assert len(page["models"]) <= 3
        names += [m["name"] for m in page["models"]]
        token = page.get("nextPageToken", "")
        if not token:
            break
    assert f"models/{GEMINI_IMAGE}" in names and "models/gemini-3-pro-image" in names
    assert "models/gemini-2.0-flash-preview-image-generation" not in names
    assert http("GET", url)[0] == 403


def test_the_models_control_schedules_and_retires_a_model(fake: FakeProviders) -> None:
    client = Client(fake)
    scheduled = control(fake, "models", {"provider": "openai", "model": GPT_IMAGE, "state": "scheduled",
                                         "shutdown_date": "2099-01-31"})
    assert scheduled["models"]["state"] == "scheduled"
    listed = {m["id"]: m for m in as_json(http("GET", f"{client.urls['openai']}/v1/models",
                                               headers=client.bearer()))["data"]}
    assert listed[GPT_IMAGE]["shutdown_date"] == "2099-01-31"
    assert client.openai()[0] == 200  # still served until then
    control(fake, "models", {"provider": "gemini", "model": GEMINI_IMAGE, "state": "retired"})
    assert client.gemini()[0] == 404
    names = [m["name"] for m in as_json(http("GET", f"{client.urls['gemini']}/v1beta/models?pageSize=1000",
                                             headers={"x-goog-api-key": KEY}))["models"]]
    assert f"models/{GEMINI_IMAGE}" not in names
    assert as_json(http("GET", f"{fake.origin}/_fake/models"))["models"]["gemini"][GEMINI_IMAGE]["state"] == "retired"
    for body in ({"provider": "bfl", "model": "x", "state": "retired"},
                 {"provider": "openai", "model": "x", "state": "scheduled"},
                 {"provider": "openai", "model": "x", "state": "gone"}):
        assert http("POST", f"{fake.origin}/_fake/models", body)[0] == 400, body


# provider -> a check that the answer is that provider's bad-key error
BAD_KEY: dict[str, Callable[[Answer], bool]] = {
    "openai": lambda a: a[0] == 401 and json.loads(a[2])["error"]["code"] == "invalid_api_key",
    "recraft": lambda a: a[0] == 401,
    "gemini": lambda a: a[0] == 400 and json.loads(a[2])["error"]["details"][0]["reason"] == "API_KEY_INVALID",
    "imagen": lambda a: a[0] == 400 and json.loads(a[2])["error"]["details"][0]["reason"] == "API_KEY_INVALID",
    "bfl": lambda a: a[0] == 403,
    "stability": lambda a: a[0] == 401 and json.loads(a[2])["name"] == "unauthorized",
}


@pytest.mark.parametrize("provider", HTTP_PROVIDERS)
def test_a_bad_key_answers_the_providers_own_error(fake: FakeProviders, provider: str) -> None:
    client = Client(fake)
    control(fake, "bad-key", {"provider": provider, "times": 1})
    answer = client.call(provider)
    assert BAD_KEY[provider](answer), answer
    assert KEY not in answer[2].decode()
    image_of(fake, provider, client.call(provider))


def test_filtered_output_answers_each_providers_shape(fake: FakeProviders) -> None:
    client = Client(fake)
    control(fake, "refuse", {"provider": "stability", "kind": "output", "times": 1})
    status, headers, body = client.stability()
    assert status == 200 and headers["finish-reason"] == "CONTENT_FILTERED"
    assert_png(body)  # blurred, but an image
    assert client.stability()[1]["finish-reason"] == "SUCCESS"
    control(fake, "refuse", {"provider": "gemini", "kind": "output", "reason": "IMAGE_PROHIBITED_CONTENT"})
    stopped = as_json(client.gemini())["candidates"][0]
    assert stopped["finishReason"] == "IMAGE_PROHIBITED_CONTENT"
    assert not [p for p in stopped["content"]["parts"] if "inlineData" in p]
    assert as_json(client.gemini("a fox", image=False))["candidates"][0]["finishReason"] == "STOP"
    assert http("POST", f"{fake.origin}/_fake/refuse", {"provider": "openai", "kind": "output"})[0] == 400


# --- the standalone command ---------------------------------------------------------------


def test_fake_providers_command_prints_its_base_urls_and_stops_on_sigterm() -> None:
    process = subprocess.Popen([str(REPO / "tools" / "fake-providers"), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("FAKE_PROVIDERS_BASE_URLS="), line
        urls = json.loads(line.split("=", 1)[1])
        assert sorted(urls) == sorted(HTTP_PROVIDERS)
        assert all(url.startswith("http://127.0.0.1:") and url.endswith(f"/{p}") for p, url in urls.items())
        answer = http("POST", f"{urls['openai']}/v1/images/generations",
                      {"model": GPT_IMAGE, "prompt": "x", "n": 2}, {"Authorization": f"Bearer {KEY}"})
        assert len(as_json(answer)["data"]) == 2
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0


# --- Bedrock in the local AWS, with --fake-providers ----------------------------------------


@pytest.fixture(scope="module")
def local_aws_process() -> Iterator[tuple[str, dict[str, str]]]:
    process, url, (line,) = start_local_aws("--fake-providers", extra_lines=1)
    assert line.startswith("FAKE_PROVIDERS="), line
    yield url, json.loads(line.split("=", 1)[1])
    stop(process)


@pytest.fixture
def local_aws(local_aws_process: tuple[str, dict[str, str]]) -> tuple[str, dict[str, str]]:
    """The local AWS's endpoint and fake providers' base URLs, with the provider controls reset."""
    assert http("POST", f"{local_aws_process[0]}/_local-aws/providers/reset", {})[0] == 200
    return local_aws_process


def bedrock(endpoint: str, region: str) -> Any:
    return boto3.client("bedrock-runtime", region_name=region, endpoint_url=endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"total_max_attempts": 1}))


def invoke(endpoint: str, region: str, model: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = bedrock(endpoint, region).invoke_model(modelId=model, body=json.dumps(body),
                                                    contentType="application/json", accept="application/json")
    assert answer["contentType"] == "application/json"
    return json_object(answer["body"].read())


NOVA = "amazon.nova-canvas-v1:0"
TITAN = "amazon.titan-image-generator-v2:0"
AMAZON_BODY = {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a fox"},
               "imageGenerationConfig": {"numberOfImages": 1, "height": 1024, "width": 1024, "cfgScale": 7.0}}
SD35 = "stability.sd3-5-large-v1:0"
SD35_BODY = {"prompt": "a fox", "mode": "text-to-image", "aspect_ratio": "1:1", "output_format": "png"}
ULTRA = "stability.stable-image-ultra-v1:1"
ULTRA_BODY = {"prompt": "a fox", "aspect_ratio": "1:1", "output_format": "png"}


def providers_control(endpoint: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    status, _, answer = http("POST", f"{endpoint}/_local-aws/providers/{name}", body)
    assert status == 200, answer
    return json_object(answer)


def test_bedrock_titan_sd35_and_stable_image_answer_pngs(local_aws: tuple[str, dict[str, str]]) -> None:
    endpoint, _ = local_aws
    titan = invoke(endpoint, "us-east-1", TITAN, AMAZON_BODY)
    assert titan["error"] is None and len(titan["images"]) == 1
    assert_png(base64.b64decode(titan["images"][0]))
    sd = invoke(endpoint, "us-west-2", SD35, SD35_BODY)
    assert sd["finish_reasons"] == [None] and isinstance(sd["seeds"][0], int)
    assert_png(base64.b64decode(sd["images"][0]))
    ultra = invoke(endpoint, "us-west-2", ULTRA, ULTRA_BODY)
    assert_png(base64.b64decode(ultra["images"][0]))
    arn = f"arn:aws:bedrock:us-east-1::foundation-model/{TITAN}"
    assert len(invoke(endpoint, "us-east-1", arn, {**AMAZON_BODY, "imageGenerationConfig": {"numberOfImages": 2}})
               ["images"]) == 2
    entries = as_json(http("GET", f"{endpoint}/_local-aws/providers/requests"))["requests"]
    # boto3 sends the ids percent-encoded (`amazon.titan-image-generator-v2%3A0`); the model is read decoded
    assert [(e["provider"], e["model"], e["status"]) for e in entries] == [
        ("bedrock", TITAN, 200), ("bedrock", SD35, 200), ("bedrock", ULTRA, 200), ("bedrock", TITAN, 200)]


@pytest.mark.parametrize("region, model, body, code, message", [
    ("us-east-1", "amazon.nova-reel-v9:0", AMAZON_BODY, "ValidationException", "The provided model identifier is invalid."),
    ("us-west-2", NOVA, AMAZON_BODY, "ValidationException", "The provided model identifier is invalid."),
    # Past its end of life (2026-09-30), like SDXL before it.
    ("us-east-1", NOVA, AMAZON_BODY, "ResourceNotFoundException", "end of its life"),
    ("us-west-2", "stability.stable-diffusion-xl-v1", SD35_BODY, "ResourceNotFoundException", "end of its life"),
    ("us-east-1", TITAN, {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": ""}}, "ValidationException",
     "Malformed input request"),
    ("us-west-2", SD35, {"mode": "text-to-image"}, "ValidationException", "required key [prompt]"),
    ("us-west-2", ULTRA, SD35_BODY, "ValidationException", "extraneous key [mode] is not permitted"),
])
def test_bedrock_rejects_like_bedrock(local_aws: tuple[str, dict[str, str]], region: str, model: str,
                                      body: dict[str, Any], code: str, message: str) -> None:
    with pytest.raises(ClientError) as raised:
        invoke(local_aws[0], region, model, body)
    assert raised.value.response["Error"]["Code"] == code
    assert message in raised.value.response["Error"]["Message"]


def test_bedrock_fail_and_refuse_through_the_local_aws_controls(local_aws: tuple[str, dict[str, str]]) -> None:
    endpoint, _ = local_aws
    providers_control(endpoint, "fail", {"provider": "bedrock", "status": 429, "message": "Too many requests",
                                         "times": 1})
    with pytest.raises(ClientError) as raised:
        invoke(endpoint, "us-east-1", TITAN, AMAZON_BODY)
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    providers_control(endpoint, "refuse", {"provider": "bedrock", "times": 2})
    with pytest.raises(ClientError) as refused:
        invoke(endpoint, "us-east-1", TITAN, AMAZON_BODY)
    assert refused.value.response["Error"]["Message"] == "This request has been blocked by our content filters."
    filtered = invoke(endpoint, "us-west-2", SD35, SD35_BODY)
    assert filtered["finish_reasons"] == ["Filter reason: prompt"] and filtered["images"] == []
    assert invoke(endpoint, "us-east-1", TITAN, AMAZON_BODY)["images"]


def bedrock_control_plane(endpoint: str, region: str) -> Any:
    return boto3.client("bedrock", region_name=region, endpoint_url=endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"total_max_attempts": 1}))


def test_bedrock_reports_each_models_lifecycle(local_aws: tuple[str, dict[str, str]]) -> None:
    endpoint, _ = local_aws
    oregon = bedrock_control_plane(endpoint, "us-west-2")
    ultra = oregon.get_foundation_model(modelIdentifier=ULTRA)["modelDetails"]
    assert ultra["modelId"] == ULTRA and ultra["providerName"] == "Stability AI"
    assert ultra["modelLifecycle"]["status"] == "ACTIVE" and "endOfLifeTime" not in ultra["modelLifecycle"]
    listed = {m["modelId"] for m in oregon.list_foundation_models()["modelSummaries"]}
    assert {ULTRA, SD35} <= listed and NOVA not in listed
    with pytest.raises(ClientError) as gone:
        bedrock_control_plane(endpoint, "us-east-1").get_foundation_model(modelIdentifier=NOVA)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    providers_control(endpoint, "models", {"provider": "bedrock", "model": ULTRA, "state": "scheduled",
                                           "shutdown_date": "2099-03-31"})
    lifecycle = oregon.get_foundation_model(modelIdentifier=ULTRA)["modelDetails"]["modelLifecycle"]
    assert lifecycle["status"] == "LEGACY" and lifecycle["endOfLifeTime"].date().isoformat() == "2099-03-31"
    assert invoke(endpoint, "us-west-2", ULTRA, ULTRA_BODY)["images"]  # served until its end of life
    providers_control(endpoint, "models", {"provider": "bedrock", "model": ULTRA, "state": "retired"})
    with pytest.raises(ClientError) as retired:
        invoke(endpoint, "us-west-2", ULTRA, ULTRA_BODY)
    assert retired.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_local_aws_fake_providers_share_its_controls(local_aws: tuple[str, dict[str, str]]) -> None:
    endpoint, urls = local_aws
    assert sorted(urls) == sorted(HTTP_PROVIDERS)
    providers_control(endpoint, "fail", {"provider": "recraft", "status": 500, "message": "down", "times": 1})
    request = {"model": "recraftv4_1", "prompt": "x"}
    failed = http("POST", f"{urls['recraft']}/v1/images/generations", request, {"Authorization": f"Bearer {KEY}"})
    assert failed[0] == 500 and as_json(failed) == {"code": "internal_error", "message": "down"}
    ok = http("POST", f"{urls['recraft']}/v1/images/generations", request, {"Authorization": f"Bearer {KEY}"})
    assert ok[0] == 200
    assert http("POST", f"{endpoint}/_local-aws/providers/fail", {"provider": "midjourney"})[0] == 400


def test_unsigned_or_other_service_requests_are_left_to_moto(local_aws: tuple[str, dict[str, str]]) -> None:
    endpoint, _ = local_aws
    before = len(as_json(http("GET", f"{endpoint}/_local-aws/providers/requests"))["requests"])
    http("POST", f"{endpoint}/model/{ULTRA}/invoke", ULTRA_BODY)  # unsigned: not Bedrock's to answer
    after = as_json(http("GET", f"{endpoint}/_local-aws/providers/requests"))["requests"]
    assert len(after) == before


# A function that reports the PROVIDER_BASE_URLS it was given and asks the fake OpenAI for an image.
PROVIDER_PROBE = """#!/usr/bin/env python3
import base64, json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation"
while True:
    with urllib.request.urlopen(api + "/next") as event:
        request_id = event.headers["Lambda-Runtime-Aws-Request-Id"]
    urls = json.loads(os.environ["PROVIDER_BASE_URLS"])
    ask = urllib.request.Request(urls["openai"] + "/v1/images/generations", method="POST",
                                 data=json.dumps({"model": "gpt-image-2.6-sunburst", "prompt": "a fox"}).encode(),
                                 headers={"Authorization": "Bearer from-the-function", "Content-Type": "application/json"})
    with urllib.request.urlopen(ask) as answer:
        image = base64.b64decode(json.loads(answer.read())["data"][0]["b64_json"])
    result = {"urls": urls, "image_start": image[:8].hex()}
    urllib.request.urlopen(urllib.request.Request(api + "/" + request_id + "/response", method="POST",
                                                  data=json.dumps(result).encode())).read()
"""


def test_functions_get_provider_base_urls_and_reach_the_fakes(local_aws: tuple[str, dict[str, str]]) -> None:
    endpoint, urls = local_aws
    aws = {service: boto3.client(service, region_name="us-west-2", endpoint_url=endpoint,
                                 aws_access_key_id="testing", aws_secret_access_key="testing")
           for service in ("iam", "lambda")}
    role = aws["iam"].create_role(RoleName=f"probe-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o100755 << 16
        bundle.writestr(info, PROVIDER_PROBE)
    name = f"probe-{uuid.uuid4().hex[:8]}"
    aws["lambda"].create_function(FunctionName=name, Runtime="provided.al2023", Role=role["Role"]["Arn"],
                                  Handler="bootstrap", Code={"ZipFile": archive.getvalue()}, Timeout=10,
                                  Architectures=["x86_64"])
    answer = aws["lambda"].invoke(FunctionName=name, Payload=b"{}")
    payload = json_object(answer["Payload"].read())
    assert "FunctionError" not in answer, payload
    assert payload == {"urls": urls, "image_start": "89504e470d0a1a0a"}
    assert "bedrock" not in payload["urls"]  # Bedrock is reached through AWS_ENDPOINT_URL, the local AWS

"""Which models each fake provider serves, and until when: the model lists providers publish.

OpenAI lists its models at `GET /v1/models`, each with an optional `shutdown_date`
(`YYYY-MM-DD`, set once a shutdown is announced); the Gemini API lists the models it
serves at `GET /v1beta/models` (no lifecycle fields: a model it no longer serves is
simply gone); Bedrock's `GetFoundationModel` / `ListFoundationModels` report
`modelLifecycle` (`status` ACTIVE or LEGACY, `legacyTime`, `endOfLifeTime`). The fakes
answer those, and refuse to generate with a model that is not served, as the providers
do. The defaults mirror the providers' deprecation pages as read on 2026-11-29; the
`models` control marks a model active, scheduled for shutdown, or retired, so a test can
show pixelctl the next retirement before it happens.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

# Catalogues by the provider kinds of `PROVIDER_BASE_URLS`; Imagen is served by the same
# Gemini API (one model list for both).
CATALOGUE_OF = {"openai": "openai", "gemini": "gemini", "imagen": "gemini", "bedrock": "bedrock"}
STATES = ("active", "scheduled", "retired")


def today() -> date:
    return datetime.now(UTC).date()


@dataclass
class ModelEntry:
    """One model: shut down for good (`retired`), or served until `shutdown_date` (if any)."""

    display_name: str = ""
    shutdown_date: date | None = None
    legacy_date: date | None = None
    retired: bool = False
    regions: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def served(self, on: date) -> bool:
        return not self.retired and (self.shutdown_date is None or on < self.shutdown_date)


def _d(text: str) -> date:
    return date.fromisoformat(text)


_GEN = ["generateContent", "countTokens"]
_OREGON = ("us-west-2",)

DEFAULTS: dict[str, dict[str, ModelEntry]] = {
    # developers.openai.com/api/docs/deprecations
    "openai": {
        "gpt-image-2.6-sunburst": ModelEntry("GPT Image 2.6 Sunburst"),
        "gpt-image-2.6-flare": ModelEntry("GPT Image 2.6 Flare"),
        "gpt-image-2.5-sunburst": ModelEntry("GPT Image 2.5 Sunburst"),
        "gpt-image-2": ModelEntry("GPT Image 2"),
        "gpt-image-1.5": ModelEntry("GPT Image 1.5", shutdown_date=_d("2026-12-01")),
        "gpt-image-1-mini": ModelEntry("GPT Image 1 mini", shutdown_date=_d("2026-12-01")),
        "gpt-image-1": ModelEntry("GPT Image 1", shutdown_date=_d("2026-10-23")),
        "dall-e-3": ModelEntry("DALL-E 3", shutdown_date=_d("2026-05-12")),
        "dall-e-2": ModelEntry("DALL-E 2", shutdown_date=_d("2026-05-12")),
        "gpt-6-luna": ModelEntry("GPT-6 Luna"),
        "gpt-6.1-terra": ModelEntry("GPT-6.1 Terra"),
        "gpt-5-mini": ModelEntry("GPT-5 mini", shutdown_date=_d("2026-12-11")),
        "gpt-4o-mini": ModelEntry("GPT-4o mini", shutdown_date=_d("2027-01-14")),
        "gpt-4o": ModelEntry("GPT-4o", shutdown_date=_d("2027-01-14")),
        "gpt-4.1-mini": ModelEntry("GPT-4.1 mini", shutdown_date=_d("2027-01-14")),
        "gpt-3.5-turbo": ModelEntry("GPT-3.5 Turbo", shutdown_date=_d("2026-10-23")),
    },
    # ai.google.dev/gemini-api/docs/deprecations; Imagen: shut down 2026-08-17.
    "gemini": {
        "gemini-3.1-flash-image": ModelEntry("Gemini 3.1 Flash Image", extra={"methods": _GEN}),
        "gemini-3-pro-image": ModelEntry("Gemini 3 Pro Image", extra={"methods": _GEN}),
        "gemini-3.5-flash": ModelEntry("Gemini 3.5 Flash", extra={"methods": _GEN}),
        "gemini-3.8-flash": ModelEntry("Gemini 3.8 Flash", extra={"methods": _GEN}),
        "gemini-3.1-flash-lite": ModelEntry("Gemini 3.1 Flash-Lite", shutdown_date=_d("2027-05-07"),
                                            extra={"methods": _GEN}),
        "gemini-2.5-flash": ModelEntry("Gemini 2.5 Flash", shutdown_date=_d("2026-12-01"), extra={"methods": _GEN}),
        "gemini-2.5-flash-image": ModelEntry("Gemini 2.5 Flash Image", shutdown_date=_d("2026-10-02"),
                                             extra={"methods": _GEN}),
        "gemini-2.0-flash": ModelEntry("Gemini 2.0 Flash", shutdown_date=_d("2026-06-01"), extra={"methods": _GEN}),
        "gemini-2.0-flash-preview-image-generation": ModelEntry(
            "Gemini 2.0 Flash Preview Image Generation", retired=True, extra={"methods": _GEN}),
        "imagen-4.0-generate-001": ModelEntry("Imagen 4", shutdown_date=_d("2026-08-17"),
                                              extra={"methods": ["predict"]}),
        "imagen-3.0-generate-002": ModelEntry("Imagen 3", retired=True, extra={"methods": ["predict"]}),
    },
    # docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html
    "bedrock": {
        "stability.stable-image-ultra-v1:1": ModelEntry("Stable Image Ultra", regions=_OREGON,
                                                         extra={"provider": "Stability AI", "family": "stability"}),
        "stability.stable-image-core-v1:1": ModelEntry("Stable Image Core", regions=_OREGON,
                                                        extra={"provider": "Stability AI", "family": "stability"}),
        "stability.sd3-5-large-v1:0": ModelEntry("Stable Diffusion 3.5 Large", regions=_OREGON,
                                                  extra={"provider": "Stability AI", "family": "stability"}),
        "amazon.nova-canvas-v1:0": ModelEntry("Nova Canvas", legacy_date=_d("2026-03-31"),
                                               shutdown_date=_d("2026-09-30"),
                                               regions=("us-east-1", "eu-west-1", "ap-northeast-1"),
                                               extra={"provider": "Amazon", "family": "amazon"}),
        "amazon.titan-image-generator-v2:0": ModelEntry("Titan Image Generator G1 v2",
                                                         regions=("us-east-1", "us-west-2"),
                                                         extra={"provider": "Amazon", "family": "amazon"}),
        "stability.stable-diffusion-xl-v1": ModelEntry("SDXL 1.0", retired=True, regions=_OREGON,
                                                        extra={"provider": "Stability AI", "family": "stability"}),
    },
}


class CatalogueError(Exception):
    """A bad `models` control request."""


class ModelCatalogue:
    """The models each provider serves; thread-safe, reset to `DEFAULTS`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.models: dict[str, dict[str, ModelEntry]] = {}
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.models = copy.deepcopy(DEFAULTS)

    def entry(self, provider: str, model: str) -> ModelEntry | None:
        with self.lock:
            found = self.models.get(CATALOGUE_OF.get(provider, provider), {}).get(model)
            return copy.deepcopy(found) if found else None

    def served(self, provider: str, model: str) -> bool:
        found = self.entry(provider, model)
        return found is not None and found.served(today())

    def listing(self, provider: str) -> list[tuple[str, ModelEntry]]:
        """Every model the provider still knows of (served, or scheduled), sorted by id."""
        with self.lock:
            models = copy.deepcopy(self.models.get(CATALOGUE_OF.get(provider, provider), {}))
        on = today()
        return sorted((model_id, entry) for model_id, entry in models.items() if entry.served(on))

    def describe(self) -> dict[str, Any]:
        with self.lock:
            return {provider: {model_id: _described(entry) for model_id, entry in sorted(models.items())}
                    for provider, models in sorted(self.models.items())}

    def set_state(self, body: dict[str, Any]) -> dict[str, Any]:
        """The `models` control: `{"provider", "model", "state", "shutdown_date"?}`."""
        provider = body.get("provider")
        if provider not in CATALOGUE_OF:
            raise CatalogueError(f"`provider` must be one of {', '.join(CATALOGUE_OF)} (the ones with model lists)")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise CatalogueError("`model` must name a model id")
        state = body.get("state")
        if state not in STATES:
            raise CatalogueError(f"`state` must be one of {', '.join(STATES)}")
        shutdown: date | None = None
        if body.get("shutdown_date") is not None:
            try:
                shutdown = date.fromisoformat(str(body["shutdown_date"]))
            except ValueError as err:
                raise CatalogueError("`shutdown_date` must be YYYY-MM-DD") from err
        if state == "scheduled" and shutdown is None:
            raise CatalogueError("`scheduled` needs a `shutdown_date`")
        with self.lock:
            models = self.models.setdefault(CATALOGUE_OF[provider], {})
            entry = models.setdefault(model, ModelEntry(model, regions=_OREGON if provider == "bedrock" else ()))
            if provider == "bedrock" and "family" not in entry.extra:
                entry.extra.update(provider="Stability AI" if model.startswith("stability.") else "Amazon",
                                   family="stability" if model.startswith("stability.") else "amazon")
            if provider in ("gemini", "imagen") and "methods" not in entry.extra:
                entry.extra["methods"] = ["predict"] if model.startswith("imagen-") else _GEN
            entry.retired = state == "retired"
            entry.shutdown_date = shutdown if state != "active" else None
            entry.legacy_date = today() if state != "active" else None
            return {"model": model, "provider": provider, **_described(entry)}


def _described(entry: ModelEntry) -> dict[str, Any]:
    state = "retired" if not entry.served(today()) else "scheduled" if entry.shutdown_date else "active"
    return {"state": state, "shutdown_date": entry.shutdown_date.isoformat() if entry.shutdown_date else None}

"""Embedded catalog: config.json copies of well-known models, shipped so planning works with no Hub and no cache.

One JSON file per model in ``models/`` (``<org>__<name>.json`` with keys ``model_id, config, weights, notes``),
generated from the team's reference configs by ``python -m kubectl_llm.catalog._build``. The loader reads only the
file asked for: ``kubectl llm plan Qwen/Qwen3-8B`` must start in milliseconds, so no directory-wide parse and no
third-party import here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..planner.source import ModelSource, WeightMetadata

MODELS_DIR = Path(__file__).resolve().parent / "models"


def file_name(model_id: str) -> str:
    """``Qwen/Qwen3-8B`` -> ``Qwen__Qwen3-8B.json`` (the Hub cache's own org/name flattening, with ``__``)."""
    return model_id.replace("/", "__") + ".json"


def model_ids() -> list[str]:
    """Every model id in the catalog, from the file names alone (no file is parsed)."""
    return sorted(p.name[: -len(".json")].replace("__", "/", 1) for p in MODELS_DIR.glob("*__*.json"))


def find(model_id: str) -> Path | None:
    """The catalog file of ``model_id``; repo ids are case-insensitive on the Hub, so the catalog is too."""
    exact = MODELS_DIR / file_name(model_id)
    if exact.is_file():
        return exact
    wanted = file_name(model_id).lower()
    for path in MODELS_DIR.glob("*.json"):
        if path.name.lower() == wanted:
            return path
    return None


def load_entry(model_id: str) -> dict[str, Any] | None:
    """The raw catalog entry (``model_id, config, weights, notes``) or None when the model is not embedded."""
    path = find(model_id)
    if path is None:
        return None
    # json.loads accepts the bare Infinity/NaN tokens transformers writes (e.g. Nemotron-H's time_step_limit).
    entry: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return entry


def load(model_id: str) -> ModelSource | None:
    """The embedded copy of ``model_id`` as a ModelSource with ``origin="catalog"``, or None."""
    entry = load_entry(model_id)
    if entry is None:
        return None
    weights = entry.get("weights")
    return ModelSource(
        model_id=entry["model_id"],
        config=entry["config"],
        weights=WeightMetadata(total_bytes=int(weights["total_bytes"]), source=str(weights["source"]))
        if weights
        else None,
        origin="catalog",
    )

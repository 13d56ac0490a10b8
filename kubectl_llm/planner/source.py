"""What a model source (Hub, cache, local directory, embedded catalog) hands to the planner. Pure data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class WeightMetadata:
    """Weight bytes as stored in the checkpoint (safetensors), summed over all shards.

    ``source`` says where the number comes from, e.g. ``"safetensors headers"``,
    ``"model.safetensors.index.json metadata.total_size"``, ``"hub safetensors metadata"``, ``"catalog"``.
    """

    total_bytes: int
    source: str
    bytes_by_dtype: Mapping[str, int] = field(default_factory=dict)   # safetensors dtype name -> bytes
    params_by_dtype: Mapping[str, int] = field(default_factory=dict)  # safetensors dtype name -> element count


@dataclass(frozen=True)
class ModelSource:
    """A model as found: its id, its raw config.json, and weight metadata when any was available."""

    model_id: str                      # Hugging Face repo id (or the directory path for a local model)
    config: Mapping[str, Any]          # parsed config.json, untouched
    weights: WeightMetadata | None     # None: no safetensors metadata; the planner estimates from the config
    origin: str                        # "hub" | "hub-cache" | "local" | "catalog"
    revision: str | None = None
    local_path: str | None = None      # set for local directories
    requires_token: bool | None = None  # the Hub refuses anonymous downloads (gated/private); None = not checked
    chat_template: str | None = None   # the model's chat template (chat_template.jinja or tokenizer_config.json)
    chat_template_source: str | None = None  # which file it came from, e.g. "tokenizer_config.json of org/name"
    warnings: tuple[str, ...] = ()      # what the source ignored (a corrupt weight index ...); the plan repeats them

"""Regenerate the embedded catalog from the team's reference configs (``../shared/models``).

    python -m kubectl_llm.catalog._build [SHARED_MODELS_DIR] [OUT_DIR]

Configs are copied unchanged (every key the planner may read survives: architecture keys, text_config,
vision_config, quantization_config, layer_types, rope keys); weight bytes come from each ``meta.json``
``total_weight_bytes``. Two entries are derived, as the project brief asks:

* ``MiniMaxAI/MiniMax-M2.5``: the reference copy is abridged (no ``attn_type_list``); the list is completed from
  ``nvidia/MiniMax-M2.5-NVFP4``, a transformers-saved config of the same architecture.
* ``Qwen/Qwen3.5-397B-A17B-FP8`` (the handbook's model): the BF16 config plus Qwen's FP8 block quantization_config.

tests/test_sources.py re-runs this build and fails on any difference, so the catalog cannot drift from its sources.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from . import MODELS_DIR, file_name

MINIMAX = "MiniMaxAI/MiniMax-M2.5"
MINIMAX_FULL = "nvidia/MiniMax-M2.5-NVFP4"
QWEN35 = "Qwen/Qwen3.5-397B-A17B"
QWEN35_FP8 = "Qwen/Qwen3.5-397B-A17B-FP8"


def _summarise_weight_source(text: str) -> str:
    """One line saying where a meta.json weight number comes from (the full provenance stays in ../shared)."""
    if text.startswith("third-party dataset ledger"):
        tail = re.sub(r"^\((revision \w+)\)", r"\1", text.split("pinned revision", 1)[1].strip(" ;"))
        return f"catalog: HF repo file bytes per a third-party ledger; {tail}"
    return "catalog: " + text.split(";", 1)[0].strip()


_FIDELITY_TAGS = [("ABRIDGED", "ABRIDGED copy"), ("UNVERIFIED", "UNVERIFIED copy"),
                  ("reconstructed", "reconstructed from the HF file page"), ("verbatim", "verbatim copy")]


def _notes(meta: dict[str, Any]) -> str:
    fidelity = str(meta.get("config_fidelity") or "")
    for prefix, tag in _FIDELITY_TAGS:
        if fidelity.startswith(prefix):
            fidelity = tag
            break
    else:
        fidelity = "copy, formatting may differ"
    return f"config from {meta['source']} ({fidelity}); quantization: {meta.get('quantization')}"


def _entry(model_id: str, config: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    total = meta.get("total_weight_bytes")
    weights = None
    if total:
        weights = {"total_bytes": int(total), "source": _summarise_weight_source(str(meta["weight_bytes_source"]))}
    return {"model_id": model_id, "config": config, "weights": weights, "notes": _notes(meta)}


def qwen35_fp8_quantization(text_config: dict[str, Any]) -> dict[str, Any]:
    """FP8 e4m3 128x128 block quantization as in Qwen's FP8 releases.

    Kept in BF16: lm_head, the vision tower, the MTP head, the MoE router and shared-expert gates, and the
    Gated-DeltaNet beta/alpha projections (in_proj_b / in_proj_a) of every linear-attention layer.
    """
    keep = ["lm_head", "model.visual", "mtp"]
    for i, kind in enumerate(text_config["layer_types"]):
        layer = f"model.language_model.layers.{i}"
        keep += [f"{layer}.mlp.gate", f"{layer}.mlp.shared_expert_gate"]
        if kind == "linear_attention":
            keep += [f"{layer}.linear_attn.in_proj_a", f"{layer}.linear_attn.in_proj_b"]
    return {
        "quant_method": "fp8",
        "fmt": "e4m3",
        "activation_scheme": "dynamic",
        "weight_block_size": [128, 128],
        "modules_to_not_convert": keep,
    }


def build(shared: Path) -> dict[str, dict[str, Any]]:
    """All catalog entries keyed by file name, built from ``shared`` (a ../shared/models directory)."""
    read = {}
    for folder in sorted(p for p in shared.iterdir() if (p / "config.json").is_file()):
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        read[meta["model_id"]] = (config, meta)

    entries = {}
    for model_id, (config, meta) in read.items():
        entries[file_name(model_id)] = _entry(model_id, config, meta)

    minimax = entries[file_name(MINIMAX)]
    if "attn_type_list" not in minimax["config"]:
        minimax["config"] = {**minimax["config"], "attn_type_list": read[MINIMAX_FULL][0]["attn_type_list"]}
        minimax["notes"] += f"; attn_type_list completed from {MINIMAX_FULL} (same architecture)"

    base_config, base_meta = read[QWEN35]
    fp8 = _entry(QWEN35_FP8, {**base_config, "quantization_config": qwen35_fp8_quantization(base_config["text_config"])},
                 {**base_meta, "total_weight_bytes": None})
    fp8["notes"] = (f"derived: the config of {QWEN35} plus the FP8 block quantization_config of Qwen's FP8 releases "
                    "(e4m3, 128x128, dynamic activations; module names reconstructed, not copied); weight bytes "
                    "unknown, the planner estimates them")
    entries[file_name(QWEN35_FP8)] = fp8
    return entries


def render(entry: dict[str, Any]) -> str:
    """Stable text of one entry (allow_nan keeps transformers' Infinity tokens as they are)."""
    return json.dumps(entry, indent=1, ensure_ascii=False, allow_nan=True) + "\n"


def main(argv: list[str]) -> int:
    shared = Path(argv[0]) if argv else Path(__file__).resolve().parents[2].parent / "shared" / "models"
    out = Path(argv[1]) if len(argv) > 1 else MODELS_DIR
    out.mkdir(parents=True, exist_ok=True)
    entries = build(shared)
    for name, entry in entries.items():
        (out / name).write_text(render(entry), encoding="utf-8")
    print(f"wrote {len(entries)} catalog entries to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

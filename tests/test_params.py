"""Weight estimates from config.json alone (kubectl_llm/planner/weights/, fed by facts.checkpoint_shapes).

Expected totals come from the checkpoints themselves (meta.json: safetensors index total_size / sum of file bytes)
or from the parameter counts the model cards publish. The trimmed fixtures under tests/fixtures/configs/ carry the
same architecture numbers (and the meta total under "_fixture"), so a clone without ../shared still runs every check;
when ../shared is present the real configs are tested too, and fixture and real config must give identical results.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from kubectl_llm.errors import BadModelConfig
from kubectl_llm.planner.facts import checkpoint_shapes
from kubectl_llm.planner.weights import WeightEstimate
from kubectl_llm.planner.weights import estimate_weights as _estimate
from kubectl_llm.planner.weights.quant import Patterns as _Patterns

FIXTURES = Path(__file__).parent / "fixtures" / "configs"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "models"


def estimate_weights(config: Any) -> WeightEstimate:
    """The estimate of a raw config.json: parsed once by facts.py, priced by planner/weights/."""
    return _estimate(checkpoint_shapes(config))


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json") if "_fixture" in json.loads(p.read_text()))


def _shared_dirs() -> list[Path]:
    return sorted(p.parent for p in SHARED.glob("*/config.json")) if SHARED.is_dir() else []


# The 12 models whose meta.json records the real checkpoint bytes (copied into the fixtures' "_fixture" block).
META_TOTALS = {
    "Qwen__Qwen2.5-72B": 145412518888,
    "Qwen__Qwen3-235B-A22B": 470191875096,
    "Qwen__Qwen3-30B-A3B": 61066575648,
    "deepseek-ai__DeepSeek-R1": 688586727753,
    "deepseek-ai__DeepSeek-V3": 688586727753,
    "google__gemma-3-27b-it": 54864980440,
    "meta-llama__Llama-3.1-405B": 811706916800,
    "meta-llama__Llama-3.1-70B-Instruct": 141107497872,
    "meta-llama__Llama-3.1-8B-Instruct": 16060556376,
    "mistralai__Devstral-Small-2507": 47144806400,
    "moonshotai__Kimi-K2-Instruct": 1029173256720,
    "openai__gpt-oss-20b": 13761264768,
}


# --- checkpoint totals within 3 % -----------------------------------------------------------------------------
def test_fixtures_carry_every_meta_total() -> None:
    found = {n: _fixture(n)["_fixture"]["total_weight_bytes"] for n in _fixture_names()}
    assert {n: t for n, t in found.items() if t} == META_TOTALS


@pytest.mark.parametrize("name", sorted(META_TOTALS))
def test_fixture_estimate_within_3_percent_of_checkpoint(name: str) -> None:
    cfg = _fixture(name)
    total = cfg["_fixture"]["total_weight_bytes"]
    est = estimate_weights(cfg)
    assert abs(est.total_bytes - total) / total < 0.03, (est.total_bytes, total)
    # the formulas reproduce these checkpoints far better than 3 %: every one is within 0.05 %
    assert abs(est.total_bytes - total) / total < 0.0005, (est.total_bytes, total)


@pytest.mark.parametrize("model_dir", [d for d in _shared_dirs()
                                       if json.loads((d / "meta.json").read_text()).get("total_weight_bytes")],
                         ids=lambda d: d.name)
def test_shared_estimate_within_3_percent_of_meta(model_dir: Path) -> None:
    meta = json.loads((model_dir / "meta.json").read_text())
    est = estimate_weights(json.loads((model_dir / "config.json").read_text()))
    total = meta["total_weight_bytes"]
    assert abs(est.total_bytes - total) / total < 0.03, (est.total_bytes, total)


@pytest.mark.parametrize("model_dir", _shared_dirs(), ids=lambda d: d.name)
def test_fixture_is_faithful_to_shared_config(model_dir: Path) -> None:
    """The trimmed fixture must estimate exactly like the real config it was cut from."""
    real = estimate_weights(json.loads((model_dir / "config.json").read_text()))
    fixture = FIXTURES / f"{model_dir.name}.json"
    assert fixture.exists(), f"no trimmed fixture for {model_dir.name}"
    assert estimate_weights(json.loads(fixture.read_text())) == real
    meta = json.loads((model_dir / "meta.json").read_text())
    assert json.loads(fixture.read_text())["_fixture"]["total_weight_bytes"] == meta["total_weight_bytes"]


# --- well-known parameter counts within 5 % -------------------------------------------------------------------
# (model, attribute, published value). checkpoint_params = total_params + MTP layers the checkpoint stores; the
# Hugging Face page counts those, model cards usually do not.
WELL_KNOWN = [
    ("Qwen__Qwen3-8B", "total_params", 8.19e9),
    ("Qwen__Qwen3-32B", "total_params", 32.8e9),
    ("mistralai__Mixtral-8x7B-v0.1", "total_params", 46.7e9),
    ("openai__gpt-oss-120b", "total_params", 116.8e9),
    ("Qwen__Qwen3-Next-80B-A3B-Thinking", "checkpoint_params", 81.3e9),   # 79.7e9 main + 1.65e9 MTP layer
    ("zai-org__GLM-4.7", "checkpoint_params", 358e9),                     # 352.8e9 main + 5.5e9 MTP layer
    ("MiniMaxAI__MiniMax-M2.5", "total_params", 229e9),                   # ships no MTP weights
    ("Qwen__Qwen3.5-397B-A17B", "checkpoint_params", 403e9),              # text + vision + 6.6e9 MTP layer
    ("RedHatAI__Llama-4-Scout-17B-16E-Instruct-FP8-dynamic", "total_params", 109e9),
    ("nvidia__Nemotron-H-56B-Base-8K", "total_params", 56e9),
    ("nvidia__Llama-3_3-Nemotron-Super-49B-v1", "total_params", 49.9e9),
]


@pytest.mark.parametrize("name,attr,published", WELL_KNOWN, ids=[w[0] for w in WELL_KNOWN])
def test_well_known_parameter_counts_within_5_percent(name: str, attr: str, published: float) -> None:
    est = estimate_weights(_fixture(name))
    value = getattr(est, attr)
    assert abs(value - published) / published < 0.05, (value, published)


@pytest.mark.parametrize("name", ["openai__gpt-oss-20b", "mistralai__Devstral-Small-2507"])
def test_index_total_size_reproduced_to_the_byte(name: str) -> None:
    # these two meta totals are model.safetensors.index.json metadata.total_size (tensor bytes, no file headers)
    assert estimate_weights(_fixture(name)).total_bytes == META_TOTALS[name]


def test_qwen35_397b_text_model_is_397e9() -> None:
    est = estimate_weights(_fixture("Qwen__Qwen3.5-397B-A17B"))
    text = est.total_params - est.params_by_part["vision"]
    assert abs(text - 397e9) / 397e9 < 0.05
    assert 0.3e9 < est.params_by_part["vision"] < 0.6e9      # 27 ViT blocks of 1152 + merger
    assert est.mtp_params > 6e9                               # one MoE MTP layer with 512 experts


def test_gpt_oss_120b_checkpoint_is_60_8_gib() -> None:
    # The published "60.8 GB" is GiB: 116.8e9 params, experts in mxfp4 (0.53125 byte/param), the rest bf16.
    est = estimate_weights(_fixture("openai__gpt-oss-120b"))
    assert abs(est.total_bytes / 2**30 - 60.8) / 60.8 < 0.05
    assert abs(est.total_bytes / 2**30 - 60.8) < 0.1


# --- hand computations ----------------------------------------------------------------------------------------
def test_llama31_8b_by_hand() -> None:
    V, H, L, I, heads, kv, hd = 128256, 4096, 32, 14336, 32, 8, 128
    embeddings = V * H                                         # 525,336,576 (lm_head untied: the same again)
    attention = H * heads * hd + 2 * H * kv * hd + heads * hd * H   # q + k + v + o = 41,943,040
    mlp = 3 * H * I                                            # gate + up + down = 176,160,768
    norms = 2 * H                                              # input + post-attention RMSNorm
    total = 2 * embeddings + L * (attention + mlp + norms) + H  # + final norm = 8,030,261,248
    assert total == 8_030_261_248
    est = estimate_weights(_fixture("meta-llama__Llama-3.1-8B-Instruct"))
    assert est.total_params == total
    assert est.total_bytes == 2 * total                        # bf16
    assert est.expert_params == 0 and est.dense_params == total
    assert est.params_by_part == {"embeddings": embeddings, "lm_head": embeddings, "attention": L * attention,
                                  "mlp": L * mlp, "norms": L * norms + H}
    assert sum(est.bytes_by_part.values()) == est.total_bytes
    assert est.loaded_bytes == est.total_bytes and est.mtp_params == 0
    assert any("32 layers" in n and "GQA 32 heads / 8 KV heads" in n for n in est.notes)


def test_qwen3_30b_a3b_moe_by_hand() -> None:
    V, H, L, heads, kv, hd, E, Im = 151936, 2048, 48, 32, 4, 128, 128, 768
    attention = H * heads * hd + 2 * H * kv * hd + heads * hd * H   # 18,874,368
    qk_norm = 2 * hd                                           # Qwen3 per-head q_norm + k_norm
    router = E * H                                             # mlp.gate = 262,144
    experts = E * 3 * H * Im                                   # 128 x (gate + up + down) = 603,979,776
    norms = 2 * H
    total = 2 * V * H + L * (attention + qk_norm + router + experts + norms) + H
    assert total == 30_532_122_624                            # the published 30.5B
    est = estimate_weights(_fixture("Qwen__Qwen3-30B-A3B"))
    assert est.total_params == total
    assert est.expert_params == L * experts == 28_991_029_248
    assert est.dense_params == total - L * experts
    assert est.total_bytes == 2 * total
    assert est.expert_bytes == 2 * L * experts


def test_deepseek_v3_mla_moe_mtp_by_hand() -> None:
    H, V, L, nh, ql, kvl, nope, rope, vd = 7168, 129280, 61, 128, 1536, 512, 128, 64, 128
    E, Im, I, dense_layers = 256, 2048, 18432, 3
    mla = (H * ql + ql * nh * (nope + rope)               # q_a_proj, q_b_proj
           + H * (kvl + rope) + kvl * nh * (nope + vd)     # kv_a_proj_with_mqa, kv_b_proj
           + nh * vd * H)                                  # o_proj
    mla_norms = ql + kvl                                   # q_a_layernorm, kv_a_layernorm
    moe = E * 3 * H * Im + 3 * H * Im + E * H + E          # routed + 1 shared + gate + e_score_correction_bias
    dense = 3 * H * I
    layer_norms = 2 * H
    main = (2 * V * H + H + L * (mla + mla_norms + layer_norms)
            + dense_layers * dense + (L - dense_layers) * moe)
    assert main == 671_026_419_200                         # DeepSeek-V3's published 671B
    mtp = (mla + mla_norms + layer_norms + moe          # one more MoE decoder layer
           + 3 * H + 2 * H * H + 2 * V * H)           # enorm, hnorm, shared_head.norm; eh_proj; embed + head copies
    est = estimate_weights(_fixture("deepseek-ai__DeepSeek-V3"))
    assert est.total_params == main
    assert est.mtp_params == mtp                           # 13.46e9: 671B + 14B = the 685B on the HF page
    assert est.expert_params == (L - dense_layers) * E * 3 * H * Im
    assert est.params_by_part["attention"] == L * mla
    # fp8 [128,128]: the MTP layer is in the files, not in what vLLM loads
    assert est.loaded_bytes == est.total_bytes - est.bytes_by_part["mtp"]
    assert 14e9 < est.bytes_by_part["mtp"] < 16.5e9
    # the router (mlp.gate) stays bf16 and e_score_correction_bias float32, although nothing lists them
    assert est.bytes_by_part["router"] == (L - dense_layers) * (E * H * 2 + E * 4)
    assert any("MTP" in n for n in est.notes)


def _fp8_block(r: int, c: int) -> int:
    """1 byte per weight + a float32 scale per 128 x 128 block."""
    return r * c + math.ceil(r / 128) * math.ceil(c / 128) * 4


def test_qwen3_32b_fp8_block_scales_by_hand() -> None:
    V, H, L, I, heads, kv, hd = 151936, 5120, 64, 25600, 64, 8, 128
    layer = (_fp8_block(heads * hd, H) + 2 * _fp8_block(kv * hd, H) + _fp8_block(H, heads * hd)
             + 2 * _fp8_block(I, H) + _fp8_block(H, I))
    layer += (2 * H + 2 * hd) * 2                         # norms + q/k norms stay bf16
    expected = L * layer + 2 * V * H * 2 + H * 2          # embeddings + lm_head + final norm in bf16
    est = estimate_weights(_fixture("Qwen__Qwen3-32B-FP8"))
    assert est.total_bytes == expected
    assert est.quantization == "fp8 block [128,128]"
    assert est.total_params == estimate_weights(_fixture("Qwen__Qwen3-32B")).total_params


def test_fp8_modules_to_not_convert_stay_bf16() -> None:
    base = _fixture("Qwen__Qwen3-32B-FP8")
    cfg = copy.deepcopy(base)
    cfg["quantization_config"]["modules_to_not_convert"] = ["model.layers.0.mlp", "lm_head"]
    H, I = 5120, 25600
    fp8 = 2 * _fp8_block(I, H) + _fp8_block(H, I)
    bf16 = 3 * H * I * 2
    assert estimate_weights(cfg).total_bytes - estimate_weights(base).total_bytes == bf16 - fp8
    # a layer number is a whole component: layer 1 does not exclude layers 10..19
    cfg["quantization_config"]["modules_to_not_convert"] = ["model.layers.1.mlp"]
    assert estimate_weights(cfg).total_bytes - estimate_weights(base).total_bytes == bf16 - fp8


def test_qwen3_235b_fp8_real_exclusions() -> None:
    # modules_to_not_convert lists only norms, routers and lm_head: the experts and attention are all fp8
    est = estimate_weights(_fixture("Qwen__Qwen3-235B-A22B-FP8"))
    bf16 = estimate_weights(_fixture("Qwen__Qwen3-235B-A22B"))
    assert est.total_params == bf16.total_params
    assert est.bytes_by_part["router"] == 2 * bf16.params_by_part["router"]
    assert est.bytes_by_part["embeddings"] == bf16.bytes_by_part["embeddings"]
    E, H, Im, L = 128, 4096, 1536, 94
    assert est.bytes_by_part["experts"] == L * E * (2 * _fp8_block(Im, H) + _fp8_block(H, Im))
    assert 230e9 < est.total_bytes < 240e9


def test_gpt_oss_20b_mxfp4_by_hand() -> None:
    H, L, E, I, V, heads, kv, hd = 2880, 24, 32, 2880, 201088, 64, 8, 64
    expert_weights = E * (2 * I * H + H * I)              # fused gate_up + down per layer
    expert_bytes = expert_weights // 2 + expert_weights // 32   # 4-bit values + one uint8 scale per 32
    expert_bias = E * (2 * I + H) * 2                     # biases stay bf16
    attention = (H * heads * hd + heads * hd + 2 * (H * kv * hd + kv * hd)   # q/k/v with bias
                 + heads * hd * H + H + heads)             # o with bias, attention sinks
    rest = attention + E * H + E + 2 * H                  # router with bias, 2 norms
    expected = L * (expert_bytes + expert_bias + rest * 2) + (2 * V * H + H) * 2
    est = estimate_weights(_fixture("openai__gpt-oss-20b"))
    assert est.total_bytes == expected
    assert est.bytes_by_part["attention"] == 2 * L * attention
    assert est.quantization == "mxfp4"
    assert abs(est.total_params - 20.9e9) / 20.9e9 < 0.01


def test_modelopt_nvfp4_by_hand() -> None:
    # MiniMax-M2.5-NVFP4: experts 4 bits + fp8 scale per 16 + two float32 per-tensor scales; attention excluded
    est = estimate_weights(_fixture("nvidia__MiniMax-M2.5-NVFP4"))
    L, E, H, I = 62, 256, 3072, 1536
    n = L * E * 3 * H * I
    assert est.bytes_by_part["experts"] == n // 2 + n // 16 + 8 * L * E * 3
    assert est.bytes_by_part["attention"] == 2 * est.params_by_part["attention"]    # "self_attn*" excluded
    assert est.bytes_by_part["lm_head"] == 2 * est.params_by_part["lm_head"]        # "lm_head" excluded
    assert est.total_params == estimate_weights(_fixture("MiniMaxAI__MiniMax-M2.5")).total_params


def test_compressed_tensors_fp8_dynamic_llama4_scout() -> None:
    est = estimate_weights(_fixture("RedHatAI__Llama-4-Scout-17B-16E-Instruct-FP8-dynamic"))
    L, E, H, I = 48, 16, 5120, 8192
    per_expert_layer = 2 * (I * H + I * 2) + (H * I + H * 2)   # fp8 + one bf16 scale per output channel
    assert est.bytes_by_part["experts"] == L * E * per_expert_layer
    assert est.bytes_by_part["shared_experts"] == L * per_expert_layer
    # q/k/v/o, router, lm_head and the whole vision tower are in the ignore list: bf16
    for part in ("attention", "router", "lm_head", "vision"):
        assert est.bytes_by_part[part] == 2 * est.params_by_part[part], part
    assert est.quantization == "compressed-tensors fp8"


def _llama8b_with(quant: dict[str, Any]) -> WeightEstimate:
    cfg = _fixture("meta-llama__Llama-3.1-8B-Instruct")
    cfg["quantization_config"] = quant
    return estimate_weights(cfg)


LLAMA8B_LINEARS = [(4096, 4096), (1024, 4096), (1024, 4096), (4096, 4096),        # q k v o (rows x cols)
                   (14336, 4096), (14336, 4096), (4096, 14336)]                   # gate up down
LLAMA8B_BF16_REST = (2 * 128256 * 4096 + 32 * 2 * 4096 + 4096) * 2               # embed, lm_head, norms


def test_awq_int4_by_hand() -> None:
    est = _llama8b_with({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True,
                         "version": "gemm"})
    # packed 4-bit weights + fp16 scale + packed 4-bit zero point per 128 inputs
    layer = sum(r * c // 2 + r * (c // 128) * 2 + r * (c // 128) // 2 for r, c in LLAMA8B_LINEARS)
    assert est.total_bytes == 32 * layer + LLAMA8B_BF16_REST
    assert 5.6e9 < est.total_bytes < 5.9e9                 # the familiar ~5.7 GB of an AWQ Llama-3.1-8B


def test_gptq_int4_adds_g_idx() -> None:
    est = _llama8b_with({"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": False})
    layer = sum(r * c // 2 + r * (c // 128) * 2 + r * (c // 128) // 2 + c * 4 for r, c in LLAMA8B_LINEARS)
    assert est.total_bytes == 32 * layer + LLAMA8B_BF16_REST


def test_compressed_tensors_int4_group_with_ignore() -> None:
    est = _llama8b_with({"quant_method": "compressed-tensors", "format": "pack-quantized",
                         "config_groups": {"group_0": {"targets": ["Linear"], "weights": {
                             "num_bits": 4, "type": "int", "symmetric": True, "strategy": "group",
                             "group_size": 128}}},
                         "ignore": ["lm_head"]})
    layer = sum(r * c // 2 + r * (c // 128) * 2 + 16 for r, c in LLAMA8B_LINEARS)   # + weight_shape int64 x 2
    assert est.total_bytes == 32 * layer + LLAMA8B_BF16_REST


def test_compressed_tensors_lm_head_is_a_linear_when_not_ignored() -> None:
    quant = {"quant_method": "compressed-tensors", "config_groups": {"g": {"targets": ["Linear"], "weights": {
        "num_bits": 8, "type": "float", "strategy": "channel"}}}}
    with_head = _llama8b_with(quant)
    quant["ignore"] = ["re:.*lm_head"]
    without = _llama8b_with(quant)
    V, H = 128256, 4096
    assert without.total_bytes - with_head.total_bytes == V * H * 2 - (V * H + V * 2)


def test_unquantized_dtype_follows_config() -> None:
    cfg = _fixture("meta-llama__Llama-3.1-8B-Instruct")
    cfg["torch_dtype"] = "float32"
    est = estimate_weights(cfg)
    assert est.total_bytes == 4 * est.total_params and est.dtype == "float32"
    del cfg["torch_dtype"]
    assert estimate_weights(cfg).total_bytes == 2 * est.total_params    # default bf16


def test_tied_embeddings_count_once() -> None:
    cfg = _fixture("Qwen__Qwen3-8B")
    untied = estimate_weights(cfg)
    cfg["tie_word_embeddings"] = True
    tied = estimate_weights(cfg)
    assert untied.total_params - tied.total_params == 151936 * 4096
    assert "lm_head" not in tied.bytes_by_part


def test_gemma3_sparse_config_uses_transformers_defaults() -> None:
    # text_config has no vocab_size and no tie_word_embeddings: Gemma3TextConfig defaults 262208 and tied
    est = estimate_weights(_fixture("google__gemma-3-27b-it"))
    assert est.params_by_part["embeddings"] == 262208 * 5376
    assert "lm_head" not in est.params_by_part
    assert 0.4e9 < est.params_by_part["vision"] < 0.45e9     # SigLIP 27 x 1152 + projector


def test_nemotron_super_decilm_blocks() -> None:
    cfg = _fixture("nvidia__Llama-3_3-Nemotron-Super-49B-v1")
    blocks = cfg["block_configs"]
    H, heads, hd = 8192, 64, 128
    expected = 2 * 128256 * H + H
    for b in blocks:
        if not b["attention"]["no_op"]:
            kv = heads // b["attention"]["n_heads_in_group"]
            expected += 2 * H * heads * hd + 2 * H * kv * hd + H
        inter = math.ceil(int(2 * b["ffn"]["ffn_mult"] * H / 3) / 256) * 256   # DeciLM ffn_mult -> width
        expected += 3 * H * inter + H
    assert estimate_weights(cfg).total_params == expected


def test_hybrid_models_count_their_mixers() -> None:
    nem = estimate_weights(_fixture("nvidia__Nemotron-H-56B-Base-8K"))
    assert nem.params_by_part["linear_attention"] > 10e9       # 54 Mamba2 mixers of 8192 x 2 expand
    qn = estimate_weights(_fixture("Qwen__Qwen3-Next-80B-A3B-Thinking"))
    H, nk, dk, nv, dv = 2048, 16, 128, 32, 128
    gdn = H * (2 * nk * dk + 2 * nv * dv) + H * 2 * nv + nv * dv * H      # in_proj_qkvz, in_proj_ba, out_proj
    gdn += (2 * nk * dk + nv * dv) * 4 + 2 * nv                            # conv1d (kernel 4), dt_bias, A_log
    assert qn.params_by_part["linear_attention"] == 36 * gdn              # 36 of 48 layers are Gated DeltaNet


# --- robustness -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", _fixture_names())
def test_every_fixture_estimates_consistently(name: str) -> None:
    est = estimate_weights(_fixture(name))
    assert est.total_params > 0 and est.total_bytes > 0
    assert sum(est.bytes_by_part.values()) == est.total_bytes
    assert sum(v for k, v in est.params_by_part.items() if k != "mtp") == est.total_params
    assert est.dense_params + est.expert_params == est.total_params
    assert est.loaded_bytes == est.total_bytes - est.bytes_by_part.get("mtp", 0)
    assert est.notes and est.notes[0].startswith("estimated from config.json")


@pytest.mark.parametrize("model_dir", _shared_dirs(), ids=lambda d: d.name)
def test_every_shared_config_estimates_or_raises_bad_config(model_dir: Path) -> None:
    try:
        est = estimate_weights(json.loads((model_dir / "config.json").read_text()))
    except BadModelConfig:
        return
    assert est.total_bytes > 0


def _mutations(cfg: dict[str, Any]):
    """Each top-level / text_config / vision_config key deleted, or set to a string, null or a negative number."""
    for path in ([], ["text_config"], ["vision_config"]):
        node = cfg
        for p in path:
            node = node.get(p) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        for key in list(node):
            for value in ("<del>", "x", None, -3, [1]):
                c = copy.deepcopy(cfg)
                n = c
                for p in path:
                    n = n[p]
                if value == "<del>":
                    del n[key]
                else:
                    n[key] = value
                yield c


@pytest.mark.parametrize("name", ["deepseek-ai__DeepSeek-V3", "Qwen__Qwen3.5-397B-A17B", "openai__gpt-oss-20b",
                                  "nvidia__Nemotron-H-56B-Base-8K", "google__gemma-3-27b-it",
                                  "nvidia__MiniMax-M2.5-NVFP4", "meta-llama__Llama-3.1-8B-Instruct"])
def test_broken_configs_raise_only_bad_model_config(name: str) -> None:
    for cfg in _mutations(_fixture(name)):
        try:
            estimate_weights(cfg)
        except BadModelConfig as exc:
            assert exc.message and "\n" not in exc.message and exc.hint


@pytest.mark.parametrize("cfg,needle", [
    ({}, "hidden_size"),
    ({"hidden_size": 4096, "num_hidden_layers": 2, "num_attention_heads": 32, "vocab_size": 10}, "intermediate_size"),
    ({"hidden_size": "4096", "num_hidden_layers": 2, "num_attention_heads": 32}, "hidden_size"),
    ({"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 10, "intermediate_size": 8,
      "quantization_config": {"quant_method": "bitsandbytes"}}, "bitsandbytes"),
    ({"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 10, "intermediate_size": 8,
      "quantization_config": {"quant_method": "fp8", "weight_block_size": [128]}}, "weight_block_size"),
    ({"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 10,
      "hybrid_override_pattern": "M"}, "hybrid_override_pattern"),
    ({"hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 10,
      "block_configs": [{"attention": {"no_op": True}, "ffn": {}}]}, "ffn_mult"),
    ({"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 10, "intermediate_size": 8,
      "linear_num_value_heads": 4}, "full_attention_interval"),
])
def test_bad_configs_name_what_is_missing(cfg: dict[str, Any], needle: str) -> None:
    with pytest.raises(BadModelConfig) as info:
        estimate_weights(cfg)
    assert needle in info.value.message


def test_not_a_mapping() -> None:
    with pytest.raises(BadModelConfig):
        estimate_weights(["not", "a", "config"])  # type: ignore[arg-type]


def test_unknown_model_type_is_estimated_and_says_so() -> None:
    cfg = {"model_type": "brand_new", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
           "vocab_size": 100, "intermediate_size": 128}
    est = estimate_weights(cfg)
    # 2 x (4 x 64^2 attention + 3 x 64 x 128 MLP + 2 x 64 norms) + 2 x 100 x 64 + 64
    assert est.total_params == 2 * (4 * 64 * 64 + 3 * 64 * 128 + 2 * 64) + 2 * 100 * 64 + 64
    assert any("brand_new" in n for n in est.notes)


# --- pattern matching -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern,name,expected", [
    ("gate", "model.layers.0.mlp.gate", True),
    ("gate", "model.layers.0.mlp.gate_proj", False),
    ("lm_head", "language_model.lm_head", True),
    ("model.layers.0.self_attn.q_proj", "language_model.model.layers.0.self_attn.q_proj", True),
    ("model.layers.1.mlp", "model.layers.11.mlp.up_proj", False),
    ("model.layers.1.mlp", "model.layers.1.mlp.up_proj", True),
    ("model.layers.*.self_attn", "model.layers.7.self_attn.o_proj", True),
    ("model.layers.*.self_attn", "model.layers.7.mlp.up_proj", False),
    ("model.layers.3.self_attn*", "model.layers.3.self_attn.k_proj", True),
    ("model.layers.3.self_attn*", "model.layers.33.self_attn.k_proj", False),
    ("self_attn*", "model.layers.5.self_attn.q_proj", True),
    ("self_attn*", "model.layers.5.mlp.up_proj", False),
    ("re:.*lm_head", "lm_head", True),
    ("re:.*self_attn.*", "model.layers.0.mlp.up_proj", False),
])
def test_module_patterns(pattern: str, name: str, expected: bool) -> None:
    assert _Patterns([pattern]).match(name) is expected

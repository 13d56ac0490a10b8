"""Issue 8, item 5: config.json validation. A bad value the plan depends on is ONE clear error (BadModelConfig,
exit 3); a value that can be ignored safely is a warning; never an internal error (exit 70), never silence.

Through the planner for the messages, through the CLI (click runner) for exit codes and the error/hint lines, and a
seeded mutation fuzz over every embedded real config that asserts no mutation ever escapes as a non-LlmError.
"""

from __future__ import annotations

import copy
import json
import math
import random

import pytest
from click.testing import CliRunner

from kubectl_llm import catalog
from kubectl_llm.cli.main import cli
from kubectl_llm.errors import BadModelConfig, LlmError
from kubectl_llm.planner.facts import from_config
from kubectl_llm.planner.plan import make_plan
from kubectl_llm.planner.request import PlanRequest
from kubectl_llm.planner.source import ModelSource

GiB = 2**30


def config(model_id: str = "Qwen/Qwen3-8B") -> dict:
    return json.loads(catalog.find(model_id).read_text())["config"]


def with_(patch: dict, model_id: str = "Qwen/Qwen3-8B") -> dict:
    c = config(model_id)
    c.update(patch)
    return c


def plan_of(cfg: dict, **kw):
    kw.setdefault("gpu_type", "H100-80GB")
    return make_plan(ModelSource(model_id="test/model", config=cfg, weights=None, origin="local"), PlanRequest(**kw))


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("KUBECTL_LLM_DEBUG", raising=False)


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def model_dir(tmp_path, cfg, index: str | None = None):
    # json.dumps writes NaN / Infinity as the bare tokens transformers writes (and Python's json reads)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    if index is not None:
        (tmp_path / "model.safetensors.index.json").write_text(index)
    return str(tmp_path)


# --- one clear error, naming the field, the value and what was expected --------------------------------------------
ERRORS = [
    ({"num_hidden_layers": math.nan}, "num_hidden_layers is NaN, not a whole number"),
    ({"hidden_size": math.inf}, "hidden_size is Infinity, not a whole number"),
    ({"num_hidden_layers": 10**12}, "num_hidden_layers is 1000000000000, not a plausible size (at most 4096)"),
    ({"vocab_size": 10**15}, "vocab_size is 1000000000000000, not a plausible size"),
    ({"num_key_value_heads": 64}, "64 KV heads but only 32 attention heads"),
    ({"num_key_value_heads": 5}, "32 attention heads are not a multiple of its 5 KV heads"),
    ({"hidden_size": 4096.5}, "hidden_size is 4096.5, not a whole number"),
    ({"num_attention_heads": 31.5}, "num_attention_heads is 31.5, not a whole number"),
    ({"intermediate_size": math.nan}, "intermediate_size is NaN"),
    ({"head_dim": -128}, "head_dim is -128, below 1"),
    ({"num_hidden_layers": "36"}, "num_hidden_layers is str '36', not a whole number"),
    ({"num_hidden_layers": True}, "num_hidden_layers is bool True, not a whole number"),
    ({"hidden_size": [4096]}, "hidden_size is list [4096], not a whole number"),
    ({"architectures": "Qwen3ForCausalLM"}, "architectures is the string 'Qwen3ForCausalLM', not a list"),
    ({"architectures": [3]}, "architectures is [3], not a list of class names"),
    ({"max_position_embeddings": math.nan}, "max_position_embeddings is NaN"),
    ({"max_position_embeddings": 10**30}, "max_position_embeddings is 1000000000000000000000000000000, not a plausible"),
    ({"quantization_config": "fp8"}, "quantization_config is 'fp8', not an object"),
    ({"num_experts": 8, "num_experts_per_tok": 16, "moe_intermediate_size": 768},
     "routes each token to 16 experts but has only 8"),
    ({"num_experts": 2.5}, "num_experts is 2.5, not a whole number"),
]


@pytest.mark.parametrize("patch,message", ERRORS, ids=[m[:40] for _, m in ERRORS])
def test_bad_values_are_one_clear_error(patch, message):
    with pytest.raises(BadModelConfig) as exc:
        plan_of(with_(patch))
    assert message in exc.value.message
    assert exc.value.exit_code == 3 and exc.value.hint


def test_string_architectures_hint_shows_the_list_form():
    with pytest.raises(BadModelConfig) as exc:
        from_config(with_({"architectures": "Qwen3ForCausalLM"}), "m")
    assert exc.value.hint == 'write "architectures": ["Qwen3ForCausalLM"]'


def test_nested_text_config_values_are_checked_too():
    c = config("Qwen/Qwen3-VL-235B-A22B-Instruct")
    c["text_config"]["num_key_value_heads"] = 3                   # 64 heads % 3
    with pytest.raises(BadModelConfig, match="64 attention heads are not a multiple of its 3 KV heads"):
        plan_of(c)
    c = config("Qwen/Qwen3-VL-235B-A22B-Instruct")
    c["text_config"]["hidden_size"] = math.inf
    with pytest.raises(BadModelConfig, match=r"text_config\.hidden_size is Infinity"):
        plan_of(c)


def test_mla_kv_head_count_is_not_checked():
    # vLLM ignores num_key_value_heads of MLA models (one latent head): DeepSeek-V3 says 128 = heads, fine either way
    c = config("deepseek-ai/DeepSeek-V3")
    c["num_key_value_heads"] = 7
    assert from_config(c, "m").num_kv_heads == 1


def test_real_infinity_outside_read_fields_is_accepted():
    # Nemotron-H's config has time_step_limit [0.0, Infinity], as HF writes it: not a field the planner reads
    c = config("nvidia/Nemotron-H-56B-Base-8K")
    assert c["time_step_limit"][1] == math.inf
    assert plan_of(c, gpu_type="H200").fits


# --- values that can be ignored safely: a warning that says what was assumed ------------------------------------
WARNINGS = [
    ({"sliding_window": math.nan}, "sliding_window is NaN, not a whole number: ignored, every layer is treated as "
                                   "full attention"),
    ({"torch_dtype": 3}, "torch_dtype is 3, not a known dtype: ignored, bfloat16 assumed"),
    ({"rope_scaling": "yarn"}, "rope_scaling is 'yarn', not an object: ignored"),
    ({"layer_types": ["full_attention"] * 5}, "layer_types has 5 entries for 36 layers: ignored"),
    ({"seq_length": math.inf}, "seq_length is Infinity, not a whole number: ignored as a context length"),
    ({"tie_word_embeddings": "yes"}, "tie_word_embeddings is 'yes', not true/false: read as True"),
]


@pytest.mark.parametrize("patch,message", WARNINGS, ids=[m[:30] for _, m in WARNINGS])
def test_ignorable_values_are_warnings(patch, message):
    p = plan_of(with_(patch))
    assert any(message in w for w in p.warnings), p.warnings
    assert p.fits


def test_a_bad_sliding_window_is_read_as_full_attention():
    # ignoring it is the conservative reading: KV per token is the full-attention one, 36 x 2 x 8 x 128 x 2
    p = plan_of(with_({"sliding_window": -4096, "use_sliding_window": True}))
    assert p.to_dict()["memory"]["kv_bytes_per_token"] == 36 * 2 * 8 * 128 * 2


# --- through the CLI: exit 3, one error line, one hint line; warnings on stderr, exit 0 ---------------------------
@pytest.mark.parametrize("patch,message", ERRORS[:8] + ERRORS[13:14], ids=[m[:40] for _, m in ERRORS[:8] + ERRORS[13:14]])
def test_cli_bad_config_exits_3_with_one_error_and_one_hint(tmp_path, patch, message):
    result = run("plan", model_dir(tmp_path, with_(patch)), "--gpu", "H100-80GB")
    assert result.exit_code == 3, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: ")
    assert message in lines[0] and result.stdout == ""


def test_cli_ignorable_value_is_a_warning_and_the_plan_is_printed(tmp_path):
    result = run("plan", model_dir(tmp_path, with_({"sliding_window": math.nan})), "--gpu", "H100-80GB", "-o", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert any("sliding_window is NaN" in w for w in doc["warnings"])


@pytest.mark.parametrize("index,message", [
    ('{"metadata": {"total_size": -5}, "weight_map": {}}', "metadata.total_size is -5, not a byte count: ignored"),
    ("{not json", "model.safetensors.index.json is not valid JSON: ignored"),
    ('{"metadata": {"total_size": "abc"}, "weight_map": {"a": "x.safetensors"}}',
     "metadata.total_size is 'abc', not a byte count: ignored"),
    ('[1, 2]', "model.safetensors.index.json is not a JSON object: ignored"),
])
def test_cli_corrupt_or_negative_weight_index_is_a_warning(tmp_path, index, message):
    result = run("plan", model_dir(tmp_path, config(), index=index), "--gpu", "H100-80GB", "-o", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert any(message in w for w in doc["warnings"]), doc["warnings"]
    assert doc["model"]["weight_bytes_source"].startswith("estimated from config.json")


# Qwen3-8B from config.json: embeddings + untied lm_head 2 x 151936 x 4096 = 1,244,659,712; per layer q/o 2 x 4096^2,
# k/v 2 x 4096 x 1024, q/k norms 2 x 128, MLP 3 x 4096 x 12288, 2 norms x 4096 = 192,946,432, x 36 layers, + the final
# norm 4096: 8,190,735,360 parameters x 2 bytes (bf16) = 16,381,470,720 bytes (15.3 GiB)
QWEN3_8B_ESTIMATE = 2 * (2 * 151936 * 4096 + 36 * (2 * 4096**2 + 2 * 4096 * 1024 + 2 * 128 + 3 * 4096 * 12288
                                                       + 2 * 4096) + 4096)


@pytest.mark.parametrize("total,used,message", [
    (1, QWEN3_8B_ESTIMATE, "says 1 B, but config.json describes about 15.3 GiB: more than 3x apart (a corrupt or "
                           "mismatched index?); the plan uses the larger, 15.3 GiB"),
    (10**30, QWEN3_8B_ESTIMATE, "not a plausible checkpoint size (more than 1 PiB): ignored"),
    (4 * QWEN3_8B_ESTIMATE, 4 * QWEN3_8B_ESTIMATE, "more than 3x apart (a corrupt or mismatched index?); the plan "
                                                   "uses the larger, 61.0 GiB"),
])
def test_a_weight_total_far_from_what_the_config_describes_is_a_warning_not_silence(total, used, message):
    # Before: a 1-byte index total planned Qwen3-8B as "1 B weights" (PVC and GPUs sized for nothing), a 10^30-byte one
    # as 931322574615478534144 GiB that fits nowhere: both without a word
    from kubectl_llm.planner.source import WeightMetadata

    assert QWEN3_8B_ESTIMATE == 16_381_470_720
    src = ModelSource(model_id="m", config=config(), weights=WeightMetadata(total_bytes=total, source="index"),
                      origin="local")
    p = make_plan(src, PlanRequest(gpu_type="H100-80GB"))
    assert p.weight_bytes == used and p.fits
    assert any(w.startswith("index says ") and message in w for w in p.warnings), p.warnings
    # within 3x (the catalog's real totals are within 10 %): the metadata stands, no warning
    ok = make_plan(ModelSource(model_id="m", config=config(), weights=WeightMetadata(
        total_bytes=16_384_000_000, source="index"), origin="local"), PlanRequest(gpu_type="H100-80GB"))
    assert ok.weight_bytes == 16_384_000_000 and not any("apart" in w for w in ok.warnings)


def test_cli_a_one_byte_weight_index_is_overruled_with_a_warning(tmp_path):
    result = run("plan", model_dir(tmp_path, config(), index='{"metadata": {"total_size": 1}, "weight_map": {}}'),
                 "--gpu", "H100-80GB", "-o", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["model"]["weight_bytes"] == QWEN3_8B_ESTIMATE
    assert doc["model"]["weight_bytes_source"] == ("estimated from config.json (the safetensors metadata total was "
                                                   "overruled)")
    assert any("metadata.total_size says 1 B" in w for w in doc["warnings"])


@pytest.mark.parametrize("value,message,hint", [
    ("0", "--gpu-memory 0 is not a GPU size", "80GiB"),
    ("0GiB", "--gpu-memory 0GiB is not a GPU size", "80GiB"),
    ("80", "--gpu-memory 80 has no unit", "--gpu-memory 80GiB"),
    ("23.58", "--gpu-memory 23.58 has no unit", "--gpu-memory 23.58GiB"),
    ("200MiB", "--gpu-memory 200MiB is not a GPU size", "80GiB"),
])
def test_gpu_memory_zero_or_unitless_is_a_usage_error(value, message, hint):
    result = run("plan", "Qwen/Qwen3-8B", "--gpu-memory", value)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and message in lines[0] and lines[1].startswith("hint: ") and hint in lines[1]


# --- the RoPE block: the plan copies it into --hf-overrides and extends it, vLLM reads every number in it ----------
# Before: NaN / Infinity / a string / a list there passed unnoticed (a plan at the native context showed nothing) and
# reached int() only when --context-length went above the native context: exit 70 ("cannot convert float NaN to
# integer"), or an error line quoting "YaRN factor nan".
ROPE_ERRORS = [
    ({"rope_type": "yarn", "factor": math.nan, "original_max_position_embeddings": 32768},
     "rope_scaling.factor is NaN, not a positive number"),
    ({"rope_type": "yarn", "factor": -4, "original_max_position_embeddings": 32768},
     "rope_scaling.factor is -4, not a positive number"),
    ({"rope_type": "yarn", "factor": "4", "original_max_position_embeddings": 32768},
     "rope_scaling.factor is str '4', not a positive number"),
    ({"rope_type": "yarn", "factor": 4, "original_max_position_embeddings": math.nan},
     "rope_scaling.original_max_position_embeddings is NaN, not a whole number"),
    ({"rope_type": "yarn", "factor": 4, "original_max_position_embeddings": [1]},
     "rope_scaling.original_max_position_embeddings is list [1], not a whole number"),
    ({"rope_type": "yarn", "factor": 4, "original_max_position_embeddings": 10**30},
     "rope_scaling.original_max_position_embeddings is 1000000000000000000000000000000, not a plausible size"),
    ({"rope_type": 5, "factor": 4, "original_max_position_embeddings": 32768},
     "rope_scaling.rope_type is 5, not a name"),
    ({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": math.inf, "original_max_position_embeddings": 8192},
     "rope_scaling.low_freq_factor is Infinity, not a finite number"),
]


@pytest.mark.parametrize("block,message", ROPE_ERRORS, ids=[m[:50] for _, m in ROPE_ERRORS])
def test_bad_rope_block_values_are_one_clear_error(block, message):
    for context in (None, 131072):                       # at the native context too: never silence
        with pytest.raises(BadModelConfig) as exc:
            plan_of(with_({"rope_scaling": block}), context=context)
        assert message in exc.value.message and exc.value.exit_code == 3 and exc.value.hint


def test_nested_rope_parameters_are_checked_too():
    # Qwen3.5 keeps its RoPE in text_config.rope_parameters (the handbook's 1010000-token override extends it)
    c = config("Qwen/Qwen3.5-397B-A17B-FP8")
    c["text_config"]["rope_parameters"]["rope_theta"] = math.nan
    with pytest.raises(BadModelConfig, match=r"text_config\.rope_parameters\.rope_theta is NaN, not a positive number"):
        plan_of(c, gpu_type="H200", context=1010000)
    c["text_config"]["rope_parameters"]["rope_theta"] = 0
    with pytest.raises(BadModelConfig, match=r"rope_theta is 0, not a positive number"):
        plan_of(c, gpu_type="H200")


@pytest.mark.parametrize("block", [b for b, _ in ROPE_ERRORS[:6]], ids=[m[:50] for _, m in ROPE_ERRORS[:6]])
def test_cli_bad_rope_block_above_the_native_context_exits_3_not_70(tmp_path, block):
    # Mixtral's family has no recipe RoPE original, so the block's own original_max_position_embeddings was int()-ed
    c = dict(config("mistralai/Mixtral-8x7B-v0.1"), rope_scaling=block)
    result = run("plan", model_dir(tmp_path, c), "--gpu-memory", "1000GiB", "--context-length", "300000")
    assert result.exit_code == 3, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and "rope_scaling." in lines[0]
    assert lines[1].startswith("hint: ")


def test_real_rope_blocks_pass():
    # every embedded config's RoPE block (YaRN, llama3, linear, dynamic, mrope, partial rotary) stays valid
    for model_id in catalog.model_ids():
        plan_of(config(model_id), gpu_memory_bytes=1000 * GiB, gpu_type=None)


# --- mutation fuzz: every real config, many bad values, never an internal error -----------------------------------
BAD_VALUES = [math.nan, math.inf, -math.inf, -1, 0, 0.5, 10**12, 10**40, "12", True, None, [], {}, [4096], 1.5e300]
NUMERIC_KEYS = ("num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim",
                "intermediate_size", "vocab_size", "max_position_embeddings", "num_experts", "num_local_experts",
                "n_routed_experts", "num_experts_per_tok", "moe_intermediate_size", "kv_lora_rank",
                "qk_rope_head_dim", "sliding_window", "linear_num_value_heads", "mamba_num_heads", "n_groups",
                "ssm_state_size", "full_attention_interval", "num_nextn_predict_layers", "attention_chunk_size")


def _mutations(rng: random.Random, cfg: dict, n: int):
    sections = [("", cfg)] + [(k, cfg[k]) for k in ("text_config", "vision_config", "quantization_config")
                              if isinstance(cfg.get(k), dict)]
    for _ in range(n):
        c = copy.deepcopy(cfg)
        name, _ = rng.choice(sections)
        target = c if not name else c[name]
        present = [k for k, v in target.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        key = rng.choice(present + list(NUMERIC_KEYS)) if rng.random() < 0.8 else rng.choice(
            ["architectures", "text_config", "rope_scaling", "layer_types", "torch_dtype", "quantization_config"])
        target[key] = rng.choice(BAD_VALUES + ["X", 3.7])
        yield f"{name + '.' if name else ''}{key}={target[key]!r}", c


@pytest.mark.parametrize("model_id", catalog.model_ids())
def test_mutated_real_configs_never_escape_as_internal_errors(model_id):
    rng = random.Random(f"issue-8-{model_id}")           # seeded: the same cases on every run
    cfg = config(model_id)
    for what, c in _mutations(rng, cfg, 25):
        try:
            p = make_plan(ModelSource(model_id=model_id, config=c, weights=None, origin="catalog"),
                          PlanRequest(gpu_memory_bytes=1000 * GiB))
        except LlmError as exc:                       # a clear error: message and hint, exit code 3 or 4
            assert exc.message and exc.hint, what
            assert exc.exit_code in (2, 3, 4), (what, exc.exit_code)
        except Exception as exc:                      # noqa: BLE001 - exactly what must never happen
            pytest.fail(f"{model_id} with {what}: {type(exc).__name__}: {exc} (exit 70)")
        else:
            json.dumps(p.to_dict())                  # the document serialises (no NaN sneaks into -o json)
            assert p.to_text()


def test_an_estimate_that_fails_beside_real_weights_is_a_warning_not_silence():
    # the checkpoint's total (safetensors metadata) stands, but the per-part split is lost: the plan says so
    from kubectl_llm.planner.source import WeightMetadata

    c = with_({"quantization_config": {"quant_method": "weird"}})
    src = ModelSource(model_id="m", config=c, weights=WeightMetadata(total_bytes=16 * GiB, source="test"),
                      origin="local")
    p = make_plan(src, PlanRequest(gpu_type="H100-80GB"))
    assert p.weight_bytes == 16 * GiB
    assert any("weight split could not be estimated" in w and "'weird'" in w for w in p.warnings), p.warnings

"""The ten families whose SGLang release was "unknown" (issue 8, point 2), driven through `kubectl-llm plan DIR
--engine sglang` on a trimmed config directory named like the checkpoint: either the release the evidence in
recipes.yaml establishes (the sglang wheel registering the class and the parsers, nothing known missing) is pinned
with its parsers, and those parsers are in that release's registry snapshot (tests/data/parser_registries.yaml), or
the plan is refused: one `error:` line saying no SGLang release is known to serve the family (naming the sgl-cookbook's
dedicated image where recipes.yaml has one), exit 4, and a `hint:` naming --engine vllm and the vLLM release the same
directory's vLLM plan pins.

The config numbers are real checkpoints' (the repo fixtures); where the family's own config is not in the repository
the fixture of a related checkpoint stands in under the family's class name (the verdict depends on the class and the
directory name only: the refusal comes before any sizing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kubectl_llm.cli.main import cli
from kubectl_llm.planner import engine as eng

HERE = Path(__file__).resolve().parent
CONFIGS = HERE / "fixtures" / "configs"
REG = yaml.safe_load((HERE / "data" / "parser_registries.yaml").read_text(encoding="utf-8"))
V = eng.parse_version


def _config(fixture: str, **changes) -> dict:
    path = HERE / "fixtures" / "multinode" / fixture if fixture.startswith("zai-org__GLM-5") else CONFIGS / fixture
    return dict(json.loads(path.read_text(encoding="utf-8")), **changes)


def _dir(tmp_path: Path, name: str, config: dict) -> str:
    d = tmp_path / name
    d.mkdir()
    (d / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return str(d)


def _plan(*args: str):
    return CliRunner().invoke(cli, ["plan", *args])


NEMOTRON_H = "nvidia__Nemotron-H-56B-Base-8K.json"
DEVSTRAL = "mistralai__Devstral-Small-2507.json"            # MistralForCausalLM
# family, directory name, config (fixture, changes), dedicated image recipes.yaml names (None: no image known)
REFUSED = [
    ("intern_s2", "Intern-S2-397B", ("Qwen__Qwen3.5-397B-A17B.json", {}), None),
    ("deepseek_v4_vision", "DeepSeek-V4-Flash-Vision-Exp",
     ("deepseek-ai__DeepSeek-V3.json", {"architectures": ["DeepseekV4ForCausalLM"]}), None),
    ("glm_ga", "GLM-GA", ("Qwen__Qwen3-8B.json", {"architectures": ["Glm4vForConditionalGeneration"]}), None),
    ("mistral_small_4", "Mistral-Small-4-119B-2603", (DEVSTRAL, {}), "lmsysorg/sglang:mistral-small-4"),
    ("nemotron_3_5", "NVIDIA-Nemotron-3.5-Lightning-30B-A3B-BF16", (NEMOTRON_H, {}),
     "lmsysorg/sglang:dev-nemotron3-5-lightning"),
    ("nemotron_3_ultra", "NVIDIA-Nemotron-3-Ultra-Instruct", (NEMOTRON_H, {}), "lmsysorg/sglang:dev-nemotron3-ultra"),
    # a MiniMax-M3 checkpoint under SGLang's own class name: the family (model_type minimax_m3) is still refused
    ("minimax_m3", "MiniMax-M3",
     ("Qwen__Qwen3-8B.json", {"architectures": ["MiniMaxM3SparseForCausalLM"], "model_type": "minimax_m3"}),
     "lmsysorg/sglang:dev-minimax-m3"),
    ("ling_2_6", "Ling-2.6-flash", ("Qwen__Qwen3-30B-A3B.json", {"architectures": ["BailingMoeV2_5ForCausalLM"]}), None),
    # the 0.5.20-0.5.23 wheels register the class, but 0.5.20 / 0.5.21 pin a transformers without its processor and the
    # sgl-cookbook says no public release has the support (the GLM-5 fixture, sparse MLA MoE, under the GLM-5.3-Flash class)
    ("glm5_next", "GLM-5.3-Flash", ("zai-org__GLM-5.json", {"architectures": ["Glm5NextForConditionalGeneration"]}),
     "lmsysorg/sglang:glm-5.3-flash"),
    # the wheels register the class and the parsers, but the sgl-cookbook serves them only from dedicated images
    ("kimi_k3", "Kimi-K3", ("deepseek-ai__DeepSeek-V3.json", {"architectures": ["KimiK3ForConditionalGeneration"]}),
     "lmsysorg/sglang:kimi-k3"),
    ("ling3", "Ling-3.0-flash", ("Qwen__Qwen3-30B-A3B.json", {"architectures": ["BailingMoeV3ForCausalLM"]}),
     "lmsysorg/sglang:dev-Ling-3.0-flash"),
    # the same: the sgl-cookbook Hy3 / Inkling / MiniCPM-V 4.6 configs name only dev or dedicated images (shapes borrowed)
    ("hy3", "Hy3", ("Qwen__Qwen3-30B-A3B.json", {"architectures": ["HYV3ForCausalLM"], "model_type": "hy_v3"}),
     "lmsysorg/sglang:dev"),
    ("inkling", "Inkling-Small-NVFP4", ("Qwen__Qwen3-30B-A3B.json", {"architectures": ["InklingForConditionalGeneration"]}),
     "lmsysorg/sglang:inkling-cu13"),
    ("minicpm_v", "MiniCPM-V-4.6", ("Qwen__Qwen3-8B.json", {"architectures": ["MiniCPMV4_6ForConditionalGeneration"]}),
     "lmsysorg/sglang:dev"),
]


@pytest.mark.parametrize("family,name,config,image", REFUSED, ids=[r[0] for r in REFUSED])
def test_sglang_plan_of_a_family_no_release_serves_is_refused(tmp_path, family, name, config, image):
    model = _dir(tmp_path, name, _config(config[0], **config[1]))
    vllm = _plan(model, "--gpu", "H100-80GB", "--gpus", "8", "-o", "json")
    assert vllm.exit_code in (0, 5), vllm.output                  # vLLM plans it (fits or not: no refusal)
    serving = json.loads(vllm.stdout)["serving"]
    assert serving["engine"] == "vllm"
    fam = next(f for f in eng._data()["families"] if f["key"] == family)
    assert fam["min_version"]["sglang"] == "none"
    assert V(serving["engine_version"]) >= V(fam["min_version"]["vllm"])      # (a parser's first release may be newer)

    res = _plan(model, "--gpu", "H100-80GB", "--gpus", "8", "--engine", "sglang")
    assert res.exit_code == 4, res.output
    assert res.stdout == "" and "Traceback" not in res.output
    error, hint = res.stderr.strip().splitlines()
    assert error.startswith(f"error: no SGLang release is known to serve the {family} family (sglang wheels up to "
                            f"0.5.23 read: ")
    assert " ".join(fam["sglang_why"].split()) in error
    if image:
        assert error.endswith(f"; the sgl-cookbook serves it from the dedicated image {image}, which is no release")
        assert fam["sglang_dev_image"] == image
    else:
        assert error.endswith(")") and "dedicated image" not in error and "sglang_dev_image" not in fam
    assert hint == (f"hint: use --engine vllm: the plan pins vLLM {serving['engine_version']} "
                    f"(image {serving['image']}) for it")


@pytest.mark.parametrize("arch", ["MiniMaxM3ForCausalLM", "MiniMaxM3VLForConditionalGeneration"])
def test_minimax_m3_classes_are_refused_by_class_before_the_family(tmp_path, arch):
    """The classes the minimax_m3 family matches are in no SGLang release (sglang_classes, first: null): that refusal
    names the class; a checkpoint under SGLang's own MiniMaxM3Sparse* name gets the family refusal above."""
    model = _dir(tmp_path, "MiniMax-M3", _config("Qwen__Qwen3-8B.json", architectures=[arch], model_type="minimax_m3"))
    res = _plan(model, "--gpu", "H100-80GB", "--gpus", "8", "--engine", "sglang")
    assert res.exit_code == 4 and res.stdout == "", res.output
    error, hint = res.stderr.strip().splitlines()
    assert error.startswith(f"error: SGLang has no implementation of {arch} in any release up to 0.5.23 (SGLang's "
                            f"MiniMax-M3 classes are MiniMaxM3SparseForCausalLM / ")
    assert hint == "hint: serve it with vLLM (the default engine): drop --engine sglang"


# family, directory name, config, the release pinned, SGLang tool / reasoning parser
PINNED = [
    # the 0.5.20 wheel: GLM-5.3's always-think template rule (template_detection.py glm53_always_think)
    ("glm5_3", "GLM-5.3", ("zai-org__GLM-5.json", {}), "0.5.20", "glm47", "glm45"),
    # sgl-project/sglang#29835: "at least 0.5.19 works"; its wheel has Mistral3 / mistral parsers, mistral_common>=1.11.5
    ("mistral_medium_3_5", "Mistral-Medium-3.5-128B", (DEVSTRAL, {}), "0.5.19", "mistral", "mistral"),
]


def _registered_by(kind: str, name: str) -> str:
    """The first release whose wheel registers SGLang parser ``name`` (the snapshot in parser_registries.yaml)."""
    sg = REG["sglang"]
    assert name in sg[kind]["names"], f"{name} is in no SGLang {kind} registry snapshot"
    first = sg["known_from"][kind].get(name)
    if first is None:
        assert name in sg["release_0_5_9"][kind], f"{name}: no first release and not in 0.5.9"
        return "0.5.9"
    return str(first)


@pytest.mark.parametrize("family,name,config,version,tool,reasoning", PINNED, ids=[p[0] for p in PINNED])
def test_sglang_plan_pins_the_established_release_and_its_parsers(tmp_path, family, name, config, version, tool,
                                                                  reasoning):
    model = _dir(tmp_path, name, _config(config[0], **config[1]))
    res = _plan(model, "--gpu", "H200", "--gpus", "8", "--engine", "sglang", "-o", "json")
    assert res.exit_code in (0, 5), res.output
    d = json.loads(res.stdout)
    s = d["serving"]
    assert (s["engine"], s["engine_version"], s["image"]) == ("sglang", version, f"lmsysorg/sglang:v{version}")
    assert (s["tool_call_parser"], s["reasoning_parser"]) == (tool, reasoning)
    a = s["args"]
    assert a[a.index("--tool-call-parser") + 1] == tool and a[a.index("--reasoning-parser") + 1] == reasoning
    assert f"sglang {version} pinned (image lmsysorg/sglang:v{version}) instead of the default 0.5.9: the first SGLang " \
           f"release known to serve the {family} family (recipes.yaml min_version)" in d["reasons"]
    assert not any("SGLang release" in w and "not established" in w for w in d["warnings"])
    for kind, parser in (("tool", tool), ("reasoning", reasoning)):        # in the registry of the pinned release
        assert V(_registered_by(kind, parser)) <= V(version)
    fam = next(f for f in eng._data()["families"] if f["key"] == family)
    assert fam["min_version"]["sglang"] == version and not fam.get("sglang_why")


def test_no_family_keeps_the_old_unknown_value():
    values = {str((f.get("min_version") or {}).get("sglang")) for f in eng._data()["families"]}
    assert "unknown" not in values
    for fam in eng._data()["families"]:
        mv = str(fam["min_version"]["sglang"])
        if mv == "none":
            assert fam.get("sglang_why"), f"{fam['key']}: a refused family says why"
        else:
            assert V(mv) and not fam.get("sglang_why") and not fam.get("sglang_dev_image"), fam["key"]


# Olmo-3-7B-Instruct's config.json numbers (allenai/Olmo-3-7B-Instruct): 32 layers, 3 sliding-window (4096) to 1 full
OLMO3 = {"architectures": ["Olmo3ForCausalLM"], "model_type": "olmo3", "hidden_act": "silu", "hidden_size": 4096,
         "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
         "layer_types": (["sliding_attention"] * 3 + ["full_attention"]) * 8, "sliding_window": 4096,
         "max_position_embeddings": 65536, "rms_norm_eps": 1e-06, "rope_theta": 500000.0,
         "rope_scaling": {"rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": 8192,
                          "attention_factor": 1.2079441541679836, "beta_fast": 32.0, "beta_slow": 1.0},
         "tie_word_embeddings": False, "vocab_size": 100278, "torch_dtype": "bfloat16"}


def test_olmo3_is_served_by_sglang_0_5_9_with_full_length_kv_on_every_layer(tmp_path):
    """SGLang 0.5.9 serves Olmo 3 as Olmo2ForCausalLM (configs/olmo3.py) with hybrid SWA memory disabled: every layer
    keeps full-length KV, so the SGLang plan sizes 32 full layers where vLLM's sizes the 8 full-attention ones."""
    model = _dir(tmp_path, "Olmo-3-7B-Instruct", OLMO3)
    per_layer = 2 * 32 * 128 * 2                       # K and V x 32 KV heads x head_dim 128 x bfloat16
    sg = _plan(model, "--gpu", "H100-80GB", "--engine", "sglang", "-o", "json")
    assert sg.exit_code == 0, sg.output
    d = json.loads(sg.stdout)
    s = d["serving"]
    assert (s["engine"], s["engine_version"], s["image"]) == ("sglang", "0.5.9", "lmsysorg/sglang:v0.5.9")
    assert d["fits"] is True and d["memory"]["kv_bytes_per_token"] == 32 * per_layer == 524288
    assert "--tool-call-parser" not in s["args"]             # SGLang has no olmo3 parser: the plan passes none, warns
    assert any(w.startswith("SGLang has no tool parser for olmo3") for w in d["warnings"])
    v = json.loads(_plan(model, "--gpu", "H100-80GB", "-o", "json").stdout)
    assert v["memory"]["kv_bytes_per_token"] == 8 * per_layer == 131072           # vLLM: the growing full layers
    assert d["memory"]["kv_cache_tokens"] < v["memory"]["kv_cache_tokens"]
    fam = next(f for f in eng._data()["families"] if f["key"] == "olmo3")
    assert fam["min_version"]["sglang"] == "0.5.9" and "Olmo3ForCausalLM" not in eng._data()["sglang_classes"]["classes"]


def test_olmo3_under_sglang_refuses_a_compute_12_card(tmp_path):
    """On compute 12.0 SGLang's default backend for Olmo 3 is fa3, which asserts compute 8.x / 9.x: the card is no
    candidate (one error + a hint naming the cards that run it, exit 4); vLLM still plans it there."""
    model = _dir(tmp_path, "Olmo-3-7B-Instruct", OLMO3)
    res = _plan(model, "--gpu", "RTX-PRO-6000", "--engine", "sglang")
    assert res.exit_code == 4 and res.stdout == "" and "Traceback" not in res.output
    error, hint = res.stderr.strip().splitlines()
    assert error == (f"error: {model} cannot run on RTX-PRO-6000: cannot run under SGLang: SGLang picks the fa3 "
                     "attention backend for Olmo 3 on compute >= 8.0 outside 10.x (and refuses FlashInfer for it), "
                     "and fa3 asserts compute 8.x / 9.x, this card is compute 12.0")
    assert hint.startswith("hint: pick a GPU that can: --gpu A100-80GB") and "RTX-PRO-6000" not in hint
    auto = json.loads(_plan(model, "--engine", "sglang", "-o", "json").stdout)
    assert auto["gpu"]["candidates"]["RTX-PRO-6000"].startswith("cannot run under SGLang: SGLang picks the fa3")
    assert auto["gpu"]["candidates"]["H100-80GB"] == "fits on 1 GPU(s)"
    v = _plan(model, "--gpu", "RTX-PRO-6000", "-o", "json")
    assert v.exit_code == 0 and json.loads(v.stdout)["serving"]["engine"] == "vllm"


def test_olmo3_under_sglang_on_a_card_of_unknown_compute_warns(tmp_path):
    """--gpu-memory gives no compute capability: the plan is made, with a warning naming the compute-12 limit."""
    model = _dir(tmp_path, "Olmo-3-7B-Instruct", OLMO3)
    d = json.loads(_plan(model, "--gpu-memory", "80Gi", "--engine", "sglang", "-o", "json").stdout)
    assert d["fits"] is True
    assert ("SGLang on a --gpu-memory card of unknown compute capability: SGLang picks the fa3 attention backend for "
            "Olmo 3 on compute >= 8.0 outside 10.x (and refuses FlashInfer for it), and fa3 asserts compute 8.x / 9.x; "
            "make sure it is below compute 11.0") in d["warnings"]
    v = json.loads(_plan(model, "--gpu-memory", "80Gi", "-o", "json").stdout)        # vLLM: no such limit
    assert not any("unknown compute capability" in w for w in v["warnings"])

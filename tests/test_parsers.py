"""Parsers for every family, the engine version each plan pins, and the chat-template cross-check.

Registries: tests/data/parser_registries.yaml (transcribed from ../shared/notes/parser-registries.md with the source
commits), kept apart from the planner's own data so a family that emits a name its pinned engine lacks fails here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from kubectl_llm import catalog
from kubectl_llm.adapters.hub import load_model
from kubectl_llm.errors import LlmError, PlanError
from kubectl_llm.planner import engine as eng
from kubectl_llm.planner.parsers import choose, detect_tool_format, template_from_tokenizer_config
from kubectl_llm.planner.plan import make_plan
from kubectl_llm.planner.request import PlanRequest
from kubectl_llm.planner.source import ModelSource
from kubectl_llm.planner.values import chart_values

HERE = Path(__file__).resolve().parent
REG = yaml.safe_load((HERE / "data" / "parser_registries.yaml").read_text())
TEMPLATES = HERE / "fixtures" / "chat_templates"
V = eng.parse_version


def template(name: str) -> str:
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    return template_from_tokenizer_config(text) or "" if name.endswith(".json") else text


def catalog_source(catalog_id: str, **changes) -> ModelSource:
    data = json.loads(catalog.find(catalog_id).read_text())          # type: ignore[union-attr]
    return ModelSource(model_id=changes.pop("model_id", data["model_id"]), config=changes.pop("config", data["config"]),
                       weights=None, origin="catalog", **changes)


def vllm_registered(kind: str, name: str, version: tuple[int, ...]) -> str:
    """'' if vLLM ``version`` registers ``name``, else why not."""
    r = REG["vllm"][kind]
    if name not in r["names"] and name not in r.get("also", {}):
        return f"{name} is not in vLLM's {kind} parser registry ({r['source']})"
    first = r["known_from"].get(name)
    if first is None:
        return f"no release known to register {kind} parser {name}"
    if V(first) > version:
        return f"{kind} parser {name} is known from vLLM {first}, the plan pins {eng.version_text(version)}"
    return ""


def emitted(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args else None


# --- id-pattern cases per family (hand-listed from the recipes / vLLM docs) ------------------------------------------
# (architecture, model_type, model id) -> (family, vLLM tool, vLLM reasoning, SGLang tool, SGLang reasoning, vLLM)
CASES = [
    ("Qwen3MoeForCausalLM", "qwen3_moe", "Qwen/Qwen3-235B-A22B", "qwen3_moe", "hermes", "qwen3", "qwen25", "qwen3", "0.17.0"),
    ("Qwen3MoeForCausalLM", "qwen3_moe", "Qwen/Qwen3-235B-A22B-Instruct-2507", "qwen3_moe", "hermes", None, "qwen25", None, "0.17.0"),
    ("Qwen3MoeForCausalLM", "qwen3_moe", "Qwen/Qwen3-235B-A22B-Thinking-2507-FP8", "qwen3_moe", "hermes", "qwen3", "qwen25", "qwen3", "0.17.0"),
    # the defect: Qwen3-Coder got hermes + qwen3; its recipe says qwen3_coder and no reasoning parser
    ("Qwen3MoeForCausalLM", "qwen3_moe", "Qwen/Qwen3-Coder-480B-A35B-Instruct", "qwen3_coder", "qwen3_coder", None, "qwen3_coder", None, "0.17.0"),
    ("Qwen3MoeForCausalLM", "qwen3_moe", "Qwen/Qwen3-Coder-30B-A3B-Instruct-FP8", "qwen3_coder", "qwen3_coder", None, "qwen3_coder", None, "0.17.0"),
    ("Qwen3ForCausalLM", "qwen3", "Qwen/Qwen3-8B", "qwen3", "hermes", "qwen3", "qwen25", "qwen3", "0.17.0"),
    ("Qwen3NextForCausalLM", "qwen3_next", "Qwen/Qwen3-Next-80B-A3B-Instruct", "qwen3_next", "hermes", None, "qwen25", None, "0.17.0"),
    ("Qwen3NextForCausalLM", "qwen3_next", "Qwen/Qwen3-Next-80B-A3B-Thinking", "qwen3_next", "hermes", "qwen3", "qwen25", "qwen3", "0.17.0"),
    ("Qwen3NextForCausalLM", "qwen3_next", "Qwen/Qwen3-Coder-Next", "qwen3_coder_next", "qwen3_coder", None, "qwen3_coder", None, "0.17.0"),
    ("Qwen2ForCausalLM", "qwen2", "Qwen/QwQ-32B", "qwq", "hermes", "deepseek_r1", "qwen25", "deepseek-r1", "0.17.0"),
    ("Qwen2ForCausalLM", "qwen2", "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", "r1_distill", None, "deepseek_r1", None, "deepseek-r1", "0.17.0"),
    ("Qwen2ForCausalLM", "qwen2", "Qwen/Qwen2.5-72B-Instruct", "qwen2", "hermes", None, "qwen25", None, "0.17.0"),
    ("Qwen2ForCausalLM", "qwen2", "Qwen/Qwen2.5-72B", "qwen2", None, None, None, None, "0.17.0"),
    ("DeepseekV3ForCausalLM", "deepseek_v3", "deepseek-ai/DeepSeek-V3-0324", "deepseek_v3", "deepseek_v3", "deepseek_v3", "deepseekv3", "deepseek-v3", "0.17.0"),
    ("DeepseekV3ForCausalLM", "deepseek_v3", "deepseek-ai/DeepSeek-R1-0528", "deepseek_r1", "deepseek_v3", "deepseek_r1", "deepseekv3", "deepseek-r1", "0.17.0"),
    ("DeepseekV3ForCausalLM", "deepseek_v3", "deepseek-ai/DeepSeek-V3.1-Terminus", "deepseek_v31", "deepseek_v31", "deepseek_v3", "deepseekv31", "deepseek-v3", "0.17.0"),
    # the defect: DeepSeek-V3.2 got no parsers; recipe: deepseek_v32 + deepseek_v3, vLLM >= 0.18.0
    ("DeepseekV32ForCausalLM", "deepseek_v32", "deepseek-ai/DeepSeek-V3.2", "deepseek_v32", "deepseek_v32", "deepseek_v3", "deepseekv32", "deepseek-v3", "0.18.0"),
    ("DeepseekV3ForCausalLM", "deepseek_v3", "deepseek-ai/DeepSeek-V3.2-Speciale", "deepseek_v32", "deepseek_v32", "deepseek_v3", "deepseekv32", "deepseek-v3", "0.18.0"),
    ("DeepseekV32ForCausalLM", "deepseek_v32", "deepseek-ai/DeepSeek-V3.2-Exp", "deepseek_v32_exp", "deepseek_v31", "deepseek_v3", "deepseekv31", "deepseek-v3", "0.17.0"),
    ("DeepseekV4ForCausalLM", "deepseek_v4", "deepseek-ai/DeepSeek-V4-Flash", "deepseek_v4", "deepseek_v4", "deepseek_v4", "deepseekv4", "deepseek-v4", "0.20.0"),
    ("DeepseekV3ForCausalLM", "kimi_k2", "moonshotai/Kimi-K2-Instruct-0905", "kimi_k2", "kimi_k2", None, "kimi_k2", None, "0.17.0"),
    ("DeepseekV3ForCausalLM", "kimi_k2", "moonshotai/Kimi-K2-Thinking", "kimi_k2", "kimi_k2", "kimi_k2", "kimi_k2", "kimi_k2", "0.17.0"),
    # the defect: GLM-5 (its own architecture) got no parsers; recipe: glm47 + glm45
    # GLM-5 is its own family: the recipe pins vLLM 0.19.0 (it was folded into glm47 at 0.17.0)
    ("GlmMoeDsaForCausalLM", "glm_moe_dsa", "zai-org/GLM-5-FP8", "glm5", "glm47", "glm45", "glm47", "glm45", "0.19.0"),
    ("Glm4MoeForCausalLM", "glm4_moe", "zai-org/GLM-4.7", "glm47", "glm47", "glm45", "glm47", "glm45", "0.17.0"),
    ("Glm4MoeForCausalLM", "glm4_moe", "zai-org/GLM-4.6", "glm45", "glm45", "glm45", "glm45", "glm45", "0.17.0"),
    ("Glm4MoeForCausalLM", "glm4_moe", "zai-org/GLM-4.5-Air", "glm45", "glm45", "glm45", "glm45", "glm45", "0.17.0"),
    ("Glm4vMoeForConditionalGeneration", "glm4v_moe_text", "zai-org/GLM-4.6V", "glm45v", "glm45", "glm45", "glm45", "glm45", "0.17.0"),
    ("MiniMaxM2ForCausalLM", "minimax_m2", "MiniMaxAI/MiniMax-M2.5", "minimax_m2", "minimax_m2", "minimax_m2", "minimax-m2", "minimax", "0.17.0"),
    ("GptOssForCausalLM", "gpt_oss", "openai/gpt-oss-120b", "gpt_oss", "openai", None, "gpt-oss", "gpt-oss", "0.17.0"),
    ("LlamaForCausalLM", "llama", "meta-llama/Llama-3.3-70B-Instruct", "llama3", "llama3_json", None, "llama3", None, "0.17.0"),
    ("LlamaForCausalLM", "llama", "meta-llama/Llama-3.1-8B", "llama3", None, None, None, None, "0.17.0"),
    ("LlamaForCausalLM", "llama", "NousResearch/Hermes-3-Llama-3.1-8B", "hermes", "hermes", None, "hermes", None, "0.17.0"),
    ("Llama4ForConditionalGeneration", "llama4_text", "meta-llama/Llama-4-Scout-17B-16E-Instruct", "llama4", "llama4_pythonic", None, "pythonic", None, "0.17.0"),
    ("MistralForCausalLM", "mistral", "mistralai/Devstral-Small-2507", "mistral", "mistral", None, "mistral", None, "0.17.0"),
    ("MistralForCausalLM", "mistral", "mistralai/Magistral-Small-2509", "magistral", "mistral", "mistral", "mistral", "mistral", "0.17.0"),
    ("NemotronHForCausalLM", "nemotron_h", "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", "nemotron_3_nano", "qwen3_coder", "nemotron_v3", "qwen3_coder", "nemotron_3", "0.17.1"),
    ("NemotronHForCausalLM", "nemotron_h", "nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-FP8", "nemotron_3_super", "qwen3_xml", "nemotron_v3", "qwen3_coder", "nemotron_3", "0.17.1"),
    # base checkpoints pass no parser: only Nemotron-3's nemotron_v3 parser needs 0.17.1, not the architecture
    ("NemotronHForCausalLM", "nemotron_h", "nvidia/Nemotron-H-56B-Base-8K", "nemotron_h", None, None, None, None, "0.17.0"),
    ("NemotronHForCausalLM", "nemotron_h", "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-Base-BF16", "nemotron_3_nano", None, None, None, None, "0.17.0"),
    ("Gemma4ForConditionalGeneration", "gemma4_text", "google/gemma-4-31B-it", "gemma4", "gemma4", "gemma4", "gemma4", "gemma4", "0.19.1"),
    ("Phi3ForCausalLM", "phi3", "microsoft/Phi-4-mini-instruct", "phi4_mini", "phi4_mini_json", None, None, None, "0.17.0"),
    ("SeedOssForCausalLM", "seed_oss", "ByteDance-Seed/Seed-OSS-36B-Instruct", "seed_oss", "seed_oss", "seed_oss", None, None, "0.17.0"),
    ("HunYuanMoEV1ForCausalLM", "hunyuan_v1_moe", "tencent/Hunyuan-A13B-Instruct", "hunyuan_a13b", "hunyuan_a13b", "hunyuan_a13b", "hunyuan", "hunyuan", "0.17.0"),
    ("GraniteMoeHybridForCausalLM", "granitemoehybrid", "ibm-granite/granite-4.0-h-small", "granite4", "hermes", None, "hermes", None, "0.17.0"),
    # Granite 3.0 runs the granite parser with the docs' own template (a warning says how to pass it); 3.1+ need none
    ("GraniteForCausalLM", "granite", "ibm-granite/granite-3.0-8b-instruct", "granite3_0", "granite", None, None, None, "0.17.0"),
    ("GraniteForCausalLM", "granite", "ibm-granite/granite-3.1-8b-instruct", "granite", "granite", None, None, None, "0.17.0"),
    # families added from the recipes repository (recipes/models/<org>/<model>.yaml)
    ("KimiK25ForConditionalGeneration", "kimi_k25", "moonshotai/Kimi-K2.5", "kimi_k25", "kimi_k2", "kimi_k2", "kimi_k2", "kimi_k2", "0.19.1"),
    ("KimiK25ForConditionalGeneration", "kimi_k25", "moonshotai/Kimi-K2.6", "kimi_k25", "kimi_k2", "kimi_k2", "kimi_k2", "kimi_k2", "0.19.1"),
    ("KimiK3ForConditionalGeneration", "kimi_k3", "moonshotai/Kimi-K3", "kimi_k3", "kimi_k3", "kimi_k3", None, None, "0.27.1"),
    ("KimiLinearForCausalLM", "kimi_linear", "moonshotai/Kimi-Linear-48B-A3B-Instruct", "kimi_linear", None, None, None, None, "0.17.0"),
    ("Step3p5ForCausalLM", "step3p5", "stepfun-ai/Step-3.5-Flash", "step3p5", "step3p5", "step3p5", "step3p5", "step3p5", "0.17.0"),
    ("MiniMaxM3VLForConditionalGeneration", "minimax_m3", "MiniMaxAI/MiniMax-M3", "minimax_m3", "minimax_m3", "minimax_m3", None, None, "0.24.0"),
    ("MiMoV2FlashForCausalLM", "mimo_v2_flash", "XiaomiMiMo/MiMo-V2-Flash", "mimo_v2", "qwen3_xml", "qwen3", "qwen3_coder", "qwen3", "0.17.0"),
    ("HYV3ForCausalLM", "hy_v3", "tencent/Hy3", "hy3", "hy_v3", "hy_v3", None, None, "0.20.0"),
    ("BailingMoeV3ForCausalLM", "bailing_moe_v3", "inclusionAI/Ling-3.0-flash", "ling3", "ling3", "ling3", None, None, "0.25.0"),
    ("BailingMoeV2_5ForCausalLM", "bailing_moe_v2_5", "inclusionAI/Ling-2.6-flash", "ling_2_6", None, None, None, None, "0.20.2"),
    ("BailingMoeV2ForCausalLM", "bailing_moe", "inclusionAI/Ring-1T-FP8", "bailing", None, None, None, None, "0.17.0"),
    ("InternS1ForConditionalGeneration", "interns1", "internlm/Intern-S1", "intern_s1", "internlm", "deepseek_r1", "interns1", "interns1", "0.17.0"),
    ("InternVLChatModel", "internvl_chat", "OpenGVLab/InternVL3_5-8B", "internvl", None, None, None, None, "0.17.0"),
    ("Lfm2ForCausalLM", "lfm2", "LiquidAI/LFM2.5-1.2B-Instruct", "lfm2", "lfm2", None, "lfm2", None, "0.23.0"),
    ("Lfm2ForCausalLM", "lfm2", "LiquidAI/LFM2.5-1.2B-Base", "lfm2", None, None, None, None, "0.23.0"),
    ("Cohere2ForCausalLM", "cohere2", "CohereLabs/command-a-reasoning-08-2025", "cohere", None, None, None, None, "0.17.0"),
    ("ApertusForCausalLM", "apertus", "swiss-ai/Apertus-70B-Instruct-2509", "apertus", "apertus", None, "apertus2509", None, "0.20.0"),
    ("Glm4ForCausalLM", "glm4", "zai-org/GLM-Z1-32B-0414", "glm4", None, None, None, None, "0.17.0"),
    # GLM-5.x share GlmMoeDsaForCausalLM; each recipe names its own minimum (and GLM-5.1 the glm47 reasoning parser)
    ("GlmMoeDsaForCausalLM", "glm_moe_dsa", "zai-org/GLM-5.1-FP8", "glm5_1", "glm47", "glm47", "glm47", "glm45", "0.24.0"),
    ("GlmMoeDsaForCausalLM", "glm_moe_dsa", "zai-org/GLM-5.2-FP8", "glm5_2", "glm47", "glm45", "glm47", "glm45", "0.23.0"),
    ("GlmMoeDsaForCausalLM", "glm_moe_dsa", "zai-org/GLM-5.3", "glm5_3", "glm47", "glm45", "glm47", "glm45", "0.28.0"),
    ("Glm5NextForConditionalGeneration", "glm5_next", "zai-org/GLM-5.3-Flash", "glm5_next", "glm47", "glm47", None, None, "0.29.0"),
    ("NemotronHForCausalLM", "nemotron_h", "nvidia/NVIDIA-Nemotron-3-Ultra-550B-A55B-NVFP4", "nemotron_3_ultra", "qwen3_coder", "nemotron_v3", None, None, "0.22.0"),
    ("NemotronHForCausalLM", "nemotron_h", "nvidia/NVIDIA-Nemotron-3.5-Lightning-30B-A3B-BF16", "nemotron_3_5", "qwen3_xml", "nemotron_v3", None, None, "0.27.1"),
    ("Cohere2MoeForCausalLM", "cohere2_moe", "CohereLabs/North-Mini-Code-1.0", "cohere_moe", None, None, None, None, "0.24.0"),
    ("MiMoV2ForCausalLM", "mimo_v2", "XiaomiMiMo/MiMo-V2.5", "mimo_v2_5", "mimo", "mimo", "mimo", "mimo", "0.21.0"),
    # Macaron-V1-Coding-Venti: a LoRA merged into GLM-5.2 (same class), its own recipe minimum, GLM-5.2's parsers
    ("GlmMoeDsaForCausalLM", "glm_moe_dsa", "mindlab-research/Macaron-V1-Coding-Venti", "macaron", "glm47", "glm45", "glm47", "glm45", "0.25.0"),
    # Inkling (models/thinkingmachines/Inkling-Small.yaml); SGLang refused (the sgl-cookbook serves it from dedicated images only)
    ("InklingForConditionalGeneration", "", "thinkingmachines/Inkling-Small-NVFP4", "inkling", "inkling", "inkling", None, None, "0.26.0"),
]


def _facts(arch: str, model_type: str, model_id: str) -> SimpleNamespace:
    return SimpleNamespace(architecture=arch, model_type=model_type, model_id=model_id)


@pytest.mark.parametrize("arch,mtype,mid,family,tool,reasoning,sg_tool,sg_reasoning,version", CASES,
                         ids=[c[2] for c in CASES])
def test_family_parsers_by_id_pattern(arch, mtype, mid, family, tool, reasoning, sg_tool, sg_reasoning, version):
    vllm = choose(eng.find_recipe(_facts(arch, mtype, mid)), mid, arch, None, None, "vllm").recipe
    assert (vllm.key, vllm.tool_call_parser, vllm.reasoning_parser) == (family, tool, reasoning)
    assert eng.version_text(eng.engine_version(vllm, "vllm")) == version
    sglang = choose(eng.find_recipe(_facts(arch, mtype, mid)), mid, arch, None, None, "sglang").recipe
    if eng.engine_cannot_serve(sglang, "sglang")[0]:      # --engine sglang is refused: no SGLang names apply
        assert (sg_tool, sg_reasoning) == (None, None)
        return
    assert (sglang.sglang.get("tool_call_parser"), sglang.sglang.get("reasoning_parser")) == (sg_tool, sg_reasoning)


def test_local_directory_matches_on_its_name_not_its_parents():
    # /models/qwen3-coder-ft/... is a path: only the directory name counts
    assert eng.match_id("/data/qwen3-coder-ft/Qwen3-8B") == "qwen3-8b"
    r = eng.find_recipe(_facts("Qwen3MoeForCausalLM", "qwen3_moe", "/data/qwen3-coder/Qwen3-30B-A3B"))
    assert r.key == "qwen3_moe" and r.tool_call_parser == "hermes"


# --- every parser each family can emit exists in the registry of the version it pins ----------------------------------
FAMILIES = eng._data()["families"]


@pytest.mark.parametrize("fam", FAMILIES, ids=[f["key"] for f in FAMILIES])
def test_every_family_names_versions_and_registered_parsers(fam):
    mv = fam.get("min_version") or {}
    assert mv.get("vllm") and mv.get("sglang"), f"{fam['key']} names no minimum vLLM / SGLang version"
    recipe = eng.Recipe(key=fam["key"], tool_call_parser=fam.get("tool_call_parser"),
                        reasoning_parser=fam.get("reasoning_parser"), min_version={k: str(v) for k, v in mv.items()})
    version = eng.engine_version(recipe, "vllm")
    assert version >= V(mv["vllm"])
    for kind, name in (("tool", recipe.tool_call_parser), ("reasoning", recipe.reasoning_parser)):
        if name:
            assert not vllm_registered(kind, name, version), vllm_registered(kind, name, version)
    sg = fam.get("sglang") or {}
    for key, kind in (("tool_call_parser", "tool"), ("reasoning_parser", "reasoning")):
        name = sg.get(key)
        if name:
            assert name in REG["sglang"][kind]["names"], f"SGLang has no {kind} parser {name!r}"
    if mv.get("sglang") == eng.SGLANG_NONE:        # no release serves it: --engine sglang is refused, and says why
        recipe = eng.Recipe(key=fam["key"], min_version={k: str(v) for k, v in mv.items()},
                            sglang_why=str(fam.get("sglang_why") or ""))
        why, hint = eng.engine_cannot_serve(recipe, "sglang")
        assert why.startswith(f"no SGLang release is known to serve the {fam['key']} family") and fam.get("sglang_why")
        assert hint.startswith("use --engine vllm: the plan pins vLLM ")
    else:                                   # every SGLang name the family emits exists in the release it pins
        sg_recipe = eng.Recipe(key=fam["key"], min_version={k: str(v) for k, v in mv.items()})
        sg_version = eng.engine_version(sg_recipe, "sglang")
        for key, kind in (("tool_call_parser", "tool"), ("reasoning_parser", "reasoning")):
            name = eng._sglang_names(fam, fam.get("tool_call_parser"), fam.get("reasoning_parser"), False).get(key)
            if name:
                assert not sglang_registered(kind, name, sg_version), sglang_registered(kind, name, sg_version)
    if fam.get("version_reason"):
        assert V(mv["vllm"]) > V(eng.engine_defaults("vllm")["version"]) or fam["key"] == "deepseek_v32_exp"
    if not fam.get("tool_call_parser"):                 # never a silent null
        assert fam.get("note") or fam.get("no_tool_reason"), fam["key"]


SGLANG_CLASSES_FROM = REG["sglang"]["classes_from"]
# the classes no release registers that SGLang's Transformers fallback serves: the transformers 4.57.1 that sglang
# 0.5.9 requires has them with _supports_attention_backend = True and full attention (recipes.yaml sglang_classes)
SGLANG_TRANSFORMERS_FALLBACK = {"SeedOssForCausalLM", "GlmForCausalLM", "Ernie4_5ForCausalLM"}


def _family_classes(fam) -> set[str]:
    alts = fam["match"] if isinstance(fam["match"], list) else [fam["match"]]
    return {a for alt in alts for a in alt.get("architectures", ())}


@pytest.mark.parametrize("fam", FAMILIES, ids=[f["key"] for f in FAMILIES])
def test_sglang_plan_pins_a_release_registering_the_checkpoint_class(fam):
    """Per class, not per family: an --engine sglang plan pins a release whose wheel registers the checkpoint's class
    (the wheel scan in parser_registries.yaml), and a class no release registers is refused, or warned about where
    the Transformers fallback serves it."""
    pinned = str((fam.get("min_version") or {}).get("sglang"))
    for arch in sorted(_family_classes(fam)):
        assert arch in SGLANG_CLASSES_FROM, f"{fam['key']}: {arch} is not in the wheel scan (classes_from)"
        first = SGLANG_CLASSES_FROM[arch]
        recipe = eng.Recipe(key=fam["key"], min_version={"sglang": pinned}, architecture=arch)
        version = eng.engine_version(recipe, "sglang")
        why, hint = eng.engine_cannot_serve(recipe, "sglang")
        fallback = eng.sglang_fallback(recipe)
        if first:
            assert V(first) <= version, f"{fam['key']}: SGLang registers {arch} from {first}, the plan pins {version}"
            assert not fallback
            if pinned == eng.SGLANG_NONE:       # the class is registered, but no release is known to serve the family
                assert why.startswith(f"no SGLang release is known to serve the {fam['key']} family (")
            else:
                assert not why
        elif arch in SGLANG_TRANSFORMERS_FALLBACK:
            assert not why and f"SGLang has no implementation of {arch}" in fallback and "--engine vllm" in fallback
        else:
            assert why.startswith(f"SGLang has no implementation of {arch} in any release up to 0.5.23 (")
            assert hint == "serve it with vLLM (the default engine): drop --engine sglang" and not fallback
        assert eng.engine_cannot_serve(recipe, "vllm") == ("", "")


def test_sglang_class_table_agrees_with_the_wheel_scan():
    """recipes.yaml sglang_classes holds every scanned class newer than the default release or in none, with the same
    first release (a class registered by 0.5.9 needs no entry)."""
    table = eng._data()["sglang_classes"]["classes"]
    newer = {c: f for c, f in SGLANG_CLASSES_FROM.items() if f is None or V(f) > V("0.5.9")}
    assert {c: e.get("first") for c, e in table.items()} == newer
    assert {c for c, e in table.items() if e.get("fallback")} == SGLANG_TRANSFORMERS_FALLBACK
    assert all(e.get("why") for c, e in table.items() if e.get("first") is None and not e.get("fallback"))
    assert eng._data()["sglang_classes"]["checked"] == "0.5.23"


def _qwen35_text_source(arch: str) -> ModelSource:
    """A text-only Qwen3.5 checkpoint (Qwen3_5ForCausalLM): the text_config of Qwen3.5-27B (the repo fixture)."""
    config = json.loads((HERE / "fixtures" / "configs" / "Qwen__Qwen3.5-27B.json").read_text())
    text = {k: v for k, v in config["text_config"].items()}
    text.update(architectures=[arch], model_type="qwen3_5_text")
    return ModelSource(model_id="Qwen/Qwen3.5-27B", config=text, weights=None, origin="local")


def test_qwen35_causal_lm_on_sglang_pins_the_release_registering_its_class():
    d = make_plan(_qwen35_text_source("Qwen3_5ForCausalLM"), PlanRequest(gpu_type="H100-80GB", engine="sglang")).to_dict()
    assert d["serving"]["engine_version"] == "0.5.17" and d["serving"]["image"] == "lmsysorg/sglang:v0.5.17"
    [why] = [r for r in d["reasons"] if "pinned" in r]
    assert why == ("sglang 0.5.17 pinned (image lmsysorg/sglang:v0.5.17) instead of the default 0.5.9: the first SGLang "
                   "release registering Qwen3_5ForCausalLM (sglang 0.5.17 on PyPI; recipes.yaml sglang_classes); "
                   "other qwen3_5 checkpoints run on 0.5.9")
    a = d["serving"]["args"]
    assert emitted(a, "--tool-call-parser") == "qwen3_coder" and emitted(a, "--reasoning-parser") == "qwen3"
    # the same checkpoint on vLLM, and the multimodal Qwen3.5 class on SGLang, keep their images
    d = make_plan(_qwen35_text_source("Qwen3_5ForCausalLM"), PlanRequest(gpu_type="H100-80GB")).to_dict()
    assert d["serving"]["image"] == "vllm/vllm-openai:v0.17.0"
    d = make_plan(catalog_source("Qwen/Qwen3.5-27B"), PlanRequest(gpu_type="H100-80GB", engine="sglang")).to_dict()
    assert d["serving"]["image"] == "lmsysorg/sglang:v0.5.9" and not any("pinned" in r for r in d["reasons"])


# Seed-OSS-36B-Instruct's config.json numbers (ByteDance-Seed/Seed-OSS-36B-Instruct)
SEED_OSS = {"architectures": ["SeedOssForCausalLM"], "model_type": "seed_oss", "hidden_size": 5120,
            "intermediate_size": 27648, "num_hidden_layers": 64, "num_attention_heads": 80, "num_key_value_heads": 8,
            "head_dim": 128, "vocab_size": 155136, "max_position_embeddings": 524288, "rope_theta": 10000000.0,
            "attention_bias": True, "tie_word_embeddings": False, "torch_dtype": "bfloat16"}


def test_sglang_transformers_fallback_class_is_planned_with_a_warning():
    src = ModelSource(model_id="ByteDance-Seed/Seed-OSS-36B-Instruct", config=SEED_OSS, weights=None, origin="local")
    d = make_plan(src, PlanRequest(gpu_type="H100-80GB", engine="sglang")).to_dict()
    assert d["serving"]["image"] == "lmsysorg/sglang:v0.5.9"
    [w] = [w for w in d["warnings"] if "no implementation of SeedOssForCausalLM" in w]
    assert "Transformers fallback" in w and "transformers 4.57.1" in w and "--engine vllm serves it natively" in w
    assert "transformers_fallback" in w and "no pipeline stages" in w
    assert d["parallelism"]["pipeline"] == 1
    d = make_plan(src, PlanRequest(gpu_type="H100-80GB")).to_dict()
    assert not any("SeedOssForCausalLM" in w for w in d["warnings"])


def test_sglang_transformers_fallback_plans_no_pipeline_stages():
    """The fallback class has no pipeline stages, so an SGLang plan never picks PP > 1 for it: 2 GPUs are TP 2 (64
    heads and 8 KV heads divide), an explicit --pp 2 is refused with the reason; vLLM keeps TP 1 x PP 2."""
    src = ModelSource(model_id="ByteDance-Seed/Seed-OSS-36B-Instruct", config=SEED_OSS, weights=None, origin="local")
    d = make_plan(src, PlanRequest(gpu_type="L40S", gpus=2, engine="sglang")).to_dict()
    assert (d["parallelism"]["tensor"], d["parallelism"]["pipeline"]) == (2, 1)
    with pytest.raises(PlanError) as e:
        make_plan(src, PlanRequest(gpu_type="L40S", gpus=2, tp=1, pp=2, engine="sglang"))
    assert "PP 2: SGLang's Transformers fallback (sglang/srt/models/transformers.py) has no pipeline stages" in str(e.value)
    assert e.value.hint == "drop or change --gpus/--tp/--pp"   # the flags given
    v = make_plan(src, PlanRequest(gpu_type="L40S", gpus=2, tp=1, pp=2)).to_dict()
    assert (v["parallelism"]["tensor"], v["parallelism"]["pipeline"]) == (1, 2)


# Olmo-3-7B-Instruct's config.json numbers (allenai/Olmo-3-7B-Instruct: 3 sliding-window layers to 1 full)
OLMO3 = {"architectures": ["Olmo3ForCausalLM"], "model_type": "olmo3", "hidden_act": "silu", "hidden_size": 4096,
         "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
         "layer_types": ["sliding_attention"] * 3 + ["full_attention"], "sliding_window": 4096,
         "max_position_embeddings": 65536, "rms_norm_eps": 1e-06, "rope_theta": 500000.0,
         "rope_scaling": {"rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": 8192,
                          "attention_factor": 1.2079441541679836, "beta_fast": 32.0, "beta_slow": 1.0},
         "tie_word_embeddings": False, "vocab_size": 100278, "torch_dtype": "bfloat16"}
OLMO3["layer_types"] = OLMO3["layer_types"] * 8


def test_cli_plans_olmo3_on_sglang_0_5_9_through_its_olmo2_class(tmp_path, monkeypatch):
    """SGLang has no Olmo3ForCausalLM EntryClass, but from 0.5.9 its configs/olmo3.py remaps the class to
    Olmo2ForCausalLM, which honours layer_types (recipes.yaml olmo3 family): the default release serves it."""
    from tests.cli_harness import kllm
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = tmp_path / "Olmo-3-7B-Instruct"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(OLMO3))
    d = json.loads(kllm("plan", str(model), "--engine", "sglang", "--gpu", "H100-80GB", "-o", "json").stdout)
    assert d["fits"] is True and d["serving"]["image"] == "lmsysorg/sglang:v0.5.9"
    assert not any("Transformers fallback" in w or "no implementation" in w for w in d["warnings"])
    d = json.loads(kllm("plan", str(model), "--gpu", "H100-80GB", "-o", "json").stdout)     # vLLM serves it too
    assert d["fits"] is True and d["serving"]["image"] == "vllm/vllm-openai:v0.17.0"


def sglang_registered(kind: str, name: str, version: tuple[int, ...]) -> str:
    """'' if SGLang ``version`` is known to register ``name``, else why not."""
    if name not in REG["sglang"][kind]["names"]:
        return f"{name} is not in SGLang's {kind} parser registry ({REG['sglang'][kind]['source']})"
    first = REG["sglang"]["known_from"][kind].get(name)
    if first and V(first) > version:
        return f"SGLang {kind} parser {name} is known from {first}, the plan pins {eng.version_text(version)}"
    if not first and name not in REG["sglang"]["release_0_5_9"][kind]:
        return f"SGLang {kind} parser {name}: no known_from and not in the 0.5.9 wheel's registry"
    return ""


# --- SGLang: the families whose SGLang release is established emit exactly SGLang's names ----------------------------
# (family, representative id, architecture, model_type, SGLang tool, SGLang reasoning, pinned SGLang) - names and
# releases from the sgl-cookbook per-release configs cited in recipes.yaml
SGLANG_FAMILIES = [
    ("glm5", "zai-org/GLM-5-FP8", "GlmMoeDsaForCausalLM", "glm_moe_dsa", "glm47", "glm45", "0.5.9"),
    ("glm5_1", "zai-org/GLM-5.1-FP8", "GlmMoeDsaForCausalLM", "glm_moe_dsa", "glm47", "glm45", "0.5.10"),
    ("gemma4", "google/gemma-4-31B-it", "Gemma4ForConditionalGeneration", "gemma4", "gemma4", "gemma4", "0.5.11"),
    ("kimi_k25", "moonshotai/Kimi-K2.6", "KimiK25ForConditionalGeneration", "kimi_k25", "kimi_k2", "kimi_k2", "0.5.10"),
    ("step3p5", "stepfun-ai/Step-3.5-Flash", "Step3p5ForCausalLM", "step3p5", "step3p5", "step3p5", "0.5.9"),
    ("nemotron_3_super", "nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-BF16", "NemotronHForCausalLM", "nemotron_h",
     "qwen3_coder", "nemotron_3", "0.5.10"),
    ("nemotron_3_nano", "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", "NemotronHForCausalLM", "nemotron_h",
     "qwen3_coder", "nemotron_3", "0.5.10"),
    ("deepseek_v4", "deepseek-ai/DeepSeek-V4-Flash", "DeepseekV4ForCausalLM", "deepseek_v4", "deepseekv4", "deepseek-v4",
     "0.5.18"),
    ("glm5_2", "zai-org/GLM-5.2-FP8", "GlmMoeDsaForCausalLM", "glm_moe_dsa", "glm47", "glm45", "0.5.14"),
    ("laguna_2_1", "poolside/Laguna-S-2.1", "LagunaForCausalLM", "laguna", "poolside_v1", "poolside_v1", "0.5.16"),
    ("laguna", "poolside/Laguna-XS.2", "LagunaForCausalLM", "laguna", "poolside_v1", "poolside_v1", "0.5.16"),
    # the releases below: the first PyPI wheel (of 0.5.9-0.5.20, 0.5.23) with the family's class and parsers
    ("magistral", "mistralai/Magistral-Small-2509", "MistralForCausalLM", "mistral", "mistral", "mistral", "0.5.10"),
    ("hunyuan_a13b", "tencent/Hunyuan-A13B-Instruct", "HunYuanMoEV1ForCausalLM", "hunyuan_v1_moe", "hunyuan", "hunyuan",
     "0.5.11"),
    ("mimo_v2_5", "XiaomiMiMo/MiMo-V2.5", "MiMoV2ForCausalLM", "mimo_v2", "mimo", "mimo", "0.5.11"),
    ("apertus", "swiss-ai/Apertus-70B-Instruct-2509", "ApertusForCausalLM", "apertus", "apertus2509", None, "0.5.13"),
    ("mellum2", "JetBrains/Mellum2-12B-A2.5B-Thinking", "MellumForCausalLM", "mellum", "hermes", "qwen3", "0.5.16"),
    ("trinity", "arcee-ai/Trinity-Large-Thinking", "AfmoeForCausalLM", "afmoe", "qwen3_coder", "deepseek-r1", "0.5.9"),
    # SGLang serves Gemma 3 but registers no functiongemma parser: none emitted, a warning says so
    ("functiongemma", "google/functiongemma-270m-it", "Gemma3ForCausalLM", "gemma3_text", None, None, "0.5.9"),
]


@pytest.mark.parametrize("family,mid,arch,mtype,tool,reasoning,version", SGLANG_FAMILIES,
                         ids=[c[0] for c in SGLANG_FAMILIES])
def test_sglang_plan_emits_the_family_names(family, mid, arch, mtype, tool, reasoning, version):
    # a Qwen3-8B-shaped config (Nemotron-H's for the hybrid NemotronH) under the family's architecture: only the
    # family (names, image) changes
    shape = "nvidia/Nemotron-H-56B-Base-8K" if arch == "NemotronHForCausalLM" else "Qwen/Qwen3-8B"
    config = dict(json.loads(catalog.find(shape).read_text())["config"],   # type: ignore[union-attr]
                  architectures=[arch], model_type=mtype)
    d = make_plan(ModelSource(mid, config, None, "local"), PlanRequest(gpu_type="H100-80GB", engine="sglang")).to_dict()
    s, a = d["serving"], d["serving"]["args"]
    assert d["model"]["family"] == family
    assert (emitted(a, "--tool-call-parser"), emitted(a, "--reasoning-parser")) == (tool, reasoning)
    assert a.count("--tool-call-parser") == (1 if tool else 0) and a.count("--reasoning-parser") == (1 if reasoning else 0)
    assert (s["engine_version"], s["image"]) == (version, f"lmsysorg/sglang:v{version}")
    for kind, name in (("tool", tool), ("reasoning", reasoning)):
        if name:
            assert not sglang_registered(kind, name, V(version)), sglang_registered(kind, name, V(version))
    if version != "0.5.9":
        assert any(f"sglang {version} pinned" in r and "first SGLang release" in r for r in d["reasons"]), d["reasons"]
    assert not any("SGLang release serving" in w for w in d["warnings"])
    if tool or reasoning:
        assert f"SGLang names for the {family} family: tool-call {tool or '-'}, reasoning {reasoning or '-'}" in d["reasons"]
    if family == "functiongemma":
        assert any("SGLang has no tool parser for functiongemma" in w for w in d["warnings"])


def test_planner_parser_table_agrees_with_the_registries():
    for kind in ("tool", "reasoning"):
        for name, entry in eng._data()["parsers"][kind].items():
            assert not vllm_registered(kind, name, V(entry["vllm"])), (kind, name)
            if entry.get("sglang"):
                assert entry["sglang"] in REG["sglang"][kind]["names"], (kind, name, entry["sglang"])


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
@pytest.mark.parametrize("model_id", catalog.model_ids())
def test_every_catalog_plan_emits_parsers_its_pinned_engine_has(model_id, engine):
    try:
        p = make_plan(catalog_source(model_id), PlanRequest(engine=engine, gpu_memory_bytes=1000 * 2**30))
    except LlmError:
        return
    d = p.to_dict()
    s, args = d["serving"], d["serving"]["args"]
    version = V(s["engine_version"])
    assert version >= V(eng.engine_defaults(engine)["version"])
    assert s["image"].endswith(f":v{s['engine_version']}")
    if engine == "vllm":
        tool, reasoning = emitted(args, "--tool-call-parser"), emitted(args, "--reasoning-parser")
        assert (tool, reasoning) == (s["tool_call_parser"], s["reasoning_parser"])
        for kind, name in (("tool", tool), ("reasoning", reasoning)):
            if name:
                assert not vllm_registered(kind, name, version), vllm_registered(kind, name, version)
        assert ("--enable-auto-tool-choice" in args) == bool(tool)
    else:
        for kind, flag in (("tool", "--tool-call-parser"), ("reasoning", "--reasoning-parser")):
            name = emitted(args, flag)
            if name:
                assert not sglang_registered(kind, name, version), sglang_registered(kind, name, version)
    if not s["tool_call_parser"]:
        text = " ".join(d["reasons"] + d["warnings"])
        assert "no tool-call" in text or "passes no" in text or "passes none" in text, model_id


# --- engine version pins and the image --------------------------------------------------------------------------------
def deepseek_v32_source() -> ModelSource:
    data = json.loads(catalog.find("deepseek-ai/DeepSeek-V3.1").read_text())   # type: ignore[union-attr]
    config = dict(data["config"], architectures=["DeepseekV32ForCausalLM"], model_type="deepseek_v32")
    return ModelSource(model_id="deepseek-ai/DeepSeek-V3.2", config=config, weights=None, origin="local")


def test_deepseek_v32_pins_vllm_018_image_with_reason_and_flags():
    p = make_plan(deepseek_v32_source(), PlanRequest(gpu_type="H200", gpus=8))
    d = p.to_dict()
    s = d["serving"]
    assert s["engine_version"] == "0.18.0" and s["image"] == "vllm/vllm-openai:v0.18.0"
    assert chart_values(p)["engine"]["image"] == "vllm/vllm-openai:v0.18.0"      # what the chart deploys
    assert (s["tool_call_parser"], s["reasoning_parser"]) == ("deepseek_v32", "deepseek_v3")
    a = s["args"]
    assert a[a.index("--tokenizer-mode") + 1] == "deepseek_v32" and "--enable-auto-tool-choice" in a
    assert any("vllm 0.18.0 pinned (image vllm/vllm-openai:v0.18.0)" in r and "DeepSeek-V3.2 recipe" in r
               for r in d["reasons"]), d["reasons"]
    assert eng.engine_version(p.recipe, "vllm") == (0, 18, 0)                     # the seam the memory model reads


def test_a_cuda13_image_asks_for_a_newer_driver():
    # from vLLM 0.20.0 the plain release tag is a CUDA 13 build: driver >= 580 (Gt 579), below it CUDA 12.9 (Gt 565).
    # A Qwen3-8B-shaped config under an LFM2 architecture: only the family, and so the pinned image, changes.
    config = dict(json.loads(catalog.find("Qwen/Qwen3-8B").read_text())["config"],   # type: ignore[union-attr]
                  architectures=["Lfm2ForCausalLM"])
    d = make_plan(ModelSource("LiquidAI/LFM2.5-1.2B-Instruct", config, None, "local"),
                  PlanRequest(gpu_type="A100-80GB")).to_dict()
    assert d["serving"]["image"] == "vllm/vllm-openai:v0.23.0"
    aff = {e["key"]: e for e in d["scheduling"]["node_affinity"]}
    assert aff["nvidia.com/cuda.driver.major"]["values"] == ["579"]
    assert any("CUDA 13 build" in r and "above 579" in r for r in d["reasons"])
    # DeepSeek-V3.2's 0.18.0 is still a CUDA 12.9 image
    d = make_plan(deepseek_v32_source(), PlanRequest(gpu_type="H200", gpus=8)).to_dict()
    aff = {e["key"]: e for e in d["scheduling"]["node_affinity"]}
    assert aff["nvidia.com/cuda.driver.major"]["values"] == ["565"]
    assert not any("CUDA 13" in r for r in d["reasons"])


def test_new_families_reach_the_engine_command():
    # Kimi-K2.5 is a DeepSeek-V3 backbone (its recipe: "DeepSeek-V3 backbone with MLA attention"), so a DeepSeek-V3.1
    # config under the K2.5 architecture stands in for it: parsers, pinned image and the vision-encoder flag
    v31 = json.loads(catalog.find("deepseek-ai/DeepSeek-V3.1").read_text())["config"]   # type: ignore[union-attr]
    d = make_plan(ModelSource("moonshotai/Kimi-K2.5", dict(v31, architectures=["KimiK25ForConditionalGeneration"]),
                              None, "local"), PlanRequest(gpu_type="H200", gpus=8)).to_dict()
    s, a = d["serving"], d["serving"]["args"]
    assert (s["image"], s["tool_call_parser"], s["reasoning_parser"]) == ("vllm/vllm-openai:v0.19.1", "kimi_k2", "kimi_k2")
    assert a[a.index("--mm-encoder-tp-mode") + 1] == "data" and a[a.index("--tool-call-parser") + 1] == "kimi_k2"
    # MiniMax-M3: the recipe's mandatory --block-size 128 (MSA) and its warning about the dedicated image
    q8 = json.loads(catalog.find("Qwen/Qwen3-8B").read_text())["config"]   # type: ignore[union-attr]
    d = make_plan(ModelSource("MiniMaxAI/MiniMax-M3", dict(q8, architectures=["MiniMaxM3ForCausalLM"]), None, "local"),
                  PlanRequest(gpu_type="H100-80GB")).to_dict()
    a = d["serving"]["args"]
    assert a[a.index("--block-size") + 1] == "128" and a.count("--block-size") == 1
    assert d["serving"]["image"] == "vllm/vllm-openai:v0.24.0"
    assert any("vllm/vllm-openai:minimax-m3" in w for w in d["warnings"])


def test_default_families_keep_the_handbook_image():
    d = make_plan(catalog_source("Qwen/Qwen3-8B"), PlanRequest(gpu_type="A100-80GB")).to_dict()
    assert d["serving"]["image"] == "vllm/vllm-openai:v0.17.0" and d["serving"]["engine_version"] == "0.17.0"
    assert not any("pinned" in r for r in d["reasons"])


def test_sglang_plan_without_established_release_is_refused():
    # MiniMax-M3: SGLang registers minimax-m3 / minimax-m3 from 0.5.16, but under other class names
    # (MiniMaxM3Sparse*), so no release is established: --engine sglang is refused (tests/test_sglang_families.py
    # drives the ten such families through the CLI)
    r = eng.find_recipe(_facts("MiniMaxM3SparseForCausalLM", "minimax_m3", "MiniMaxAI/MiniMax-M3"))
    c = choose(r, "MiniMaxAI/MiniMax-M3", "MiniMaxM3SparseForCausalLM", None, None, "sglang")
    why, hint = eng.engine_cannot_serve(c.recipe, "sglang")
    assert why.startswith("no SGLang release is known to serve the minimax_m3 family (sglang wheels up to 0.5.23 read: ")
    assert why.endswith("; the sgl-cookbook serves it from the dedicated image lmsysorg/sglang:dev-minimax-m3, which is "
                        "no release")
    assert hint == "use --engine vllm: the plan pins vLLM 0.24.0 (image vllm/vllm-openai:v0.24.0) for it"
    assert eng.engine_cannot_serve(c.recipe, "vllm") == ("", "")
    # an SGLang-only name (MiniCPM5: vLLM has the parser only as a plugin) is passed once its release is known
    # (minicpm5: the sglang 0.5.13 wheel is the first with it)
    r = eng.find_recipe(_facts("LlamaForCausalLM", "llama", "openbmb/MiniCPM5-1B"))
    c = choose(r, "openbmb/MiniCPM5-1B", "LlamaForCausalLM", None, None, "sglang")
    assert c.recipe.sglang == {"tool_call_parser": "minicpm5"} and not any("SGLang release" in w for w in c.warnings)
    assert eng.version_text(eng.engine_version(c.recipe, "sglang")) == "0.5.13"


# --- chat-template detection on real template excerpts ---------------------------------------------------------------
DETECT = [("hermes.jinja", "hermes"), ("qwen3_coder.jinja", "qwen3_coder"), ("deepseek_v3.jinja", "deepseek_v3"),
          ("deepseek_v31.jinja", "deepseek_v31"), ("kimi_k2.tokenizer_config.json", "kimi_k2"),
          ("glm45.jinja", "glm45"), ("glm47.jinja", "glm47"), ("mistral.jinja", "mistral"),
          ("llama31.jinja", "llama3_json"), ("minimax_m2.jinja", "minimax_m2"), ("gpt_oss.jinja", "openai"),
          ("lfm2.jinja", "lfm2"), ("apertus.jinja", "apertus"), ("plain_chatml.jinja", None)]


@pytest.mark.parametrize("name,parser", DETECT, ids=[d[0] for d in DETECT])
def test_detect_tool_format_on_real_templates(name, parser):
    fmt = detect_tool_format(template(name))
    assert (fmt.parser if fmt else None) == parser


def test_the_family_parser_agrees_with_its_own_template():
    # each family's parser must read the markup of its own template (glm45 and glm47 read both GLM dialects)
    for name, family_parser in [("hermes.jinja", "hermes"), ("qwen3_coder.jinja", "qwen3_coder"),
                                ("glm47.jinja", "glm45"), ("glm45.jinja", "glm47")]:
        assert family_parser in detect_tool_format(template(name)).parsers   # type: ignore[union-attr]


# a family added from the recipes repo meets its own model's template markup: confirmed, never switched away
OWN_TEMPLATE = [
    ("Lfm2ForCausalLM", "lfm2", "LiquidAI/LFM2.5-1.2B-Instruct", "lfm2.jinja", "lfm2"),
    ("ApertusForCausalLM", "apertus", "swiss-ai/Apertus-8B-Instruct-2509", "apertus.jinja", "apertus"),
    ("KimiK25ForConditionalGeneration", "kimi_k25", "moonshotai/Kimi-K2.5", "kimi_k2.tokenizer_config.json", "kimi_k2"),
    # Step-3.5's step3p5 and MiMo's qwen3_xml read the Qwen3-Coder XML (SGLang: step3p5 -> Qwen3CoderDetector)
    ("Step3p5ForCausalLM", "step3p5", "stepfun-ai/Step-3.5-Flash", "qwen3_coder.jinja", "step3p5"),
    ("MiMoV2FlashForCausalLM", "mimo_v2_flash", "XiaomiMiMo/MiMo-V2-Flash", "qwen3_coder.jinja", "qwen3_xml"),
    ("MiMoV2ForCausalLM", "mimo_v2", "XiaomiMiMo/MiMo-V2.5", "qwen3_coder.jinja", "mimo"),
    # MiniMax-M3 keeps its own minimax_m3 parser on MiniMax's XML markup
    ("MiniMaxM3ForCausalLM", "minimax_m3", "MiniMaxAI/MiniMax-M3", "minimax_m2.jinja", "minimax_m3"),
]


@pytest.mark.parametrize("arch,mtype,mid,tpl,parser", OWN_TEMPLATE, ids=[c[2] for c in OWN_TEMPLATE])
def test_new_families_are_confirmed_by_their_own_template(arch, mtype, mid, tpl, parser):
    c = choose(eng.find_recipe(_facts(arch, mtype, mid)), mid, arch, template(tpl), f"chat template of {mid}", "vllm")
    assert c.recipe.tool_call_parser == parser
    assert any(f"confirms the {parser} tool-call parser" in r for r in c.reasons), c.reasons
    assert not any("not what the" in w for w in c.warnings)


def test_unknown_model_with_an_lfm2_template_takes_lfm2():
    src = ModelSource("acme/acme-lfm-tune", UNKNOWN, None, "local", chat_template=template("lfm2.jinja"),
                      chat_template_source="chat_template.jinja of acme/acme-lfm-tune")
    d = make_plan(src, PlanRequest(gpu_type="A100-80GB")).to_dict()
    # the template's parser is registered from vLLM 0.23.0 (parser table): the plan pins that release
    assert (d["serving"]["tool_call_parser"], d["serving"]["engine_version"]) == ("lfm2", "0.23.0")
    assert d["serving"]["image"] == "vllm/vllm-openai:v0.23.0"


def test_template_confirms_the_recipe():
    src = catalog_source("meta-llama/Llama-3.1-8B-Instruct", chat_template=template("llama31.jinja"),
                         chat_template_source="tokenizer_config.json of meta-llama/Llama-3.1-8B-Instruct")
    d = make_plan(src, PlanRequest(gpu_type="A100-80GB")).to_dict()
    assert d["serving"]["tool_call_parser"] == "llama3_json"
    assert any("confirms the llama3_json tool-call parser" in r for r in d["reasons"])
    assert not any("parser" in w for w in d["warnings"])


def test_template_mismatch_switches_to_the_template_parser_and_warns():
    # a Qwen3-8B fine-tune whose template teaches Qwen3-Coder XML calls: hermes would never see a call
    src = catalog_source("Qwen/Qwen3-8B", model_id="acme/qwen3-8b-agent", chat_template=template("qwen3_coder.jinja"),
                         chat_template_source="chat_template.jinja of acme/qwen3-8b-agent")
    d = make_plan(src, PlanRequest(gpu_type="A100-80GB")).to_dict()
    assert d["serving"]["tool_call_parser"] == "qwen3_coder" and d["serving"]["reasoning_parser"] == "qwen3"
    a = d["serving"]["args"]
    assert a[a.index("--tool-call-parser") + 1] == "qwen3_coder"
    warn = [w for w in d["warnings"] if "chat_template.jinja of acme/qwen3-8b-agent" in w]
    assert len(warn) == 1 and "Qwen3-Coder XML" in warn[0] and "hermes" in warn[0] and "qwen3_coder" in warn[0]
    sg = make_plan(src, PlanRequest(gpu_type="A100-80GB", engine="sglang")).to_dict()["serving"]["args"]
    assert sg[sg.index("--tool-call-parser") + 1] == "qwen3_coder"


UNKNOWN = {"architectures": ["AcmeForCausalLM"], "model_type": "acme", "hidden_size": 1024, "num_hidden_layers": 4,
           "num_attention_heads": 8, "num_key_value_heads": 8, "intermediate_size": 4096, "vocab_size": 32000,
           "max_position_embeddings": 4096, "torch_dtype": "bfloat16"}


def test_unknown_family_gets_a_warning_naming_where_to_look():
    d = make_plan(ModelSource("acme/acme-1b-chat", UNKNOWN, None, "local"), PlanRequest(gpu_type="A100-80GB")).to_dict()
    assert d["model"]["family"] == "generic" and d["serving"]["tool_call_parser"] is None
    assert "--tool-call-parser" not in d["serving"]["args"]
    [w] = [w for w in d["warnings"] if "no tool-call parser" in w]
    assert "https://huggingface.co/acme/acme-1b-chat" in w and "docs.vllm.ai/en/latest/features/tool_calling" in w
    assert "no chat template was available" in w


def test_unknown_family_takes_the_parser_its_template_shows():
    src = ModelSource("acme/acme-1b-chat", UNKNOWN, None, "local", chat_template=template("hermes.jinja"),
                      chat_template_source="tokenizer_config.json of acme/acme-1b-chat")
    d = make_plan(src, PlanRequest(gpu_type="A100-80GB")).to_dict()
    assert d["serving"]["tool_call_parser"] == "hermes"
    assert any("tool-call parser hermes: tokenizer_config.json of acme/acme-1b-chat" in r for r in d["reasons"])
    assert not any("no tool-call parser" in w for w in d["warnings"])


def test_plugin_only_parser_is_a_warning_not_a_flag():
    # Nemotron-Nano-9B-v2's recipe uses nemotron_json through --tool-parser-plugin: not registered, not emitted
    c = choose(eng.find_recipe(_facts("NemotronHForCausalLM", "nemotron_h", "nvidia/NVIDIA-Nemotron-Nano-9B-v2")),
               "nvidia/NVIDIA-Nemotron-Nano-9B-v2", "NemotronHForCausalLM", None, None, "vllm")
    assert c.recipe.tool_call_parser is None and any("plugin" in w and "model card" in w for w in c.warnings)


# --- adapters hand the template over ----------------------------------------------------------------------------------
def test_local_directory_reads_tokenizer_config_and_prefers_chat_template_jinja(tmp_path: Path):
    # a local directory never touches the Hub, whatever the environment
    d = tmp_path / "Qwen3-8B"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(json.loads(catalog.find("Qwen/Qwen3-8B").read_text())["config"]))
    shutil.copy(TEMPLATES / "kimi_k2.tokenizer_config.json", d / "tokenizer_config.json")
    src = load_model(str(d))
    assert src.chat_template and "<|tool_calls_section_begin|>" in src.chat_template
    assert src.chat_template_source == "tokenizer_config.json of Qwen3-8B"
    shutil.copy(TEMPLATES / "hermes.jinja", d / "chat_template.jinja")
    src = load_model(str(d))
    assert src.chat_template_source == "chat_template.jinja of Qwen3-8B" and "<tool_call>" in src.chat_template


def test_hub_fetches_only_the_template_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from fixtures.hub.fake_hub import FakeHub

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_HOME", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    hub = FakeHub(tmp_path / "fakehub")
    src = load_model("Qwen/Qwen3-Coder-30B-A3B-Instruct", hub=hub, offline=False)
    assert src.chat_template_source == "tokenizer_config.json of Qwen/Qwen3-Coder-30B-A3B-Instruct"
    assert detect_tool_format(src.chat_template).parser == "qwen3_coder"      # type: ignore[union-attr]
    fetched = [c for c in hub.calls if c[0] == "download_file"]
    assert len(fetched) == 2                      # chat_template.jinja (absent), then tokenizer_config.json
    d = make_plan(src, PlanRequest(gpu_type="H100")).to_dict()
    assert (d["serving"]["tool_call_parser"], d["serving"]["reasoning_parser"]) == ("qwen3_coder", None)
    assert any("confirms the qwen3_coder" in r for r in d["reasons"])
    plain = load_model("Qwen/Qwen3-8B", hub=FakeHub(tmp_path / "other"), offline=False)  # a repo without template files
    assert plain.chat_template is None


def test_architecture_md_family_table_matches_the_data():
    from kubectl_llm.planner.families_table import block

    doc = (HERE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    assert block() in doc, "regenerate with: python -m kubectl_llm.planner.families_table"


# --- parsers the docs run with a chat template of their own -------------------------------------------------------------
# vLLM's tool-calling docs: "DeepSeek-V3 Models (deepseek_v3): deepseek-ai/DeepSeek-V3-0324 (use with
# examples/tool_chat_template_deepseekv3.jinja), deepseek-ai/DeepSeek-R1-0528 (use with
# examples/tool_chat_template_deepseekr1.jinja). Flags: --tool-call-parser deepseek_v3 --chat-template {see above}";
# DeepSeek-V3.1 with examples/tool_chat_template_deepseekv31.jinja; "For Llama 4 model, use --tool-call-parser
# llama4_pythonic --chat-template examples/tool_chat_template_llama4_pythonic.jinja". Before, these plans passed the
# parser alone and said nothing: tool calls came back as plain text with no hint why.
DOCS_TEMPLATE = [("deepseek-ai/DeepSeek-V3", "deepseek_v3", "examples/tool_chat_template_deepseekv3.jinja"),
                 ("deepseek-ai/DeepSeek-R1", "deepseek_r1", "examples/tool_chat_template_deepseekr1.jinja"),
                 ("deepseek-ai/DeepSeek-V3.1", "deepseek_v31", "examples/tool_chat_template_deepseekv31.jinja"),
                 ("RedHatAI/Llama-4-Scout-17B-16E-Instruct-FP8-dynamic", "llama4",
                  "examples/tool_chat_template_llama4_pythonic.jinja")]


@pytest.mark.parametrize("model_id,family,path", DOCS_TEMPLATE, ids=[d[0] for d in DOCS_TEMPLATE])
@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_a_parser_the_docs_run_with_their_own_chat_template_warns(model_id, family, path, engine):
    d = make_plan(catalog_source(model_id), PlanRequest(engine=engine, gpu_memory_bytes=1000 * 2**30)).to_dict()
    assert d["model"]["family"] == family and d["serving"]["tool_call_parser"]
    [w] = [w for w in d["warnings"] if w.startswith("tool calling: ")]
    assert f"the {family} family's tool-call parser with --chat-template {path} (" in w
    assert "the plan passes none" in w and "docs.vllm.ai/en/latest/features/tool_calling" in w
    assert "--chat-template" not in d["serving"]["args"]
    # the way to pass it: --engine-arg, with the path vllm/vllm-openai images keep vLLM's examples at
    # (docker/Dockerfile: WORKDIR /vllm-workspace, COPY examples examples); another engine's image: yours
    assert ((f"add it with --engine-arg=--chat-template=</vllm-workspace/{path}, where vllm/vllm-openai images keep "
             f"vLLM's examples; check yours>") if engine == "vllm" else
            "add it with --engine-arg=--chat-template=<the template's path in your image>") in w
    # given with --engine-arg, the template is passed and the warning goes
    given = make_plan(catalog_source(model_id), PlanRequest(engine=engine, gpu_memory_bytes=1000 * 2**30,
                                                            engine_args=(f"--chat-template=/vllm-workspace/{path}",)))
    assert given.args[-1] == f"--chat-template=/vllm-workspace/{path}"
    assert not any(w.startswith("tool calling: ") for w in given.warnings)


def test_no_chat_template_warning_where_the_models_own_template_serves_its_parser():
    for model_id in ("moonshotai/Kimi-K2-Instruct", "Qwen/Qwen3-8B", "zai-org/GLM-4.7", "meta-llama/Llama-3.1-8B-Instruct"):
        d = make_plan(catalog_source(model_id), PlanRequest(gpu_memory_bytes=1000 * 2**30)).to_dict()
        assert d["serving"]["tool_call_parser"] and not any(w.startswith("tool calling: ") for w in d["warnings"])
    # a DeepSeek-V3 fine-tune whose template teaches Hermes calls: hermes from the template, no DeepSeek advice
    src = catalog_source("deepseek-ai/DeepSeek-V3", model_id="acme/ds-agent", chat_template=template("hermes.jinja"),
                         chat_template_source="chat_template.jinja of acme/ds-agent")
    d = make_plan(src, PlanRequest(gpu_memory_bytes=1000 * 2**30)).to_dict()
    assert d["serving"]["tool_call_parser"] == "hermes" and not any(w.startswith("tool calling: ") for w in d["warnings"])


# --- SGLang: a parser the chat template switches to pins the release that registers it -----------------------------
def test_sglang_parser_table_agrees_with_the_registries():
    """recipes.yaml sglang_parsers = every SGLang name first registered after the default 0.5.9, with that release."""
    for kind in ("tool", "reasoning"):
        newer = {n: f for n, f in REG["sglang"]["known_from"][kind].items() if V(f) > V("0.5.9")}
        assert eng._data()["sglang_parsers"][kind] == newer, kind


@pytest.mark.parametrize("name", sorted(p.name for p in TEMPLATES.iterdir() if p.suffix in (".jinja", ".json")))
def test_an_sglang_parser_from_the_chat_template_exists_in_the_release_the_plan_pins(name):
    # Before: an unknown model (or a fine-tune) whose template showed Apertus markup got --tool-call-parser
    # apertus2509 on lmsysorg/sglang:v0.5.9, a release without it (from 0.5.13): SGLang refuses the unknown name
    src = ModelSource("acme/acme-1b-chat", UNKNOWN, None, "local", chat_template=template(name),
                      chat_template_source=f"{name} of acme/acme-1b-chat")
    d = make_plan(src, PlanRequest(gpu_type="A100-80GB", engine="sglang")).to_dict()
    version = V(d["serving"]["engine_version"])
    assert d["serving"]["image"] == f"lmsysorg/sglang:v{d['serving']['engine_version']}"
    for kind, flag in (("tool", "--tool-call-parser"), ("reasoning", "--reasoning-parser")):
        emitted_name = emitted(d["serving"]["args"], flag)
        if emitted_name:
            assert not sglang_registered(kind, emitted_name, version), sglang_registered(kind, emitted_name, version)


def test_apertus_markup_pins_sglang_0_5_13_with_the_reason():
    src = catalog_source("Qwen/Qwen3-8B", model_id="acme/qwen3-8b-apertus-tune", chat_template=template("apertus.jinja"),
                         chat_template_source="chat_template.jinja of acme/qwen3-8b-apertus-tune")
    d = make_plan(src, PlanRequest(gpu_type="A100-80GB", engine="sglang")).to_dict()
    assert (d["serving"]["engine_version"], d["serving"]["image"]) == ("0.5.13", "lmsysorg/sglang:v0.5.13")
    assert emitted(d["serving"]["args"], "--tool-call-parser") == "apertus2509"
    assert any("sglang 0.5.13 pinned" in r and "the first SGLang release registering its apertus2509 tool parser" in r
               for r in d["reasons"]), d["reasons"]
    # the same model without that template stays on the default release
    plain = make_plan(catalog_source("Qwen/Qwen3-8B"), PlanRequest(gpu_type="A100-80GB", engine="sglang")).to_dict()
    assert plain["serving"]["engine_version"] == "0.5.9"


def test_granite_3_0_plans_name_the_docs_template_and_3_1_does_not():
    """vLLM's tool-calling docs: granite-3.0-8b-instruct runs `--tool-call-parser granite --chat-template
    examples/tool_chat_template_granite.jinja`; granite-3.1-8b-instruct's own template serves the parser. Before,
    both were the granite family and a 3.0 plan said nothing about the template."""
    cfg = {"architectures": ["GraniteForCausalLM"], "model_type": "granite", "hidden_size": 4096,
           "num_hidden_layers": 40, "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 12800,
           "vocab_size": 49155, "max_position_embeddings": 4096, "torch_dtype": "bfloat16"}
    for model_id, warned in (("ibm-granite/granite-3.0-8b-instruct", True), ("ibm-granite/granite-3.1-8b-instruct", False)):
        p = make_plan(ModelSource(model_id=model_id, config=cfg, weights=None, origin="local"), PlanRequest(gpu_type="L40"))
        d = p.to_dict()
        assert d["serving"]["tool_call_parser"] == "granite"
        w = [x for x in p.warnings if x.startswith("tool calling: ")]
        if warned:
            assert d["model"]["family"] == "granite3_0"
            assert len(w) == 1 and "--chat-template examples/tool_chat_template_granite.jinja" in w[0]
            assert "--engine-arg=--chat-template=</vllm-workspace/examples/tool_chat_template_granite.jinja" in w[0]
        else:
            assert d["model"]["family"] == "granite" and w == []

"""SGLang memory: the memory model gets a deliberate vLLM stand-in (never SGLang's version read as vLLM's), the
plan's --mem-fraction-static never exceeds SGLang's own default for the card and layout unless
--gpu-memory-utilization forces it, and a plan that does not fit shows no fraction at all."""

from __future__ import annotations

import json
import math
import re

import pytest
from click.testing import CliRunner

from kubectl_llm.cli.main import cli
from kubectl_llm.planner import engine as eng
from kubectl_llm.planner.gpus import find_gpu
from kubectl_llm.planner.memory import V1_PROFILER_FROM
from kubectl_llm.planner.quantity import GiB
from tests.test_planner import plan


def _sglang_default(gpu_mib: int, chunk: int, graph_bs: int, tp: int, pp: int = 1, dp_attn_dp: int = 0) -> float:
    """server_args.py@v0.5.9 _handle_gpu_memory_settings, written out again for the hand-computed rows."""
    reserved = 512 + max(chunk, 2048) * 1.5 + graph_bs * 2 + tp * pp / 8 * 1024
    if dp_attn_dp:
        reserved += graph_bs * dp_attn_dp * 3 + (graph_bs * dp_attn_dp * 1.5 if graph_bs > 300 else 0)
    if gpu_mib > 60 * 1024:
        reserved = max(reserved, 10240)
    return round((gpu_mib - reserved) / gpu_mib, 3)


@pytest.mark.parametrize("gpu_mib,kw,expected", [
    # H100 80 GB (81559 MiB), TP 1: chunk 8192, graph bs 256: 512 + 12288 + 512 + 128 = 13440 MiB
    (81559, dict(tp_size=1), round((81559 - 13440) / 81559, 3)),                        # 0.835
    # H100, TP 8: graph bs 512: 512 + 12288 + 1024 + 1024 = 14848
    (81559, dict(tp_size=8), round((81559 - 14848) / 81559, 3)),                        # 0.818
    # L40S 48 GB (46068 MiB), TP 1: chunk 4096, bs 32: 512 + 6144 + 64 + 128 = 6848 (no 10 GiB floor below 60 GiB)
    (46068, dict(tp_size=1), round((46068 - 6848) / 46068, 3)),                         # 0.851
    # A10 24 GB (23028 MiB), TP 1: chunk 2048, bs 24: 512 + 3072 + 48 + 128 = 3760
    (23028, dict(tp_size=1), round((23028 - 3760) / 23028, 3)),                         # 0.837
    # A10, TP 4: bs 80: 512 + 3072 + 160 + 512 = 4256
    (23028, dict(tp_size=4), round((23028 - 4256) / 23028, 3)),                         # 0.815
    # --chunked-prefill-size 16384 on an H100 TP 1: 512 + 24576 + 512 + 128 = 25728
    (81559, dict(tp_size=1, chunked_prefill_size=16384), round((81559 - 25728) / 81559, 3)),
    # DP attention, --tp-size 64 --dp-size 16 on H100: 512 + 12288 + 1024 + 8192 + 512*16*3 + 512*16*1.5 = 58880
    (81559, dict(tp_size=64, dp_size=16, dp_attention=True), round((81559 - 58880) / 81559, 3)),   # 0.278
])
def test_sglang_default_mem_fraction_by_hand(gpu_mib, kw, expected):
    assert eng.sglang_default_mem_fraction(gpu_mib, **kw) == expected


def test_hand_rows_are_the_numbers_quoted():
    assert [eng.sglang_default_mem_fraction(m, t) for m, t in ((81559, 1), (81559, 8), (46068, 1), (23028, 1))] \
        == [0.835, 0.818, 0.851, 0.837]
    assert eng.sglang_default_mem_fraction(81559, 64, dp_size=16, dp_attention=True) == 0.278
    assert _sglang_default(81559, 8192, 512, 64, dp_attn_dp=16) == 0.278


def test_sglang_memory_model_uses_the_named_standin_not_sglangs_version():
    p = plan("Qwen/Qwen3-8B", gpu_type="H100-80GB", engine="sglang")
    sg_version = eng.engine_version(p.recipe, "sglang")
    assert sg_version < V1_PROFILER_FROM                  # read as vLLM's it would pick the V0 terms
    assert eng.memory_model_version(p.recipe, "sglang") == eng.SGLANG_MEMORY_STANDIN == (0, 17, 0)
    assert eng.memory_model_version(p.recipe, "vllm") == eng.engine_version(p.recipe, "vllm")
    # same forced layout and limits: the SGLang plan's overhead terms are vLLM 0.17's, term by term
    kw = dict(gpu_type="H100-80GB", gpus=1, gpu_memory_utilization=0.9, max_num_seqs=64)
    sg = plan("Qwen/Qwen3-8B", engine="sglang", **kw).to_dict()["memory"]
    vl = plan("Qwen/Qwen3-8B", engine="vllm", **kw).to_dict()["memory"]
    assert eng.engine_version(p.recipe, "vllm") == (0, 17, 0)
    assert sg["overhead"] == vl["overhead"] and sg["overhead_bytes_per_gpu"] == vl["overhead_bytes_per_gpu"]
    assert sg["overhead"]["sampler_warmup_bytes"] > 0     # a V1 term: V0 (< 0.7) has no sampler warm-up
    assert any("the terms of release 0.17.0 stand in" in r for r in p.reasons)


@pytest.mark.parametrize("model,gpu,tp_size", [("Qwen/Qwen3-8B", "H100-80GB", 1), ("Qwen/Qwen3-8B", "L40S", 1),
                                                ("Qwen/Qwen3-8B", "A10", 2)])
def test_sglang_fraction_never_above_sglangs_own_default(model, gpu, tp_size):
    g = find_gpu(gpu)
    d = plan(model, gpu_type=gpu, engine="sglang").to_dict()
    s = d["serving"]
    assert s["args"][s["args"].index("--tp-size") + 1] == str(tp_size)
    cap = math.floor(eng.sglang_default_mem_fraction(g.memory_mib, tp_size) * 100) / 100
    assert cap == {"H100-80GB": 0.83, "L40S": 0.85, "A10": 0.83}[gpu]
    frac = s["mem_fraction_static"]
    assert frac == cap                   # the planned fraction (0.92 / 0.92 / 0.84) is above it: the cap binds
    assert s["args"][s["args"].index("--mem-fraction-static") + 1] == f"{cap:.2f}"
    # the KV pool is what the capped fraction leaves after the weights, of the memory free at SGLang's start-up:
    # 0.8 GiB in use at TP 1 (0.5 context + 0.3 loaded beyond the checkpoint), + 0.2 GiB a rank without NVLink
    m = d["memory"]
    startup = int(0.5 * GiB) + int(0.3 * GiB) + (tp_size - 1) * int(0.2 * GiB)
    assert eng.sglang_startup_bytes(plan(model, gpu_type=gpu, engine="sglang").best.layout, g.compute,
                                    g.nvlink) == startup
    assert m["kv_cache_bytes_per_gpu"] == int(cap * (g.memory_bytes - startup) - m["weights_per_gpu_bytes"])
    assert any(f"capped at SGLang's own default {cap:.2f} for {gpu}" in r for r in d["reasons"])


def test_forced_utilisation_lifts_the_cap():
    """--gpu-memory-utilization is the user's override: the fraction is the utilisation less the planned overhead."""
    g = find_gpu("H100-80GB")
    d = plan("Qwen/Qwen3-8B", gpu_type="H100-80GB", engine="sglang", gpu_memory_utilization=0.95).to_dict()
    over = d["memory"]["overhead_bytes_per_gpu"]
    expected = int(round((0.95 - over / g.memory_bytes) * 100, 6)) / 100
    assert d["serving"]["mem_fraction_static"] == expected > 0.835
    assert not any("capped at SGLang's own default" in r for r in d["reasons"])


def test_vllm_plans_are_not_capped():
    d = plan("Qwen/Qwen3-8B", gpu_type="H100-80GB").to_dict()
    assert d["serving"]["mem_fraction_static"] is None and d["serving"]["gpu_memory_utilization"] == 0.95


def test_non_fitting_sglang_plan_shows_no_fraction_text_and_json():
    args = ["plan", "Qwen/Qwen3.5-397B-A17B", "--gpu", "A10", "--engine", "sglang"]
    text = CliRunner().invoke(cli, args)
    assert text.exit_code != 0 and "fits     NO" in text.stdout
    assert "mem-fraction-static none (does not fit)" in text.stdout
    assert not re.search(r"mem-fraction-static -?\d", text.stdout + text.stderr)   # no number, never -0.07
    assert "no --mem-fraction-static: the layout does not fit" in text.stdout
    res = CliRunner().invoke(cli, args + ["-o", "json"])
    d = json.loads(res.stdout)
    s = d["serving"]
    assert s["mem_fraction_static"] is None
    assert "--mem-fraction-static" not in s["args"] and "--mem-fraction-static" not in s["worker_args"]
    assert not any(re.search(r"mem-fraction-static -?\d", r) for r in d["reasons"])


def test_dp_attention_default_below_zero_says_why_and_forcing_fits():
    """SGLang's default at --tp-size 32 --dp-size 32 with DP attention on an H100 is negative
    (512 + 12288 + 1024 + 4096 + 512 x 32 x 4.5 = 91648 MiB reserved of 81559): without --gpu-memory-utilization
    the plan does not fit and says why; forcing it plans the layout."""
    assert eng.sglang_default_mem_fraction(81559, 32, dp_size=32, dp_attention=True) == round(
        (81559 - 91648) / 81559, 3) < 0
    p = plan("deepseek-ai/DeepSeek-V3", gpu_type="H100-80GB", data_parallel=32, engine="sglang")
    d = p.to_dict()
    assert d["fits"] is False and d["serving"]["mem_fraction_static"] is None
    assert any(re.search(r"--mem-fraction-static capped at SGLang's own default -0\.\d\d for --tp-size \d+ "
                         r"--dp-size 32 with DP attention on H100-80GB .*--gpu-memory-utilization overrides it: it "
                         r"leaves no KV pool", r) for r in d["reasons"])
    # the hint leads with the one change that helps here: forcing the utilisation the plan sized
    assert re.search(r"try --gpu-memory-utilization 0\.\d\d \(lifts the cap at SGLang's own default -0\.\d\d;",
                     p.fit_hint()), p.fit_hint()
    forced = plan("deepseek-ai/DeepSeek-V3", gpu_type="H100-80GB", data_parallel=32, engine="sglang",
                  gpu_memory_utilization=0.95).to_dict()
    assert forced["fits"] is True and 0 < forced["serving"]["mem_fraction_static"] < 0.95


def test_multimodal_default_is_scaled_like_sglangs_vlm_adjustment():
    """adjust_mem_fraction_for_vlm (server_args.py@v0.5.9): x 0.95 x clamp(1 - 0.1 x (L x h^2 / (24 x 1024^2) - 1),
    0.8, 1.05). A ViT-L/14-sized tower (24 x 1024) gives x 0.95; 32 x 1280 gives 1 - 0.1 x (52428800 / 25165824 - 1)
    = 0.8917 -> x 0.8471; no fields: 24 / 1024."""
    base = eng.sglang_default_mem_fraction(81559, 1)                                        # 0.835
    assert eng.sglang_default_mem_fraction(81559, 1, vision=(24, 1024)) == pytest.approx(0.835 * 0.95)
    assert eng.sglang_default_mem_fraction(81559, 1, vision=(None, None)) == pytest.approx(0.835 * 0.95)
    f = 1 - 0.1 * (32 * 1280 ** 2 / (24 * 1024 ** 2) - 1)
    assert eng.sglang_default_mem_fraction(81559, 1, vision=(32, 1280)) == pytest.approx(base * 0.95 * f)
    assert eng.sglang_default_mem_fraction(81559, 1, vision=(200, 4096)) == pytest.approx(base * 0.95 * 0.8)
    # a VLM plan obeys it: gemma-3-27b-it on an H100 (SGLang)
    d = plan("google/gemma-3-27b-it", gpu_type="H100-80GB", engine="sglang").to_dict()
    s = d["serving"]
    tp = int(s["args"][s["args"].index("--tp-size") + 1])
    assert s["mem_fraction_static"] <= eng.sglang_default_mem_fraction(81559, tp, vision=(27, 1152)) < 0.8


def test_a_capped_kv_shortfall_hints_the_utilisation_and_no_card_of_the_same_size():
    """DeepSeek-V3 on 64 x H100 as 16 DP ranks of TP 4 (SGLang, DP attention): SGLang's own default is 0.27 there,
    so the KV cache holds less than one full-length request. The hint names --gpu-memory-utilization with the
    plan's utilisation, and a "larger GPU" only if it gives the KV the request lacks: A100-80GB (79.25 GiB against
    the H100's 79.19) is not one."""
    p = plan("deepseek-ai/DeepSeek-V3", gpu_type="H100-80GB", data_parallel=16, engine="sglang")
    assert not p.fits and p.best.sglang_cap is not None and p.best.sglang_cap < 0.3
    hint = p.fit_hint()
    assert f"--gpu-memory-utilization {p.best.util:.2f} (lifts the cap" in hint
    assert "A100-80GB" not in hint
    lacking = p.best.kv_bytes_per_token * (p.context.max_model_len - p.best.kv_tokens)
    m = re.search(r"a larger GPU \(--gpu ([\w-]+)\)", hint)
    if m:
        card = next(g for g in p.site.gpu_catalog if g.name == m.group(1))
        assert card.memory_bytes * p.best.util > p.best.gpu.memory_bytes * p.best.util + lacking

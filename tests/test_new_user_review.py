"""A first-time admin's pass over README, every --help and bad input: each defect found, pinned by its fix.

Every failure is one `error:` line plus one `hint:` line with the right exit code (2 = usage), and the help and
messages name the flags as the user types them (`--context-length`, not the deprecated `--context`)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kubectl_llm.cli.main import cli
from tests.cli_harness import cli_cluster, kllm, offline_dry_run_env
from tests.test_helm_contract import fake_helm  # noqa: F401 - fixture

NS = "nrp-llm"


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


def _one_error(res, code: int) -> tuple[str, str]:
    assert res.exit_code == code, (res.exit_code, res.stdout, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), lines
    return lines[0], lines[1]


# --- help ------------------------------------------------------------------------------------------------------
def test_upgrade_help_keeps_each_example_on_one_line():
    text = _run("upgrade", "--help").stdout
    assert "kubectl llm upgrade qwen3-8b                             # nothing new: no new revision, no restart" \
        in text
    assert "\n    new revision" not in text


def test_gateway_install_help_does_not_speak_of_a_plan_or_a_model():
    text = " ".join(_run("gateway", "install", "--help").stdout.split())
    assert "overriding the plan" not in text and "plan and render" not in text
    assert "Wait until the model serves" not in text
    assert "Wait until the release is ready" in text


def test_gpu_memory_utilization_has_one_range_in_help_click_and_planner():
    assert "0.1-0.99" in " ".join(_run("plan", "--help").stdout.split())
    error, _ = _one_error(_run("plan", "Qwen/Qwen3-8B", "--gpu-memory-utilization", "0.07"), 2)
    assert "0.1<=x<=0.99" in error          # was accepted by click (0.05) and refused by the planner (0.1)
    assert _run("plan", "Qwen/Qwen3-8B", "--gpu", "H100-80GB", "--gpu-memory-utilization", "0.1").exit_code in (0, 5)


# --- conflicting or impossible parallel flags ---------------------------------------------------------------
def test_a_tp_the_heads_refuse_is_one_usage_error_with_the_valid_sizes():
    # Qwen3-8B has 32 attention heads and 8 KV heads: TP 3 divides neither, on every GPU type and count
    error, hint = _one_error(_run("plan", "Qwen/Qwen3-8B", "--tp", "3"), 2)
    assert error == "error: --tp 3 for Qwen/Qwen3-8B: TP 3 does not divide 32 attention heads"
    assert hint == "hint: use --tp 1, 2, 4, 8, 16, 32"          # 16 and 32 are multiples of the 8 KV heads


@pytest.mark.parametrize("model,args,error", [
    ("Qwen/Qwen3-8B", ["--tp", "2", "--gpus", "3"], "error: --tp 2 does not divide --gpus 3"),
    ("Qwen/Qwen3-8B", ["--gpus", "4", "--tp", "2", "--pp", "3"], "error: --tp 2 x --pp 3 = 6, not --gpus 4"),
    ("Qwen/Qwen3-8B", ["--tp", "4", "--dcp", "3"], "error: --dcp 3 must divide --tp 4"),
    ("Qwen/Qwen3-30B-A3B", ["--data-parallel", "3", "--gpus", "4"],
     "error: --data-parallel 3 does not divide --gpus 4"),
])
def test_conflicting_count_flags_are_usage_errors_with_a_hint(model, args, error):
    got, _ = _one_error(_run("plan", model, *args), 2)            # was exit 4 with no hint line
    assert got == error


def test_no_valid_layout_names_a_reason_shared_by_every_gpu_type_once():
    res = _run("plan", "Qwen/Qwen3-8B", "--tp", "16")
    error, _ = _one_error(res, 4)
    assert error.count("TP must stay within one node of 8 GPUs") == 1, error
    assert "A100-80GB, A100-40GB, H100-80GB" in error


# --- context flags ----------------------------------------------------------------------------------------------
def test_context_hints_name_context_length_not_the_deprecated_context():
    _, hint = _one_error(_run("plan", "Qwen/Qwen3-8B", "--max-model-len", "100000"), 4)
    assert hint == "hint: use --context-length 100000 to extend it with RoPE scaling"


def test_sglang_rope_override_reason_names_sglangs_flag():
    sg = json.loads(_run("plan", "Qwen/Qwen3-8B", "--gpu", "H100-80GB", "--context-length", "65536",
                         "--engine", "sglang", "-o", "json").stdout)
    assert any(r.startswith("--json-model-override-args changes rope_scaling: ") for r in sg["reasons"])
    assert "--json-model-override-args" in sg["serving"]["args"]
    assert not any("--hf-overrides" in r for r in sg["reasons"] + sg["warnings"])
    vl = json.loads(_run("plan", "Qwen/Qwen3-8B", "--gpu", "H100-80GB", "--context-length", "65536",
                         "-o", "json").stdout)
    assert any(r.startswith("--hf-overrides changes rope_scaling: ") for r in vl["reasons"])


# --- add / gateway / rollback / list ----------------------------------------------------------------------------
@pytest.mark.parametrize("args", [["add", "Qwen/Qwen3-8B", "--dry-run=client", "--timeout", "10x"],
                                  ["gateway", "uninstall", "--timeout", "abc"],
                                  ["rm", "qwen3-8b", "--timeout", "5 minutes"]])
def test_timeout_must_be_a_duration(args, monkeypatch, tmp_path):
    offline_dry_run_env(monkeypatch, tmp_path)
    error, hint = _one_error(_run(*args), 2)   # add used to render with it and wait 30 minutes on --wait
    assert error.startswith("error: --timeout ") and error.endswith("is not a duration")
    assert hint == "hint: write it like 90s, 30m, 1h or 1h30m"


def test_a_valid_timeout_still_reaches_helm(monkeypatch, tmp_path):
    offline_dry_run_env(monkeypatch, tmp_path)
    assert _run("add", "Qwen/Qwen3-8B", "--dry-run=client", "--timeout", "1h30m", "-o", "yaml").exit_code == 0


def test_add_of_a_missing_local_directory_says_it_does_not_exist(monkeypatch, tmp_path):
    offline_dry_run_env(monkeypatch, tmp_path)
    error, _ = _one_error(_run("add", "./no-such-model-dir", "--dry-run=client"), 3)
    assert error == "error: local model directory ./no-such-model-dir does not exist"   # was "is a directory"


def test_list_with_namespace_and_all_namespaces_hints_what_to_drop():
    _, hint = _one_error(_run("list", "-A", "-n", "x"), 2)
    assert hint == "hint: -A lists every namespace, -n NS one: drop one of them"


def test_rollback_to_a_revision_that_does_not_exist_is_a_usage_error(fake_helm):  # noqa: F811
    assert _run("add", "Qwen/Qwen3-8B", "-n", NS).exit_code == 0
    error, hint = _one_error(_run("rollback", "qwen3-8b", "-n", NS), 2)
    assert error == "error: release 'qwen3-8b' has only revision 1: there is nothing to roll back to"
    assert _run("upgrade", "qwen3-8b", "-n", NS, "--max-num-seqs", "32").exit_code == 0
    error, hint = _one_error(_run("rollback", "qwen3-8b", "4", "-n", NS), 2)   # helm: "release has no 4 version"
    assert error == "error: release 'qwen3-8b' has no revision 4 (its revisions: 1, 2)"
    assert hint == "hint: kubectl llm rollback qwen3-8b 1"
    assert "rollback" not in fake_helm.verbs()                     # refused before helm ran


def test_status_of_an_alias_and_an_external_shows_no_chart_default_model_and_no_pending_pods(tmp_path, monkeypatch):
    with cli_cluster(tmp_path, monkeypatch, namespace="llm"):
        kllm("add", "--external", "https://llm.sdsc.example.org/v1", "--served-name", "Qwen/Qwen3-235B",
             "--name", "qwen3-nairr")
        kllm("alias", "qwen3", "--to", "qwen3-nairr")
        text = kllm("status", "qwen3").stdout
        assert "alias     -> qwen3-nairr (a route only, no pod)" in text
        assert "Qwen/Qwen3-8B" not in text and "pods      none yet" not in text     # the chart's default model.id
        doc = json.loads(kllm("status", "qwen3", "-o", "json").stdout)
        assert (doc["kind"], doc["model"], doc["served_name"]) == ("alias", None, None)
        assert [t["name"] for t in doc["targets"]] == ["qwen3-nairr"]
        ext = kllm("status", "qwen3-nairr").stdout
        assert "model     Qwen/Qwen3-235B (served elsewhere, no pod here)" in ext and "pods      none yet" not in ext
        assert json.loads(kllm("status", "qwen3-nairr", "-o", "json").stdout)["kind"] == "external"


def test_a_gpu_count_reason_shared_by_every_type_is_said_once():
    error, _ = _one_error(_run("plan", "Qwen/Qwen3-8B", "--gpus", "12"), 4)
    assert error.count("--gpus 12 spans nodes of 8 GPUs: use a multiple of 8") == 1, error
    error, _ = _one_error(_run("plan", "Qwen/Qwen3-8B", "--gpus", "8", "--nodes", "3"), 4)
    assert error.count("--gpus 8 is 1 node(s) of 8 GPUs, not --nodes 3") == 1, error


def test_load_test_caps_at_what_one_copy_of_the_engine_runs_at_once():
    """`kubectl llm test` sends at most what the engine runs at once: vLLM's --max-num-seqs is per DP rank, SGLang's
    --max-running-requests is global. The same DP 16 plan gives the same total on both engines."""
    from kubectl_llm.fleet import engine_concurrency
    from tests.test_planner import plan

    assert engine_concurrency(["--max-num-seqs", "64"]) == 64
    assert engine_concurrency(["--max-num-seqs", "64", "--data-parallel-size", "4"]) == 256
    assert engine_concurrency(["--max-running-requests", "2048", "--dp-size", "16"]) == 2048
    assert engine_concurrency(["--port", "5000"]) is None
    vl = plan("deepseek-ai/DeepSeek-V3", gpu_type="H100-80GB", data_parallel=16).to_dict()["serving"]
    sg = plan("deepseek-ai/DeepSeek-V3", gpu_type="H100-80GB", data_parallel=16, engine="sglang").to_dict()["serving"]
    assert engine_concurrency(vl["args"]) == vl["max_num_seqs"] * 16
    assert engine_concurrency(sg["args"]) == sg["max_num_seqs"] * 16


def test_load_test_refuses_a_url_that_is_not_http_before_running(fake_helm):  # noqa: F811
    assert _run("add", "Qwen/Qwen3-8B", "-n", NS).exit_code == 0
    error, _ = _one_error(_run("test", "qwen3-8b", "-n", NS, "--url", "not-a-url"), 2)  # ran 14 failing requests
    assert error == "error: --url 'not-a-url' is not an http(s) URL"
    error, _ = _one_error(_run("test", "qwen3-8b", "-n", NS, "--url", "http://127.0.0.1:9",
                               "--metrics-url", "127.0.0.1:9/metrics"), 2)
    assert error == "error: --metrics-url '127.0.0.1:9/metrics' is not an http(s) URL"


def test_logs_tail_takes_minus_one_for_all_and_no_other_negative():
    error, _ = _one_error(_run("logs", "qwen3-8b", "--tail", "-5"), 2)
    assert "-5 is not in the range x>=-1" in error


def test_a_rope_factor_beyond_what_cards_validate_is_warned():
    from tests.test_planner import plan

    # Qwen3-8B: 32768 trained positions (YaRN original); 10M tokens = 10000000 / 32768 = 305.2 -> 305.5
    far = plan("Qwen/Qwen3-8B", gpu_type="H200", context=10_000_000)
    assert far.context.factor == 305.5
    assert any(w.startswith("RoPE factor 305.5 stretches Qwen/Qwen3-8B's 32768 trained positions 305.5-fold")
               and w.endswith("(--context-length 131072 stays within x4)") for w in far.warnings), far.warnings
    card = plan("Qwen/Qwen3-8B", gpu_type="H200", context=131072)        # the card's YaRN x4: no warning
    assert card.context.factor == 4.0 and not any("RoPE factor" in w for w in card.warnings)


def test_a_pvc_smaller_than_the_weights_is_refused(monkeypatch, tmp_path):
    offline_dry_run_env(monkeypatch, tmp_path)
    # Qwen3-8B: 15.3 GiB of weights (estimated from config.json); the plan sizes 18Gi
    error, hint = _one_error(_run("add", "Qwen/Qwen3-8B", "--gpu", "L40", "--dry-run=client",
                                  "--set", "storage.size=1Gi"), 2)
    assert error == ("error: storage.size 1Gi is smaller than the model's 15.3 GiB of weights: the download into "
                     "the PVC would fail")
    assert hint == "hint: drop the override (the plan sizes 18Gi, 10-20 % above the weights) or give more"
    assert _run("add", "Qwen/Qwen3-8B", "--gpu", "L40", "--dry-run=client", "--set", "storage.size=16Gi",
                "-o", "yaml").exit_code == 0


def test_gateway_uninstall_names_the_releases_left_without_a_gateway(tmp_path, monkeypatch):
    with cli_cluster(tmp_path, monkeypatch, namespace="llm"):
        kllm("gateway", "install")
        kllm("add", "--external", "https://llm.sdsc.example.org/v1", "--served-name", "Qwen/Qwen3-235B",
             "--name", "qwen3-nairr")
        res = kllm("gateway", "uninstall")
        assert res.stderr.splitlines() == [
            "warning: qwen3-nairr still routes through the removed Gateway: it answers no request until "
            "'kubectl llm gateway install -n llm' (or remove it with kubectl llm rm)"]


def test_debug_works_after_the_command_too():
    res = _run("plan", "Qwen/Qwen3-8B", "--tp", "3", "--debug")      # was "No such option '--debug'"
    assert res.exit_code == 2
    assert "Traceback (most recent call last)" in res.stderr
    assert "error: --tp 3 for Qwen/Qwen3-8B: TP 3 does not divide 32 attention heads" in res.stderr
    plain = _run("plan", "Qwen/Qwen3-8B", "--tp", "3")
    assert "Traceback" not in plain.stderr


def test_dsa_refusal_on_an_old_gpu_names_the_engine_planned():
    from kubectl_llm.errors import PlanError
    from tests.test_dsa_indexer import glm5

    with pytest.raises(PlanError) as sg:
        glm5(gpu_type="A100-80GB", engine="sglang")
    assert "SGLang serves it on Hopper / Blackwell data-center GPUs" in sg.value.message
    assert "vLLM" not in sg.value.message and "compute 8.0" in sg.value.message
    with pytest.raises(PlanError) as vl:
        glm5(gpu_type="A100-80GB")
    assert "vLLM's only backend for it (FLASHMLA_SPARSE)" in vl.value.message


def test_a_dp_plans_duplicated_latent_warning_points_at_more_dp_ranks():
    from tests.test_planner import plan

    # DeepSeek-V3 (MLA, one latent head) on 32 H100 as DP 16 x TP 2: the latent is copied on both TP ranks of a DP
    # rank; DP 32 x TP 1 avoids that (and fits), TP 1 x PP 32 is not the DP alternative
    p = plan("deepseek-ai/DeepSeek-V3", gpu_type="H100-80GB", data_parallel=16, engine="sglang")
    (w,) = [w for w in p.warnings if "duplicated" in w]
    assert w.endswith("duplicated 2x on every TP rank (--data-parallel 32, TP 1 per DP rank, would avoid it)")
    assert plan("deepseek-ai/DeepSeek-V3", gpu_type="H100-80GB", data_parallel=32, engine="sglang").fits


def test_load_test_of_an_engine_that_does_not_answer_stops_at_once(tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:                    # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with cli_cluster(tmp_path, monkeypatch, namespace="llm"):
        kllm("add", "Qwen/Qwen3-8B", "--gpu", "L40")
        res = kllm("test", "qwen3-8b", "--url", f"http://127.0.0.1:{port}", "--kv-tokens", "100000", code=6)
    error, hint = _one_error(res, 6)      # was: 14 requests sent, each failing, then "result FAILED"
    assert error.startswith(f"error: cannot reach http://127.0.0.1:{port}/v1/models (ConnectError")
    assert hint == "hint: is the engine up? 'kubectl llm status qwen3-8b -n llm'; check the --url address"
    assert "requests" not in res.stdout


def test_list_without_any_kubeconfig_says_so_not_localhost_8080(helm_bin, monkeypatch, tmp_path):
    offline_dry_run_env(monkeypatch, tmp_path)            # KUBECONFIG names a file that does not exist
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setattr("kubectl_llm.cli.session.helm_command_factory", None)
    error, hint = _one_error(_run("list"), 6)     # was "cannot reach the cluster: ... localhost:8080 ... refused"
    assert error == "error: no usable kubeconfig: helm found none and tried http://localhost:8080"
    assert hint == "hint: pass --kubeconfig PATH or set KUBECONFIG; 'kubectl config view' shows it"

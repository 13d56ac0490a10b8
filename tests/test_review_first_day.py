"""New-user review of the first-day commands (session 7): `--help`, `plan`, `add` (dry runs, `-o`, `--site`,
`--engine`, `--gpu`, `--gpus`, `--context`, `--name`), `list`, `status`, `rm`, `gpus`.

Each test is a defect an admin met typing what README and `--help` teach, or a bad input they typed; the docstring
says what they saw before the fix. Every failure must be one `error:` line plus one `hint:` line, no traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from kubectl_llm.cli.main import cli
from tests.cli_harness import cli_cluster, kllm, offline_dry_run_env

MODEL = "Qwen/Qwen3-8B"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def one_error(res: Result, code: int) -> tuple[str, str]:
    """The (error, hint) lines of a failed command: exactly those two lines on stderr, nothing on stdout."""
    assert res.exit_code == code, (res.exit_code, res.stdout, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), lines
    assert res.stdout == ""
    return lines[0], lines[1]


# --- --gpu auto without GPU nodes ---------------------------------------------------------------------------------
def test_add_gpu_auto_without_gpu_nodes_falls_back_to_the_catalog_and_installs(
        helm_bin: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Before: `add Qwen/Qwen3-8B --gpu auto --dry-run=client` with no cluster (or a cluster without GPU nodes)
    warned "planning with the catalog's types", then failed with `error: helm failed: values don't meet the
    specifications of the schema(s) in the following chart(s):` and the hint "re-run with --debug": the user layer
    recorded the resolved type as `gpu: null`, which the chart's schema refuses. Now the plan installs and the layer
    keeps `gpu: auto` (a later upgrade asks the cluster again)."""
    offline_dry_run_env(monkeypatch, tmp_path)
    res = run("add", MODEL, "--gpu", "auto", "-n", "nrp-llm", "--dry-run=client", "-o", "yaml")
    assert res.exit_code == 0, res.stderr
    assert "planning with the catalog's types" in res.stderr and "error:" not in res.stderr
    kinds = [o["kind"] for o in yaml.safe_load_all(res.stdout) if o]
    assert "Deployment" in kinds


def test_add_gpu_auto_on_a_cluster_without_gpu_nodes_records_auto(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same on a cluster (no node has GPUs): installed, and the stored user layer says `gpu: auto`, so an
    `upgrade` with nothing new is a no-op."""
    with cli_cluster(tmp_path, monkeypatch, namespace="nrp-llm"):
        added = json.loads(kllm("add", MODEL, "--gpu", "auto", "-o", "json").stdout)
        assert added["action"] == "installed"
        status = json.loads(kllm("status", "qwen3-8b", "-o", "json").stdout)
        assert status["user"]["flags"] == {"gpu": "auto"}
        again = json.loads(kllm("upgrade", "qwen3-8b", "-o", "json").stdout)
        assert again["action"] == "unchanged" and again["revision"] == 1


def test_schema_check_names_a_null_helm_keeps() -> None:
    """Helm deletes a key set to null only where values.yaml has that key; a null under a key values.yaml lacks
    stays and breaks the schema. The check before helm dropped every null, so it passed values helm then refused
    with its unhelpful first line. Now it names the key like helm does."""
    from kubectl_llm.adapters.charts import schema_violations

    assert schema_violations("llm-model", {"userLayer": {"model": MODEL, "flags": {"gpu": None}}}) == [
        "userLayer.flags.gpu: None is not of type 'string', 'integer', 'number', 'boolean', 'array'"]
    # a key values.yaml has: null deletes it (then the schema's `required` speaks), as with helm
    assert any(v.startswith("engine") and "'image' is a required property" in v
               for v in schema_violations("llm-model", {"engine": {"image": None}}))


# --- release names given as NAME -----------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["status", "rm", "logs", "upgrade", "rollback"])
def test_a_bad_positional_name_is_not_told_to_use_name(command: str) -> None:
    """Before: `kubectl llm status Bad_Name` (and rm, logs, upgrade, rollback) answered `hint: try --name bad-name`:
    these commands take NAME as an argument and have no --name option, so the hint failed with "No such option".
    Now the hint names the value and where the names are listed; nothing connects to a cluster first."""
    error, hint = one_error(run(command, "Bad_Name", "-n", "nrp-llm"), 2)
    assert error == ("error: name 'Bad_Name' is not a DNS-1123 label (lower-case letters, digits and '-', starting "
                     "and ending with a letter or digit)")
    assert hint == "hint: try bad-name; 'kubectl llm list -n nrp-llm' shows the release names"
    assert "--name" not in hint


def test_status_of_a_model_id_says_name_is_the_release_name() -> None:
    """The slip every new user makes: `kubectl llm status Qwen/Qwen3-8B` (the id they added). Before: `hint: try
    --name qwen-qwen3-8b`, an option status does not have and a name add never gave. Now: the release name add
    derives from that id (`qwen3-8b`)."""
    error, hint = one_error(run("status", MODEL), 2)
    assert error == "error: 'Qwen/Qwen3-8B' is a model id; NAME is the release name"
    assert hint == ("hint: add installs Qwen/Qwen3-8B as qwen3-8b unless given --name; 'kubectl llm list' shows the "
                    "release names")
    # the name it names is the one add gives
    assert run("plan", MODEL, "-o", "json").exit_code == 0
    assert json.loads(run("plan", MODEL, "-o", "json").stdout)["route"]["name"] == "qwen3-8b"


def test_alias_names_keep_their_own_hints() -> None:
    """`alias NAME --to A,B`: NAME is positional and the targets are a list; neither hint says `--name`."""
    _, hint = one_error(run("alias", "Fast_Qwen", "--to", "qwen3-8b", "--dry-run=client"), 2)
    assert hint == "hint: try fast-qwen"
    _, hint = one_error(run("alias", "fast", "--to", "qwen3-8b,Other_One", "--dry-run=client"), 2)
    assert hint == "hint: try other-one"
    # add --name keeps pointing at --name
    _, hint = one_error(run("add", MODEL, "--name", "Bad_Name", "--dry-run=client"), 2)
    assert hint == "hint: try --name bad-name"


# --- connection flags ---------------------------------------------------------------------------------------------
CONNECTING = [["list", "-n", "nrp-llm"], ["list"], ["status", "qwen3-8b", "-n", "nrp-llm"], ["rm", "qwen3-8b", "-n", "nrp-llm"],
              ["add", MODEL, "-n", "nrp-llm"], ["add", MODEL], ["gpus", "--cluster"]]


@pytest.mark.parametrize("args", CONNECTING, ids=lambda a: " ".join(a))
def test_an_unknown_context_is_one_message_on_every_command(args: list[str], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `--context nope` gave three different errors depending on the command and on -n: "context 'nope' not
    found in the kubeconfig" (list), "cannot reach the cluster: kubernetes cluster unreachable: context "nope" does
    not exist" with the hint "check 'kubectl cluster-info'" (list/status/rm with -n: helm's words), and "no usable
    kubeconfig: Invalid kube-config file. Expected object with name nope in .../contexts list" with the hint "pass
    --kubeconfig PATH or set KUBECONFIG" (add, gpus --cluster: the kubernetes client's), though the kubeconfig
    was fine. Now all say the first."""
    with cli_cluster(tmp_path, monkeypatch, namespace="nrp-llm"):
        error, hint = one_error(run(*args, "--context", "nope"), 6)
    assert error == "error: context 'nope' not found in the kubeconfig"
    assert hint == "hint: 'kubectl config get-contexts' lists them"


@pytest.mark.parametrize("args", CONNECTING, ids=lambda a: " ".join(a))
def test_a_kubeconfig_file_that_does_not_exist_is_named(args: list[str], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `--kubeconfig /no/such/file` read "cannot reach the cluster: kubernetes cluster unreachable: stat
    /no/such/file: no such file or directory" with the hint "check 'kubectl cluster-info'" (list, status, rm), or
    "no usable kubeconfig: Invalid kube-config file. No configuration found." (add, gpus --cluster). Now: the file
    does not exist, and what to pass instead."""
    missing = str(tmp_path / "no-such-kubeconfig")
    with cli_cluster(tmp_path, monkeypatch, namespace="nrp-llm"):
        error, hint = one_error(run(*args, "--kubeconfig", missing), 6)
    assert error == f"error: kubeconfig file {missing} does not exist (--kubeconfig)"
    assert hint == "hint: pass an existing file, or drop --kubeconfig to use $KUBECONFIG, then ~/.kube/config"


# --- site files -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", ["gpusMode: replace\n", "gpusMode: replace\ngpus: []\n"])
def test_a_site_that_replaces_the_catalog_with_nothing_is_refused(body: str, tmp_path: Path) -> None:
    """Before: a site file with `gpusMode: replace` and no `gpus:` passed the schema, then every plan failed with
    `error: Qwen/Qwen3-8B cannot run on ` (an empty list) and `hint: no catalog GPU type can run this checkpoint`.
    Now the site file is refused where the mistake is (exit 2, like every site-file error)."""
    site = tmp_path / "my-site.yaml"
    site.write_text("name: my-cluster\n" + body)
    for args in (["plan", MODEL], ["gpus"]):
        error, hint = one_error(run(*args, "--site", str(site)), 2)
        assert error == f"error: site file {site}: gpusMode: replace with no gpus leaves no GPU type to plan on"
        assert "under gpus:" in hint and "kubectl llm gpus -o yaml" in hint
    site.write_text("name: my-cluster\ngpusMode: replace\ngpus:\n  - {name: L40, memory_mib: 46068, usable_gib: 44.4, "
                    "products: [NVIDIA-L40], resource: nvidia.com/gpu}\n")
    assert json.loads(run("plan", MODEL, "--site", str(site), "-o", "json").stdout)["gpu"]["type"] == "L40"


# --- does-not-fit hints --------------------------------------------------------------------------------------------
def _fit_hint(*args: str) -> str:
    res = run("plan", *args, "-o", "json")
    assert res.exit_code == 5, res.stderr
    assert json.loads(res.stdout)["fits"] is False            # the plan is still printed
    return one_error_lines(res)[1]


def one_error_lines(res: Result) -> tuple[str, str]:
    lines = res.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), lines
    return lines[0], lines[1]


def test_a_plan_that_does_not_fit_on_eight_nodes_does_not_ask_for_more_than_one_node() -> None:
    """Before: Llama-3.1-405B on A10 (the search tried up to 8 nodes = 64 GPUs) hinted "... on 64 x A10: try ...,
    or more GPUs than one node's 8": the planner had already used 64. The GPU-count tips predate multi-node plans
    (they compared with one node's 8). Now no count tip when the search tried every count."""
    hint = _fit_hint("meta-llama/Llama-3.1-405B", "--gpu", "A10")
    assert "on 64 x A10" in hint
    assert "one node" not in hint and "--gpus" not in hint
    assert hint.endswith("try a larger GPU (--gpu A100-40GB), or a quantized (FP8 / NVFP4) checkpoint of the model")


@pytest.mark.parametrize("flags, tip", [
    (["--gpus", "4"], "more --gpus (up to 64: 8 nodes of 8)"),
    (["--gpus", "8"], "more --gpus (up to 64: 8 nodes of 8)"),
    (["--nodes", "1"], "more --nodes (up to 8)"),
])
def test_a_count_held_by_a_flag_names_the_flag_and_the_limit(flags: list[str], tip: str) -> None:
    """Before: `--gpus 16` (2 nodes) hinted "more GPUs than one node's 8", and `--nodes 1` the same, though --nodes
    was what held the count. Now the tip names the flag to raise and how far the planner goes (8 nodes).
    Llama-3.1-70B (the 405B of this test's first version fits on no count of A10s up to 64: since every tip is
    planned before it is named, the 405B's hint no longer offers more GPUs)."""
    hint = _fit_hint("meta-llama/Llama-3.1-70B-Instruct", "--gpu", "A10", *flags)
    assert f"try {tip}, or a larger GPU" in hint
    assert "one node's" not in hint
    held = _fit_hint("meta-llama/Llama-3.1-405B", "--gpu", "A10", *flags)
    assert "more --gpus" not in held and "more --nodes" not in held


def _local_config(tmp_path: Path, **changes: Any) -> Path:
    """A local model directory: the embedded Qwen/Qwen3-8B config.json with ``changes``."""
    catalog = Path(__file__).resolve().parents[1] / "kubectl_llm" / "catalog" / "models" / "Qwen__Qwen3-8B.json"
    config = {**json.loads(catalog.read_text())["config"], **changes}
    model = tmp_path / "my-model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(config))
    return model


def test_messages_name_context_length_for_the_token_count(tmp_path: Path) -> None:
    """`--context` is the kubeconfig context on every command that connects (add refuses a number there). Before,
    three messages still told users to change "--context" meaning tokens: the warning on a malformed rope_scaling
    ("a --context above the native one then writes a fresh RoPE block"), the fallback tip of a KV cache that does not
    fit ("a smaller --context") and the default does-not-fit hint. Now they name --context-length / --max-model-len."""
    from kubectl_llm.errors import DoesNotFit

    model = _local_config(tmp_path, rope_scaling="yarn")
    doc = json.loads(run("plan", str(model), "--gpu", "L40", "-o", "json").stdout)
    warning = next(w for w in doc["warnings"] if "rope_scaling" in w)
    assert "a --context-length above the native one then writes a fresh RoPE block" in warning
    assert "--context " not in DoesNotFit("x").hint and "--max-model-len" in DoesNotFit("x").hint
    # and the warning's advice works: the RoPE block is written for the longer context
    longer = json.loads(run("plan", str(model), "--gpu", "L40", "--context-length", "65536", "-o", "json").stdout)
    assert longer["fits"] and longer["serving"]["max_model_len"] == 65536 and longer["serving"]["rope"]["factor"] == 2.0


def test_a_multi_node_reason_says_nvlink_only_for_cards_that_have_it() -> None:
    """Before: DeepSeek-V3 on RTX-4090 (7 nodes x 8) gave the reason "TP 8 within each node (NVLink)": the catalog
    says RTX-4090 nodes have no NVLink (gpus.yaml `nvlink: false`), so TP's all-reduce goes over PCIe. Now the reason
    says so; an H100 plan keeps "(NVLink)"."""
    def node_reason(*args: str) -> str:
        doc = json.loads(run("plan", *args, "-o", "json").stdout)
        return next(r for r in doc["reasons"] if "within each node" in r)

    rtx = node_reason("deepseek-ai/DeepSeek-V3", "--gpu", "RTX-4090")
    assert rtx.startswith("7 nodes x 8 GPUs: TP 8 within each node (PCIe: RTX-4090 has no NVLink), PP 7 across nodes")
    h100 = node_reason("meta-llama/Llama-3.1-405B", "--gpu", "H100-80GB")
    assert h100.startswith("2 nodes x 8 GPUs: TP 8 within each node (NVLink), PP 2 across nodes")


# --- install.sh ------------------------------------------------------------------------------------------------------
def test_install_sh_refuses_an_unknown_option_in_two_lines_with_the_usage_exit_code(tmp_path: Path) -> None:
    """Before: `./install.sh --frobnicate` printed the whole 18-line usage text, then `error: unknown option`
    last, with no hint, and exited 1 (the exit code of a failed install). Now: the error line, a hint, exit 2 (usage,
    as everywhere in kubectl llm); nothing is installed."""
    import subprocess

    script = Path(__file__).resolve().parents[1] / "install.sh"
    home = tmp_path / "venv"
    proc = subprocess.run([str(script), "--frobnicate"], capture_output=True, text=True, cwd=tmp_path, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KUBECTL_LLM_HOME": str(home)})
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["error: unknown option: --frobnicate",
                                        "hint: ./install.sh --help lists the options"]
    assert proc.stdout == "" and not home.exists()


def test_no_valid_layout_hints_the_flags_that_were_given() -> None:
    """Before: `plan Qwen/Qwen3-8B --gpus 2 --nodes 2` failed with "--gpus 2 is 1 node(s) of 8 GPUs, not --nodes 2"
    and the hint "drop or change --gpus/--tp/--pp/--dcp": --nodes, one of the two flags at odds, was not in it, and
    --tp/--pp/--dcp were never given. Now the hint names the flags given."""
    error, hint = one_error(run("plan", MODEL, "--gpus", "2", "--nodes", "2"), 4)
    assert "--gpus 2 is 1 node(s) of 8 GPUs, not --nodes 2" in error
    assert hint == "hint: drop or change --gpus/--nodes"


def test_plan_gpu_auto_reads_the_nodes_of_the_context_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `plan MODEL --gpu auto --context other` read the nodes of the *current* context's cluster: plan's
    --context was documented "plan needs none: ignored", though --gpu auto does read a cluster. An admin comparing
    clusters got the wrong one's GPUs without a word. Now --gpu auto reads --context's cluster."""
    from tests.fakes.apiserver import FakeApiServer
    from tests.test_cli_gpus_cluster import node

    with cli_cluster(tmp_path, monkeypatch, namespace="nrp-llm") as current, FakeApiServer() as other:
        other.create_object(node("l40-x", "NVIDIA-L40", 46068, 4))
        kubeconfig = {
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "a", "cluster": {"server": current.url}}, {"name": "b", "cluster": {"server": other.url}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "a", "user": "u", "namespace": "nrp-llm"}},
                         {"name": "other", "context": {"cluster": "b", "user": "u", "namespace": "nrp-llm"}}]}
        path = tmp_path / "two-clusters"
        path.write_text(yaml.safe_dump(kubeconfig))
        monkeypatch.setenv("KUBECONFIG", str(path))

        here = run("plan", MODEL, "--gpu", "auto", "-o", "json")
        assert "the cluster has no node with allocatable GPUs" in here.stderr      # the current context: none
        there = run("plan", MODEL, "--gpu", "auto", "--context", "other", "-o", "json")
        assert there.exit_code == 0, there.stderr
        assert json.loads(there.stdout)["gpu"]["type"] == "L40"
        assert "--gpu auto: 1 x L40; nodes that could take it now: l40-x" in there.stderr
        # --kubeconfig as on every other command: before, plan had none ("no such option: --kubeconfig"), so a
        # kubeconfig that is not $KUBECONFIG could only be read by exporting it
        monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
        given = run("plan", MODEL, "--gpu", "auto", "--kubeconfig", str(path), "--context", "other", "-o", "json")
        assert given.exit_code == 0, given.stderr
        assert json.loads(given.stdout)["gpu"]["type"] == "L40"


# --- engine limits --------------------------------------------------------------------------------------------------
def test_max_num_batched_tokens_below_max_num_seqs_is_refused_or_caps_it() -> None:
    """vLLM's SchedulerConfig refuses to start when max_num_batched_tokens < max_num_seqs ("must be greater than or
    equal to max_num_seqs"). Before: `plan Qwen/Qwen3-8B --max-num-batched-tokens 8` said "fits" with max-num-seqs
    16 (the auto choice for an RTX-4090), and `--max-num-seqs 64 --max-num-batched-tokens 32` was planned as given:
    both engines would exit at start-up. Now both flags given that way are a usage error, and the auto choice stays
    at or below a forced --max-num-batched-tokens (the reason says why)."""
    error, hint = one_error(run("plan", MODEL, "--max-num-seqs", "64", "--max-num-batched-tokens", "32"), 2)
    assert error.startswith("error: --max-num-batched-tokens 32 is below --max-num-seqs 64: vLLM refuses to start")
    assert hint == "hint: raise --max-num-batched-tokens to 64 or more, or lower --max-num-seqs to 32"

    auto = json.loads(run("plan", MODEL, "--max-num-batched-tokens", "8", "-o", "json").stdout)
    assert auto["fits"] and auto["serving"]["max_num_seqs"] == 8        # was 16: min(auto 16, the 8 tokens a step)
    args = auto["serving"]["args"]
    assert args[args.index("--max-num-seqs") + 1] == "8" and args[args.index("--max-num-batched-tokens") + 1] == "8"
    assert any(r.startswith("max-num-seqs 8: room for ~2K-token sequences") and
               r.endswith("(cap 8: vLLM needs max-num-batched-tokens >= max-num-seqs)") for r in auto["reasons"])
    # SGLang has no such rule (--chunked-prefill-size and --max-running-requests are independent)
    sglang = json.loads(run("plan", MODEL, "--engine", "sglang", "--max-num-seqs", "64", "--max-num-batched-tokens",
                            "32", "-o", "json").stdout)
    assert sglang["serving"]["max_running_requests"] == 64


# --- --gpu auto and models spanning nodes ---------------------------------------------------------------------------
def _gpu_cluster(api: Any, *nodes: dict) -> None:
    for obj in nodes:
        api.create_object(obj)


def test_gpu_auto_checks_each_node_for_one_pods_gpus_not_the_whole_count(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plan spanning nodes puts `per_node` GPUs on each of `nodes` pods. Before: --gpu auto compared each node's
    free GPUs with the total count, so Llama-3.1-405B (16 x H100 = 2 nodes x 8) on two idle 8-GPU H100 nodes said
    "no node has 16 free H100-80GB GPUs right now: the pod waits for one". Now the two nodes are named, and with one
    node busy it says fewer than 2 nodes are free."""
    from tests.test_cli_gpus_cluster import gpu_pod, node

    with cli_cluster(tmp_path, monkeypatch, namespace="nrp-llm", namespaces=["nrp-llm", "other"]) as api:
        _gpu_cluster(api, node("h100-a", "NVIDIA-H100-80GB-HBM3", 81559, 8),
                     node("h100-b", "NVIDIA-H100-80GB-HBM3", 81559, 8))
        res = run("plan", "meta-llama/Llama-3.1-405B", "--gpu", "auto", "-o", "json")
        gpu = json.loads(res.stdout)["gpu"]
        assert [gpu[k] for k in ("type", "count", "nodes", "per_node")] == ["H100-80GB", 16, 2, 8]
        assert "--gpu auto: 16 x H100-80GB; nodes that could take it now: h100-a, h100-b" in res.stderr
        api.create_object(gpu_pod("train", "h100-b", 2))
        busy = run("plan", "meta-llama/Llama-3.1-405B", "--gpu", "auto", "-o", "json")
        assert ("--gpu auto: 16 x H100-80GB; fewer than 2 nodes have 8 free H100-80GB GPUs right now: the pods wait "
                "for them") in busy.stderr


def test_gpu_auto_does_not_pick_a_type_whose_nodes_are_too_small_for_one_pod(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: DeepSeek-V3 --gpu auto on a cluster of 4-GPU L40 nodes chose "24 x L40" (3 pods of 8, the catalog's
    node size) and said "no node has 24 free L40 GPUs right now: the pod waits for one": it would wait forever, no
    node has 8. Now that type is no candidate, the warning says why, and the catalog decides."""
    from tests.test_cli_gpus_cluster import node

    with cli_cluster(tmp_path, monkeypatch, namespace="nrp-llm") as api:
        _gpu_cluster(api, node("l40-a", "NVIDIA-L40", 46068, 4), node("l40-b", "NVIDIA-L40", 46068, 4))
        res = run("plan", "deepseek-ai/DeepSeek-V3", "--gpu", "auto", "-o", "json")
        assert res.exit_code == 0, res.stderr
        assert res.stderr.splitlines() == [
            "warning: --gpu auto: the model fits none of the cluster's GPU types (L40); L40: the plan needs 8 GPUs on "
            "each of 3 node(s), the cluster's have at most 4; planning with the catalog's types"]
        assert json.loads(res.stdout)["gpu"]["type"] != "L40"
        # a model one such node holds is still planned there
        small = run("plan", MODEL, "--gpu", "auto", "-o", "json")
        assert json.loads(small.stdout)["gpu"]["type"] == "L40" and "could take it now: l40-a, l40-b" in small.stderr


# --- replicas and the weights claim -----------------------------------------------------------------------------------
def test_replicas_never_share_a_read_write_once_claim(helm_bin: str, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    """Before: `add Qwen/Qwen3-8B --replicas 3` (README's example) rendered a Deployment of 3 pods that all mount the
    one ReadWriteOnce PVC: a RWO volume attaches to one node, so replicas the scheduler puts on other nodes hang in
    ContainerCreating ("Multi-Attach error"); add only warned. Now the plan gives each replica its own claim (a
    StatefulSet, tests/test_replica_claims.py) and there is nothing to warn about; a ReadWriteMany claim keeps the
    Deployment and its one claim."""
    offline_dry_run_env(monkeypatch, tmp_path)
    shared = run("add", MODEL, "--replicas", "3", "-n", "nrp-llm", "--dry-run=client", "-o", "yaml")
    assert shared.exit_code == 0, shared.stderr
    objs = {o["kind"]: o for o in yaml.safe_load_all(shared.stdout) if o}
    assert "Deployment" not in objs and "PersistentVolumeClaim" not in objs
    assert objs["StatefulSet"]["spec"]["replicas"] == 3
    assert objs["StatefulSet"]["spec"]["volumeClaimTemplates"][0]["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert "Multi-Attach" not in shared.stderr
    for args in (["--replicas", "3", "--set", "storage.storageClass=cephfs,storage.accessMode=ReadWriteMany"],
                 ["--replicas", "1"],
                 ["--replicas", "2", "--gpu", "H100-80GB", "--nodes", "2"]):
        quiet = run("add", MODEL if "--nodes" not in args else "meta-llama/Llama-3.1-405B", *args, "-n", "nrp-llm",
                    "--dry-run=client", "-o", "yaml")
        assert quiet.exit_code == 0 and "Multi-Attach" not in quiet.stderr, (args, quiet.stderr)
        assert "StatefulSet" not in {o["kind"] for o in yaml.safe_load_all(quiet.stdout) if o}, args


# --- documented exit codes -----------------------------------------------------------------------------------------
def test_readme_lists_every_exit_code_a_command_can_end_with() -> None:
    """README's "Exit codes:" sentence is what scripts branch on. Before, it stopped at 7: a bug of kubectl llm
    exits 70 (INTERNAL_EXIT) and Ctrl-C 130, neither documented. Now the list is every code the error table
    (`kubectl_llm/errors.py`, `cli/errors.py`) can produce, besides `sync`'s 8 and `test`'s 1 documented there."""
    import inspect
    import re

    import kubectl_llm.errors as errors
    from kubectl_llm.cli.errors import INTERNAL_EXIT

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    sentence = " ".join(readme.split("Exit codes: ", 1)[1].split(".")[0].split())
    documented = {int(n) for n in re.findall(r"(?:^|, )(\d+) ", sentence)}
    used = {cls.exit_code for _, cls in inspect.getmembers(errors, inspect.isclass)
            if issubclass(cls, errors.LlmError) and cls is not errors.LlmError}
    assert documented == used | {INTERNAL_EXIT, 130}, sentence


def test_rm_wait_says_what_it_waits_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `rm NAME --wait` printed nothing until helm's uninstall had waited for every object (a pod's grace
    period, a claim still mounted: minutes on a real cluster), so a first-time user could not tell a wait from a
    hang. Now one stderr line says what it waits for and how long at most; stdout (and -o json) is unchanged."""
    with cli_cluster(tmp_path, monkeypatch, namespace="nrp-llm"):
        kllm("add", MODEL, "--gpu", "L40")
        res = kllm("rm", "qwen3-8b", "--wait", "--timeout", "2m", "-o", "json")
        assert res.stderr.splitlines() == [
            "removing release qwen3-8b from namespace nrp-llm; waiting up to 2m until its objects are gone ..."]
        assert json.loads(res.stdout)["removed"][0] == "PersistentVolumeClaim/qwen3-8b"
        kllm("add", MODEL, "--gpu", "L40")
        assert kllm("rm", "qwen3-8b").stderr == ""          # without --wait nothing is waited for, nothing said


def test_gpu_memory_help_says_which_memory_the_plan_reads() -> None:
    """`--gpu-memory SIZE` stands for the card's memory as CUDA reports it (the catalog's `usable_gib`: 79.25 GiB for
    an A100-80GB; `--gpu auto` takes ~0.6 GiB off a node's label for the same reason). Before, the help said only
    "Memory of a GPU not in the catalog: 80GiB, ...", so `--gpu-memory 80GiB` for an 80 GB card planned with 0.75 GiB
    the card does not have. Now the help names that memory, with the catalog's own number as the example."""
    from kubectl_llm.planner.gpus import find_gpu

    text = " ".join(run("plan", "--help").stdout.split())
    assert "as CUDA reports it (nvidia-smi's total less ~0.6 GiB; an A100-80GB's is 79.25GiB" in text
    assert f"{find_gpu('A100-80GB').memory_bytes / 2**30:.2f}GiB" == "79.25GiB"
    # and the plan reads it as given: the same card by name and by that memory holds the same weights per GPU
    named = json.loads(run("plan", MODEL, "--gpu", "A100-80GB", "-o", "json").stdout)
    sized = json.loads(run("plan", MODEL, "--gpu-memory", "79.25GiB", "-o", "json").stdout)
    assert sized["gpu"]["memory_bytes"] == named["gpu"]["memory_bytes"] == int(79.25 * 2**30)


# --- shell completion -----------------------------------------------------------------------------------------------
def test_kubectl_completes_kubectl_llm_through_kubectl_complete_llm(tmp_path: Path) -> None:
    """Before: `kubectl llm completion --help` said "kubectl >= 1.26 also completes `kubectl llm` through it" (the
    script click prints for `kubectl-llm`), but kubectl completes a plugin only by running an executable named
    `kubectl_complete-llm` from PATH and reading cobra's answer; there was none, so `kubectl llm pl<TAB>` completed
    nothing. Now the package has that console script (install.sh links it): the real kubectl 1.35 gets the answers."""
    import shutil
    import subprocess
    import sys

    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl from .tools/bin (conftest puts it on PATH)"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, target in (("kubectl-llm", "kubectl_llm.cli.main import main as f"),
                         ("kubectl_complete-llm", "kubectl_llm.cli.misc_cmds import kubectl_complete as f")):
        script = bin_dir / name
        script.write_text(f"#!{sys.executable}\nfrom {target}\nf()\n")
        script.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

    def complete(*words: str) -> list[str]:
        done = subprocess.run([kubectl, "__complete", "llm", *words], env=env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    assert complete("pl") == ["plan\tPlan how to serve MODEL (a Hugging Face...", ":4"]
    assert complete("plan", MODEL, "--engine", "") == ["vllm", "sglang", ":4"]
    assert complete("plan", MODEL, "--eng")[0].startswith("--engine\t")
    assert complete("plan", MODEL, "--site", "")[-1] == ":0"          # a path: the shell completes files
    assert "kubectl_complete-llm" in " ".join(run("completion", "--help").stdout.split())


# --- model references --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pasted", ["https://huggingface.co/Qwen/Qwen3-8B", "hf.co/Qwen/Qwen3-8B", "Qwen/Qwen3-8B/",
                                    "https://huggingface.co/Qwen/Qwen3-8B/tree/main"])
def test_a_pasted_model_page_url_hints_the_repo_id(pasted: str) -> None:
    """What a new user copies from the browser: the model page's URL. Before: "'https://huggingface.co/Qwen/Qwen3-8B'
    is neither a local directory nor a Hugging Face repo id" with the generic hint "an id such as Qwen/Qwen3-8B".
    Now the hint is the repo id inside what was pasted; the plan and add refuse it alike (exit 3), before any lookup."""
    for args in (["plan", pasted], ["add", pasted, "--dry-run=client"]):
        error, hint = one_error(run(*args), 3)
        assert error == f"error: {pasted!r} is neither a local directory nor a Hugging Face repo id"
        assert hint == "hint: pass the repo id alone: Qwen/Qwen3-8B"
    # a path-like reference that is no page URL keeps the generic hint (a/b/c is not "a/b")
    _, hint = one_error(run("plan", "a/b/c"), 3)
    assert hint == "hint: pass an existing directory holding config.json, or an id such as Qwen/Qwen3-8B"


# --- README's examples ------------------------------------------------------------------------------------------------
def _readme_examples() -> list[tuple[str, str]]:
    """(command, comment) of every `kubectl llm plan|add` line in README's ```sh blocks (add --external needs a
    cluster's Secret check: the fleet tests run it)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    found = []
    for block in readme.split("```sh\n")[1:]:
        for line in block.split("```")[0].splitlines():
            command, _, comment = line.partition("#")
            command = command.strip()
            if command.startswith(("kubectl llm plan ", "kubectl llm add ")) and "--external" not in command:
                found.append((command, comment.strip()))
    return found


def test_readme_plan_and_add_examples_run_and_mean_what_their_comments_say(
        helm_bin: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every `kubectl llm plan` / `add` line of README runs offline (add as --dry-run=client), and the numbers its
    comment names (N x GPU, N nodes, TP / PP / DCP / DP sizes, RoPE factor) are the plan's."""
    import re
    import shlex

    offline_dry_run_env(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)
    _local_config(tmp_path)                                               # ./my-model
    (tmp_path / "my-site.yaml").write_text("name: my-cluster\nstorageClass: rook-ceph-block\n")
    examples = _readme_examples()
    assert len(examples) >= 12
    for command, comment in examples:
        args = [a for a in shlex.split(command)[2:] if a != "--wait"]
        if args[0] == "add":
            args = [a for a in args if not a.startswith("--dry-run")]
            if "-o" in args:
                del args[args.index("-o"):args.index("-o") + 2]
            res = run(*args, "--dry-run=client", "-o", "yaml")
            assert res.exit_code == 0, f"{command}\n{res.stderr}"
            continue
        if "-o" in args:
            del args[args.index("-o"):args.index("-o") + 2]
        res = run(*args, "-o", "json")
        assert res.exit_code == 0, f"{command}\n{res.stderr}"
        doc = json.loads(res.stdout)
        par, gpu, rope = doc["parallelism"], doc["gpu"], doc["serving"]["rope"] or {}
        comment = comment.split("compared with")[0]               # what follows is the layout it is compared with
        claims = {r"\bTP (\d+)": par["tensor"], r"\bPP (\d+)": par["pipeline"], r"\bDCP (\d+)": par["decode_context"],
                  r"\bDP (\d+)": par["data"], r"(\d+) nodes": gpu["nodes"], r"(\d+) x (?!(?:TP|PP|DP|DCP)\b)[A-Z]": gpu["count"],
                  r"^(\d+) GPUs": gpu["count"], r"RoPE x([\d.]+)|YaRN x([\d.]+)": rope.get("factor")}
        for pattern, actual in claims.items():
            for match in re.finditer(pattern, comment):
                said = next(g for g in match.groups() if g)
                assert float(said) == float(actual), f"{command}  # {comment}: {match.group(0)}, the plan {actual}"


def test_a_context_that_does_not_fit_on_eight_nodes_is_not_promised_to_more_gpus() -> None:
    """Before: Qwen3-8B at --context-length 100000000 (the search went up to 8 nodes of H200, 64 GPUs) gave the
    reason "on 64 x H200 at most 51067040 tokens fit (--max-model-len 51067040); more GPUs keep the full context":
    no plan has more than 8 nodes. Now that reason says it is the most kubectl llm plans; below it the tip stays."""
    res = run("plan", MODEL, "--context-length", "100000000", "-o", "json")
    assert res.exit_code == 5
    (reason,) = [r for r in json.loads(res.stdout)["reasons"] if " tokens fit (--max-model-len" in r]
    assert reason.startswith("on 64 x H200 at most ")
    assert reason.endswith("(64 GPUs = 8 nodes, the most kubectl llm plans)") and "more GPUs" not in reason
    one = json.loads(run("plan", MODEL, "--gpu", "A10", "--gpus", "1", "--context-length", "200000", "-o", "json").stdout)
    assert any(r.endswith("; more GPUs keep the full context") for r in one["reasons"])

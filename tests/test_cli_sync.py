"""`export` / `sync`: a folder is the record of a namespace, deletions included (fake API server, real helm).

The issue's scenario: export -> edit one file -> delete another -> add a third -> `sync --dry-run` (the exact change
list, nothing changed) -> `sync --prune` -> the namespace matches the folder; a second sync is a no-op; a foreign
Helm release in the namespace is never touched."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from kubectl_llm import record
from kubectl_llm.errors import UsageError
from tests.cli_harness import cli_cluster, kllm
from tests.fakes.apiserver import FakeApiServer

NS = "llm"


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with cli_cluster(tmp_path, monkeypatch, namespaces=[NS]) as api:
        yield api


def releases(api: FakeApiServer) -> dict[str, tuple[str, int]]:
    """helm list: release -> (chart, revision), straight from the real helm."""
    import os

    out = subprocess.run(["helm", "list", "-n", NS, "-o", "json"], capture_output=True, text=True, check=True,
                         env={**os.environ, **api.env})  # type: ignore[attr-defined]
    return {r["name"]: (r["chart"].rsplit("-", 1)[0], int(r["revision"])) for r in json.loads(out.stdout)}


def foreign_release(api: FakeApiServer, tmp_path: Path) -> None:
    """A Helm release of another chart, installed by someone else."""
    import os

    chart = tmp_path / "foreign"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: foreign\nversion: 1.0.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: foreign-config\ndata:\n  a: b\n")
    subprocess.run(["helm", "install", "someones-app", str(chart), "-n", NS], check=True, capture_output=True,
                   env={**os.environ, **api.env})  # type: ignore[attr-defined]


def test_export_edit_delete_add_then_sync(fake: FakeApiServer, tmp_path: Path) -> None:
    kllm("gateway", "install")
    kllm("add", "Qwen/Qwen3-8B", "--gpu", "L40", "--set", "storage.storageClass=rook-ceph")
    kllm("add", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "A100-40GB", "--name", "llama")
    kllm("add", "--external", "https://llm.sdsc.example.org/v1", "--served-name", "Qwen/Qwen3-235B-A22B-Thinking-2507-FP8",
         "--name", "qwen3-nairr")
    kllm("alias", "qwen3", "--to", "qwen3-8b,qwen3-nairr")
    foreign_release(fake, tmp_path)
    before = releases(fake)
    assert before["someones-app"] == ("foreign", 1)

    # export: one file per release of this tool (the foreign one is not ours), the user layer only.
    folder = tmp_path / "models"
    exported = json.loads(kllm("export", str(folder), "-o", "json").stdout)
    assert sorted(Path(f["file"]).name for f in exported["files"]) == [
        "llama.yaml", "llm-gateway.gateway.yaml", "qwen3-8b.yaml", "qwen3-nairr.yaml", "qwen3.yaml"]
    text = (folder / "qwen3-8b.yaml").read_text()
    assert yaml.safe_load(text) == {"kind": "model", "name": "qwen3-8b", "model": "Qwen/Qwen3-8B",
                                    "flags": {"gpu": "L40"}, "values": {"storage": {"storageClass": "rook-ceph"}}}
    assert "max-model-len" not in text and "engine" not in text          # not the computed plan
    assert yaml.safe_load((folder / "qwen3.yaml").read_text())["values"]["gateway"]["alias"]["backends"][0][
        "name"] == "qwen3-8b"
    snapshot = {p.name: p.read_text() for p in folder.iterdir()}
    again = json.loads(kllm("export", str(folder), "-o", "json").stdout)
    assert {f["action"] for f in again["files"]} == {"unchanged"}
    assert {p.name: p.read_text() for p in folder.iterdir()} == snapshot   # byte-identical: diff-friendly
    assert json.loads(kllm("sync", str(folder), "-o", "json").stdout)["changed"] is False

    # edit one file, delete another, add a third
    doc = yaml.safe_load(text)
    doc["flags"]["context-length"] = 16384
    (folder / "qwen3-8b.yaml").write_text(record.dump(doc))
    (folder / "llama.yaml").unlink()
    (folder / "llama-east.yaml").write_text(
        "kind: model\nname: llama-east\nmodel: meta-llama/Llama-3.1-8B-Instruct\nflags: {gpu: A100-40GB}\nvalues: {}\n")

    dry = kllm("sync", str(folder), "--prune", "--dry-run", "-o", "json", code=8)
    assert [tuple(c.values()) for c in json.loads(dry.stdout)["changes"]] == [
        ("unchanged", "gateway", "llm-gateway"),
        ("add", "model", "llama-east"),
        ("upgrade", "model", "qwen3-8b"),
        ("unchanged", "external", "qwen3-nairr"),
        ("unchanged", "alias", "qwen3"),
        ("remove", "model", "llama"),
    ]
    assert releases(fake) == before                                        # --dry-run changed nothing
    table = kllm("sync", str(folder), "--dry-run", code=8).stdout           # without --prune: nothing removed
    assert "remove" not in table.split("would add")[0] and "not in the folder (kept; --prune removes them): llama" \
        in table

    result = kllm("sync", str(folder), "--prune", "-o", "json", code=8)
    assert json.loads(result.stdout)["changed"] is True
    after = releases(fake)
    assert after == {"llm-gateway": ("llm-gateway", 1), "llama-east": ("llm-model", 1), "qwen3-8b": ("llm-model", 2),
                     "qwen3-nairr": ("llm-model", 1), "qwen3": ("llm-model", 1), "someones-app": ("foreign", 1)}
    assert fake.objects("llm.nrp-nautilus.io/model=llama", namespace=NS) == []
    assert fake.get_object("ConfigMap", "foreign-config", NS) is not None     # never anything we did not install
    dep = fake.get_object("Deployment", "qwen3-8b", NS)
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--max-model-len") + 1] == "16384"                 # the edited flag, re-planned
    assert fake.get_object("PersistentVolumeClaim", "qwen3-8b", NS)["spec"]["storageClassName"] == "rook-ceph"

    # a second sync is a no-op; a fresh export is the folder.
    second = json.loads(kllm("sync", str(folder), "--prune", "-o", "json").stdout)
    assert second["changed"] is False and {c["action"] for c in second["changes"]} == {"unchanged"}
    assert releases(fake) == after
    mirror = tmp_path / "mirror"
    kllm("export", str(mirror))
    assert {p.name: yaml.safe_load(p.read_text()) for p in mirror.iterdir()} == \
        {p.name: yaml.safe_load(p.read_text()) for p in folder.iterdir()}


def test_bad_files_are_refused_with_the_file_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="x.yaml: holds release 'y'"):
        record.parse("x.yaml", "kind: model\nname: y\nmodel: a/b\n")
    with pytest.raises(UsageError, match="a.yaml: unknown key plan"):
        record.parse("a.yaml", "kind: model\nname: a\nmodel: a/b\nplan: {}\n")
    with pytest.raises(UsageError, match="a.yaml: kind 'deployment' is not one of"):
        record.parse("a.yaml", "kind: deployment\nname: a\n")
    with pytest.raises(UsageError, match="a.yaml: an alias record has only values"):
        record.parse("a.yaml", "kind: alias\nname: a\nmodel: x\n")
    assert record.parse("gw.gateway.yaml", "kind: gateway\nname: gw\n") == {"kind": "gateway", "name": "gw",
                                                                           "values": {}}
    changes = record.diff({"a.yaml": {"kind": "alias", "name": "a", "values": {}}},
                          {"b.yaml": {"kind": "model", "name": "b"}, "g.gateway.yaml": {"kind": "gateway",
                                                                                      "name": "g"}}, prune=True)
    assert [(c.action, c.name) for c in changes] == [("add", "a"), ("remove", "b"), ("remove", "g")]


def test_a_record_saved_as_yml_is_refused_not_ignored_and_pruned(fake: FakeApiServer, tmp_path: Path) -> None:
    """Before: sync read *.yaml only, so a record saved as qwen3-8b.yml was ignored without a word, and
    `sync --prune` then removed the release that file describes (its Deployment and weights PVC). Now a *.yml in the
    folder is a usage error naming it, before anything is applied (dot files such as .gitlab-ci.yml are not records)."""
    kllm("add", "Qwen/Qwen3-8B")
    folder = tmp_path / "models"
    kllm("export", str(folder))
    (folder / "qwen3-8b.yaml").rename(folder / "qwen3-8b.yml")
    (folder / ".gitlab-ci.yml").write_text("stages: [sync]\n")
    res = kllm("sync", str(folder), "--prune", code=2)
    assert res.stderr == (f"error: qwen3-8b.yml: sync reads records from *.yaml files only\n"
                          f"hint: rename it to qwen3-8b.yaml, or move it out of {folder}\n")
    assert releases(fake) == {"qwen3-8b": ("llm-model", 1)}
    assert fake.get_object("PersistentVolumeClaim", "qwen3-8b", NS) is not None
    (folder / "qwen3-8b.yml").rename(folder / "qwen3-8b.yaml")
    kllm("sync", str(folder), "--prune")              # renamed back: nothing to change, nothing pruned
    assert releases(fake) == {"qwen3-8b": ("llm-model", 1)}

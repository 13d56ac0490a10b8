"""Docs review (session 8): README, ARCHITECTURE, the chart READMEs and every `--help` checked against the code.

Each test is either a falsehood an admin met reading the docs and running what they say (the docstring says what
they saw before the fix), or a guard that makes a class of drift between the docs and the code fail mechanically.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
import yaml

from kubectl_llm.cli.main import cli
from tests.cli_harness import cli_cluster, kllm

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
ARCHITECTURE = REPO / "ARCHITECTURE.md"


def commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], click.Command]:
    """Every command and group of `kubectl llm`, by its words: {(): cli, ('plan',): ..., ('gateway', 'install'): ...}."""
    found: dict[tuple[str, ...], click.Command] = {path: group}
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found.update(commands(command, (*path, name)))
        else:
            found[(*path, name)] = command
    return found


def option_names(command: click.Command) -> set[str]:
    return {o for p in command.get_params(click.Context(command)) for o in (*p.opts, *p.secondary_opts)}


def help_text(command: click.Command, path: tuple[str, ...]) -> str:
    parent = click.Context(cli, info_name="kubectl llm")
    for word in path[:-1]:
        parent = click.Context(commands()[path[:path.index(word) + 1]], info_name=word, parent=parent)
    return command.get_help(click.Context(command, info_name=path[-1] if path else "kubectl llm", parent=parent))


# --- list -o json of aliases and external backends ----------------------------------------------------------------
def test_list_json_gives_an_alias_no_model_and_a_release_without_pods_no_node_count(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """README: `list -o json` has `null` where a value does not apply. Before, an alias's row said
    `"model": "Qwen/Qwen3-8B"` whatever it routed to (the chart's default model.id, which its computed values hold;
    `status ALIAS -o json` already said null), and every alias / external row said `"gpu": {"nodes": 1, ...}`
    with no GPU at all. Now the alias's model and a podless release's node count are null, as the other GPU keys."""
    with cli_cluster(tmp_path, monkeypatch, namespace="nrp-llm"):
        kllm("add", "--external", "https://llm.example.org/v1", "--served-name", "meta-llama/Llama-3.3-70B-Instruct",
             "--name", "llama-far")
        kllm("add", "Qwen/Qwen3-8B", "--gpu", "L40")
        kllm("alias", "llama", "--to", "llama-far")
        rows = {r["name"]: r for r in json.loads(kllm("list", "-o", "json").stdout)}
        status = json.loads(kllm("status", "llama", "-o", "json").stdout)
    none = {"type": None, "count": None, "nodes": None, "per_node": None}
    assert (rows["llama"]["kind"], rows["llama"]["model"], rows["llama"]["gpu"]) == ("alias", None, none)
    assert rows["llama"]["model"] == status["model"]
    assert rows["llama-far"]["model"] == "meta-llama/Llama-3.3-70B-Instruct" and rows["llama-far"]["gpu"] == none
    # a model keeps its numbers: 1 x L40 on one node
    assert rows["qwen3-8b"]["gpu"] == {"type": "L40", "count": 1, "nodes": 1, "per_node": 1}


# --- guards: what the docs name exists ------------------------------------------------------------------------------
DOCS = (README, ARCHITECTURE, REPO / "charts" / "llm-model" / "README.md", REPO / "charts" / "llm-gateway" / "README.md")
# `kubectl llm WORDS [ARGS]` up to the end of a code span, a comment or the line
COMMAND_LINE = re.compile(r"kubectl llm ((?:[^\n`#|;)]|\\\n)*)")


def command_lines(text: str) -> list[str]:
    return [m.group(1).replace("\\\n", " ") for m in COMMAND_LINE.finditer(text)]


def resolve(line: str) -> tuple[tuple[str, ...], click.Command | None, list[str]]:
    """('gateway', 'install'), its command and the words after it; (), None when the first word is no command."""
    every = commands()
    words, path = line.split(), ()
    while words and (*path, words[0]) in every:
        path = (*path, words.pop(0))
    return path, every[path] if path else None, words


def flags_of(words: list[str]) -> list[str]:
    """The options a command line passes: --flag, --flag=value, -x (not a model id such as meta-llama/...)."""
    return [w.split("=")[0] for w in words if re.fullmatch(r"--?[a-zA-Z][\w-]*(=.*)?", w) and w != "-"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_kubectl_llm_command_line_of_the_docs_names_a_command_and_its_flags(doc: Path) -> None:
    """A guard: each `kubectl llm CMD ...` the docs show (code blocks and inline) names an existing command, and
    each flag it passes is one of that command's (or the group's --debug). Catches a renamed or removed flag, or a
    flag shown on a command that does not take it."""
    bad = []
    lines = command_lines(doc.read_text())
    assert len(lines) >= (60 if doc == README else 1)
    for line in lines:
        if line.startswith(("<TAB>", "...", "ARGS", "CMD")):
            continue
        path, command, words = resolve(line)
        if command is None or isinstance(command, click.Group) and path and not words[:1] == ["--help"]:
            if not (path == () or words and words[0].startswith("<")):
                bad.append(f"{line!r}: no such command")
            continue
        known = option_names(command) | {"--debug", "-h", "--help"}
        bad += [f"{line!r}: {' '.join(path)} has no {flag}" for flag in flags_of(words) if flag not in known]
    assert not bad, "\n".join(bad)


def test_every_command_help_says_what_it_does_and_shows_runnable_examples() -> None:
    """A guard: every command and group's --help has a one-line summary and an Examples section with an example of
    that command, and each example names a command with flags it takes. Before, `gateway install`, `gateway uninstall`
    and `version` had no example."""
    bad = []
    for path, command in commands().items():
        text = help_text(command, path)
        if not (command.help or "").strip():
            bad.append(f"{' '.join(path)}: no summary")
        if "Examples:" not in text:
            bad.append(f"{' '.join(path) or 'kubectl llm'}: no Examples")
            continue
        examples = text.split("Examples:", 1)[1].split("\n\n")[0]
        lines = command_lines(examples)
        if not any(resolve(line)[0][:len(path)] == path for line in lines):
            bad.append(f"{' '.join(path) or 'kubectl llm'}: no example of the command itself")
        for line in lines:
            got, example, words = resolve(line)
            if example is None:
                bad.append(f"{' '.join(path)}: example {line!r} names no command")
                continue
            known = option_names(example) | {"--debug"}
            bad += [f"{' '.join(path)}: example {line!r} passes {flag}, which it does not take"
                    for flag in flags_of(words) if flag not in known]
    assert not bad, "\n".join(bad)


def test_the_commands_said_to_take_site_are_those_that_take_it() -> None:
    """README and `site --help` list the commands that take --site. Before, both said "plan, add, upgrade, gpus,
    gateway install, chatbox": `gateway upgrade` and `alias` (whose route attaches to the site's Gateway) take it
    too, so an admin of another site believed an alias could only attach to NRP's Gateway."""
    taking = {" ".join(p) for p, c in commands().items() if "--site" in option_names(c)} - {"site show"}
    readme = README.read_text()
    listed = re.search(r"pass it with `--site FILE` \(([^)]*)\)", readme)
    assert listed, "README's --site sentence moved"
    assert set(listed.group(1).split(", ")) == taking
    site_help = " ".join(help_text(commands()[("site",)], ("site",)).split())
    said = re.search(r"errors\)\. (.*) take --site too", site_help)
    assert said, site_help
    assert set(re.split(r", | and ", said.group(1))) == taking


def test_the_evidence_counts_the_docs_give_are_the_data_files() -> None:
    """A guard: README and ARCHITECTURE count the start-up logs the memory model is checked on. Before, README said
    32 (the rows of tests/data/vllm_overhead_observed.yaml) and ARCHITECTURE still 31, and ARCHITECTURE said 12
    SGLang logs were rejected where sglang_observed.yaml lists 16; a row added without the docs now fails here."""
    vllm = yaml.safe_load((REPO / "tests" / "data" / "vllm_overhead_observed.yaml").read_text())
    sglang = yaml.safe_load((REPO / "tests" / "data" / "sglang_observed.yaml").read_text())
    readme, arch = (" ".join(p.read_text().split()) for p in (README, ARCHITECTURE))
    rows = len(vllm["observations"])
    assert re.findall(r"against (\d+) start-up logs", readme) == [str(rows)]
    assert re.findall(r"(\d+) real start-up logs", arch) == [str(rows)]
    failed = sum(1 for o in sglang["observations"] if o.get("outcome", "ok") != "ok")
    assert re.findall(r"holds (\d+) SGLang start-up logs \((\d+) started, (\d+) failed\)", arch) == [
        (str(len(sglang["observations"])), str(len(sglang["observations"]) - failed), str(failed))]
    assert re.findall(r"\(and (\d+) rejected, each with why\)", arch) == [str(len(sglang["not_used"]))]
    recipes = yaml.safe_load((REPO / "tests" / "data" / "recipes_repo_families.yaml").read_text())
    assert len(recipes["recipes"]) == recipes["found"]
    assert re.findall(r"\((\d+) of the (\d+) files the code index lists\)", readme) == [
        (str(recipes["found"]), str(recipes["listed_by_index"]))]


def test_every_test_and_repository_path_the_docs_name_exists() -> None:
    """A guard: README and ARCHITECTURE point at tests by name (`test_sampler_term_follows_vllms_dummy_sampler_run`)
    and at files by path (`kubectl_llm/sites/site.schema.json`, `../shared/notes/...`). A renamed test or a moved
    file leaves the pointer dangling (ARCHITECTURE named `notes/vllm-memory-model.md`, which the repository has
    never had); now each one must exist (a path with * must match a file)."""
    test_files = {p.stem for p in (REPO / "tests").rglob("test_*.py")}
    defined = set(re.findall(r"def (test_\w+)", "\n".join(p.read_text() for p in (REPO / "tests").rglob("*.py"))))
    roots = ("kubectl_llm/", "tests/", "charts/", "scripts/", "benchmarks/", "packaging/", "plugins/", "notes/", "docs/",
             "../shared/")
    bad = []
    for doc in (README, ARCHITECTURE):
        text = doc.read_text()
        for name in set(re.findall(r"\btest_[a-z0-9_]*[a-z0-9]\b", text)) - test_files - defined - {"test_cmd"}:
            bad.append(f"{doc.name}: no test {name}")
        for span in set(re.findall(r"`([^`\s]+)`", text)):
            path = re.split(r"::|@", span)[0].rstrip(".,:")
            if not path.startswith(roots) or "<" in path or "{" in path:
                continue
            if not (list(REPO.glob(path)) if "*" in path else (REPO / path).exists()):
                if not (path.startswith("../shared/") and not (REPO.parent / "shared").exists()):
                    bad.append(f"{doc.name}: no {path}")
    assert not bad, "\n".join(sorted(bad))


def test_the_keys_readme_gives_add_are_those_of_upgrade_alias_and_gateway_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A guard: README says `add`, `upgrade`, `alias` and `gateway install -o json` share the keys name, namespace,
    chart, action, revision, objects (test_review_sglang_and_docs checks add's); here the other three, and the
    `kept` list README names for `rm --keep-cache -o json`."""
    from tests.test_review_sglang_and_docs import _documented

    keys = set(_documented("`add`, `upgrade`, `alias`"))
    assert keys == {"name", "namespace", "chart", "action", "revision", "objects"}
    with cli_cluster(tmp_path, monkeypatch, namespace="nrp-llm"):
        docs = {"gateway install": json.loads(kllm("gateway", "install", "-o", "json").stdout),
                "add": json.loads(kllm("add", "Qwen/Qwen3-8B", "--gpu", "L40", "-o", "json").stdout),
                "upgrade": json.loads(kllm("upgrade", "qwen3-8b", "--gpus", "2", "-o", "json").stdout),
                "alias": json.loads(kllm("alias", "qwen3", "--to", "qwen3-8b", "-o", "json").stdout)}
        removed = json.loads(kllm("rm", "qwen3-8b", "--keep-cache", "-o", "json").stdout)
    for command, doc in docs.items():
        assert set(doc) == keys, command
    assert [d["action"] for d in docs.values()] == ["installed", "installed", "upgraded", "installed"]
    assert removed["kept"] == ["PersistentVolumeClaim/qwen3-8b"]


def test_architecture_names_every_module() -> None:
    """A guard: ARCHITECTURE is where a new developer finds a module's job. Every module of the package (but
    __init__ / __main__ and the catalog's builder) is named in it as a module (`x.py`, `x.attr`, `{a,x}`, `x`):
    before, `planner/quantity.py` (the size parser behind --gpu-memory) was not."""
    arch = ARCHITECTURE.read_text()

    def named(stem: str) -> bool:
        return re.search(rf"(?:[`/{{,]|\b){re.escape(stem)}(?:\.py\b|[`,}}]|\.\w)", arch) is not None

    missing = [str(p.relative_to(REPO)) for p in sorted((REPO / "kubectl_llm").rglob("*.py"))
               if not p.stem.startswith("__") and "catalog" not in p.parts and not named(p.stem)]
    assert not missing, missing


# `gpu.memory` is the node label nvidia.com/gpu.memory, not a plan field or chart value
NOT_OURS = {"gpu.memory"}


def test_every_json_field_and_value_key_readme_names_exists() -> None:
    """A guard: README names plan fields (`serving.mem_fraction_static`, `memory.margin_bytes`, ...) and chart
    values (`storage.keep`, `engine.hfTokenSecret`, ...) by their dotted path. Each must be a key of a plan's
    `-o json` (vLLM or SGLang), of a chart's values.schema.json or of the site schema, so a renamed field or value
    fails here instead of leaving README pointing at nothing."""
    from click.testing import CliRunner

    plans = [json.loads(CliRunner().invoke(cli, ["plan", "Qwen/Qwen3-8B", *extra, "-o", "json"]).stdout)
             for extra in ([], ["--engine", "sglang"])]
    schemas = [json.loads((REPO / "charts" / c / "values.schema.json").read_text()) for c in ("llm-model", "llm-gateway")]
    schemas.append(json.loads((REPO / "kubectl_llm" / "sites" / "site.schema.json").read_text()))

    def in_doc(doc: object, path: list[str]) -> bool:
        for key in path:
            if not isinstance(doc, dict) or key not in doc:
                return False
            doc = doc[key]
        return True

    def in_schema(schema: dict, path: list[str]) -> bool:
        for key in path:
            props = schema.get("properties") or {}
            if key in props:
                schema = props[key]
            elif isinstance(schema.get("additionalProperties"), dict):
                schema = schema["additionalProperties"]
            else:
                return False
        return True

    # what starts like one of ours: a plan's top-level key or a top-level key of a schema (not `status.readyReplicas`,
    # `valueFrom.secretKeyRef`, `importlib.metadata`, ...)
    ours = {k for p in plans for k in p} | {k for s in schemas for k in s.get("properties", {})}
    named = {t for t in re.findall(r"`([a-z][A-Za-z_]*(?:\.[A-Za-z_]\w*)+)(?:[=:][^`]*)?`", README.read_text())
             if t.split(".")[0] in ours}
    suffixes = ("py", "yaml", "json", "md", "sh", "jinja", "tpl", "txt")          # file names: gpus.yaml
    unknown = sorted(t for t in named - NOT_OURS if t.split(".")[-1] not in suffixes
                     and not any(in_doc(p, t.split(".")) for p in plans)
                     and not any(in_schema(s, t.split(".")) for s in schemas))
    assert len(named) > 20 and not unknown, unknown


def test_replicas_help_says_what_the_plan_does_with_their_weights(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `--replicas` help said "a one-node plan's copies share its weights PVC, so across nodes it must be
    ReadWriteMany" after the planner had moved on: on ReadWriteOnce storage (NRP's default class) `--replicas 3`
    renders a StatefulSet with a claim per copy, and copies share one claim only on a ReadWriteMany class."""
    from tests.cli_harness import offline_dry_run_env, render_dry_run

    text = " ".join(help_text(commands()[("add",)], ("add",)).split())
    assert "must be ReadWriteMany" not in text
    assert ("On ReadWriteOnce storage each copy gets its own weights claim (a StatefulSet); on a ReadWriteMany class "
            "(storage.accessMode, or the site's sharedStorageClass) the copies share one (a Deployment).") in text
    offline_dry_run_env(monkeypatch, tmp_path)
    own = render_dry_run("Qwen/Qwen3-8B", "--gpu", "L40", "--replicas", "3")
    assert own["StatefulSet"]["spec"]["replicas"] == 3 and "Deployment" not in own
    assert len(own["StatefulSet"]["spec"]["volumeClaimTemplates"]) == 1
    shared = render_dry_run("Qwen/Qwen3-8B", "--gpu", "L40", "--replicas", "3", "--set",
                            "storage.storageClass=rook-cephfs,storage.accessMode=ReadWriteMany")
    assert shared["Deployment"]["spec"]["replicas"] == 3 and "StatefulSet" not in shared
    assert shared["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]


def test_a_planned_value_in_a_sync_file_is_told_where_the_flag_goes(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `values: {gpu: {count: 4}}` in a file `sync` reads was refused with the command line's hint, "for
    gpu.count use --gpus N": a file has no command line, and README's export sample shows plan flags as keys of
    `flags:`. Now the hint says so, with the spelling a file takes (flags: {gpus: 4}), and that spelling syncs."""
    folder = tmp_path / "models"
    folder.mkdir()
    record = "kind: model\nname: q\nmodel: Qwen/Qwen3-8B\nflags:\n  gpu: L40\nvalues: {gpu: {count: 4}}\n"
    (folder / "q.yaml").write_text(record)
    with cli_cluster(tmp_path, monkeypatch, namespace="nrp-llm"):
        res = kllm("sync", str(folder), "--dry-run", code=2)
        error, hint = res.stderr.splitlines()
        assert error.startswith("error: q.yaml: values: gpu.count is planned")
        assert hint == ("hint: for gpu.count use --gpus N (the CPU, memory, tolerations and parallel sizes follow the "
                        "GPU count); in q.yaml a plan flag goes under flags: without its dashes (--gpus 4 is "
                        "flags: {gpus: 4})")
        (folder / "q.yaml").write_text(record.replace("values: {gpu: {count: 4}}", "values: {}").replace(
            "  gpu: L40\n", "  gpu: L40\n  gpus: 4\n"))
        kllm("sync", str(folder), code=8)
        rows = json.loads(kllm("list", "-o", "json").stdout)
    assert [(r["name"], r["gpu"]["count"]) for r in rows] == [("q", 4)]

"""Day-2 SEQUENCES, model-based: hypothesis' stateful testing drives the real CLI (real helm, fake API server)
through generated command sequences and checks, after every step, the cluster against a small reference model of
what the admin asked for.

Earlier reviews tested day-2 commands one step at a time (test_review_day2.py, test_cli_user_layer.py,
test_cli_day2.py); the defects left were in the order of steps: a site profile changed between an rm --keep-cache
and the next add, an upgrade from a shell whose $KUBECTL_LLM_SITE differs from the site the model was added for, a
rollback followed by an upgrade, ...

The reference model (``Release``) holds per release what the admin asked for: the plan flags given and not
forgotten, the -f/--set overrides, the site the release is planned for, the revision history (each revision's
user layer, so a rollback's outcome is known), and the weights claim (uid and storage class). The rules are
commands: add (flags, --set, --site or $KUBECTL_LLM_SITE), upgrade (new flags, --set k=null, --forget, --reset-values),
rollback (undo / a given revision), rm [--keep-cache], sync of a model file, alias add / rm, gateway install,
and edits of a site profile between commands (its storageClass / priorityClassName).

What is right, decided here (and in README's day-2 section):
- a release is planned for the site it was added for: the --site given, else the profile found in $KUBECTL_LLM_SITE
  (both recorded as flags.site), else the built-in one; an upgrade or the same add from a shell with another
  $KUBECTL_LLM_SITE does not move it (only --site, --forget site or --reset-values do);
- rollback restores the target revision's user layer too (it is a value of the release, and the next upgrade
  re-plans from it: what was rolled away from is not re-applied);
- a weights claim keeps its storage class for life, a kept (--keep-cache) claim adopted by a later add included.

The defects found, minimised to plain regression tests: tests/test_review_day2_sequences.py.

Invariants after every step (``check``): no exit 70 / traceback; the exit code the model expects; the stored user
layer is the model's; the Deployment's args / replicas / priority class / route parentRef are what the flags and
the site ask for; ``list -o json`` and ``status -o json`` agree with the cluster's objects; after rm nothing
labelled with the model is left but a kept claim; a claim's uid and storage class never change while it exists.

Seeds are fixed (derandomize) and the run is capped (EXAMPLES sequences x STEPS steps, 10 x 6 by default; more with
$LLM_SEQ_EXAMPLES / $LLM_SEQ_STEPS, and LLM_SEQ_VERBOSE=1 prints the sequences and the seconds per command).
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

hypothesis = pytest.importorskip("hypothesis", reason="pip install -e '.[test]' (hypothesis is in the test extra)")
from hypothesis import HealthCheck, settings, strategies as st  # noqa: E402
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition,  # noqa: E402
                                 rule, run_state_machine_as_test)

from kubectl_llm.cli.main import cli  # noqa: E402
from tests.fakes.apiserver import FakeApiServer  # noqa: E402
from tests.test_cli_lifecycle import flag_value  # noqa: E402 - args of the rendered pod, '--flag v' or '--flag=v'
from tests.test_review_day2_sequences import seq_fake  # noqa: E402,F401 - the fixture, used by name

MODEL = "Qwen/Qwen3-8B"                  # in the embedded catalog: plans with no Hub
NAMES = ("qwen3-8b", "qwen3-b")          # two release slots (the second with --name)
ALIAS = "qwen3"
LABEL = "llm.nrp-nautilus.io/model"
EXAMPLES = int(os.environ.get("LLM_SEQ_EXAMPLES", "10"))
STEPS = int(os.environ.get("LLM_SEQ_STEPS", "6"))

# The sites: the built-in one (NRP's profile) and two site files the sequences edit between commands.
BUILTIN = {"storageClass": "linstor-igrok", "priorityClassName": "owner", "gateway": "envoy-ai-gateway-nrp"}
SITE_FILES = {"a": {"storageClass": "linstor-unl", "priorityClassName": ""},
              "b": {"storageClass": "standard", "priorityClassName": "owner"}}
SITE_GATEWAY = "envoy-ai-gateway"        # a site file without gateway: the cluster-neutral default parentRef

# Plan flags the sequences use: parameter name -> (CLI flag, values). Stored as click converts them.
FLAGS = {"gpu": ("--gpu", ("L40", "A100-80GB")),
         "context_length": ("--context-length", (8192, 16384)),
         "max_model_len": ("--max-model-len", (12288,)),
         "max_num_seqs": ("--max-num-seqs", (64, 128)),
         "replicas": ("--replicas", (1,))}   # > 1 on these sites is a StatefulSet (claim per replica): not modelled
FLAG_SPELLING = {"gpu": "gpu", "context_length": "context-length", "max_model_len": "max-model-len",
                 "max_num_seqs": "max-num-seqs", "replicas": "replicas", "site": "site"}
EXCLUSIVE = {"context_length": "max_model_len", "max_model_len": "context_length"}
# --set overrides (none planner-owned); None = key=null (forget it).
SETS = {"podLabels.team": ("red", "blue"), "gateway.timeout": ("600s",)}

_counter = itertools.count(1)
TIMES: dict[str, float] = {}   # seconds per command, printed with LLM_SEQ_VERBOSE


@dataclass
class Layer:
    flags: dict[str, Any] = field(default_factory=dict)    # parameter name -> value
    values: dict[str, Any] = field(default_factory=dict)
    site: str | None = None          # the site the release is planned for: "a", "b" or None (built-in)

    def stored(self, site_paths: dict[str, str]) -> dict[str, Any]:
        flags = {FLAG_SPELLING[k]: v for k, v in sorted(self.flags.items())}
        if "site" in self.flags:
            flags["site"] = site_paths[self.flags["site"]]
        return {"model": MODEL, "flags": dict(sorted(flags.items())), "values": copy.deepcopy(self.values)}


@dataclass
class Release:
    layer: Layer
    revision: int
    history: dict[int, tuple[Layer, dict[str, str]]]   # revision -> (its layer, its site's facts then)
    claim: tuple[str, str] | None = None         # (uid, storageClass) of the weights claim
    facts: dict[str, str] = field(default_factory=dict)   # what its site said at its last deploy (no class)


def set_path(values: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """Helm's --set on a copy; value None forgets the key (and maps left empty)."""
    out = copy.deepcopy(values)
    keys = dotted.split(".")
    node = out
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    if value is None:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value

    def prune(d: dict[str, Any]) -> dict[str, Any]:
        return {k: prune(v) if isinstance(v, dict) else v for k, v in d.items()
                if not (isinstance(v, dict) and not prune(v))}
    return prune(out)




flag_choice = st.sampled_from(sorted(FLAGS)).flatmap(
    lambda p: st.tuples(st.just(p), st.sampled_from(FLAGS[p][1])))
flag_sets = st.lists(flag_choice, max_size=2, unique_by=lambda t: t[0])
set_choice = st.sampled_from(sorted(SETS)).flatmap(
    lambda k: st.tuples(st.just(k), st.sampled_from((*SETS[k], None))))
set_lists = st.lists(set_choice, max_size=1)
site_via = st.sampled_from(("none", "flag-a", "flag-b", "env"))


class Day2Sequences(RuleBasedStateMachine):
    fake: FakeApiServer
    base: Path

    def __init__(self) -> None:
        super().__init__()
        self.ns = f"seq-{next(_counter)}"
        self.fake.create_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.ns}})
        self.dir = self.base / self.ns
        self.dir.mkdir()
        self.site_paths = {s: str(self.dir / f"site-{s}.yaml") for s in SITE_FILES}
        self.site_docs = copy.deepcopy(SITE_FILES)
        for s in SITE_FILES:
            self.write_site(s)
        self.env_site: str | None = None           # $KUBECTL_LLM_SITE: "a", "b" or unset
        self.releases: dict[str, Release] = {}
        self.kept: dict[str, tuple[str, str]] = {}  # claims rm --keep-cache left: name -> (uid, class)
        self.aliases: dict[str, list[str]] = {}
        self.gateway_site: str | None | bool = False  # False: no gateway; else the site it was installed for
        self.log: list[str] = []
        self.touched: set[str] = set()              # releases this step changed (status read for them)
        self.changed = True                          # a command ran since the last check

    # ---- plumbing -------------------------------------------------------------------------------------------
    def write_site(self, s: str) -> None:
        doc = {"name": f"site-{s}", **self.site_docs[s]}
        Path(self.site_paths[s]).write_text(yaml.safe_dump(doc))

    def site_facts(self, site: str | None) -> dict[str, str]:
        if site is None:
            return BUILTIN
        return {**self.site_docs[site], "gateway": SITE_GATEWAY}

    def run(self, *args: str, code: int | tuple[int, ...] = 0, env_site: str | None = None) -> Any:
        env = {"KUBECTL_LLM_SITE": self.site_paths[self.env_site] if self.env_site else None}
        started = time.monotonic()
        result = CliRunner().invoke(cli, [*args, "-n", self.ns], env=env)
        TIMES[args[0]] = TIMES.get(args[0], 0.0) + time.monotonic() - started
        shown = f"kubectl llm {' '.join(args)}" + (f"   [$KUBECTL_LLM_SITE=site-{self.env_site}]"
                                                   if self.env_site else "")
        self.log.append(f"{shown} -> {result.exit_code}")
        if args[0] not in ("list", "status"):
            self.changed = True
        codes = (code,) if isinstance(code, int) else code
        assert "Traceback" not in result.stderr, f"{shown}\n{result.stderr}"
        assert result.exit_code != 70, f"{shown}\n{result.stderr}\n{result.exception!r}"
        assert result.exit_code in codes, (f"{shown} -> {result.exit_code}, expected {codes}\n"
                                           f"stdout: {result.stdout}\nstderr: {result.stderr}\n"
                                           + "\n".join(self.log))
        return result

    def helm_json(self, *args: str) -> Any:
        started = time.monotonic()
        try:
            return self._helm_json(*args)
        finally:
            TIMES["helm " + args[0]] = TIMES.get("helm " + args[0], 0.0) + time.monotonic() - started

    def _helm_json(self, *args: str) -> Any:
        done = subprocess.run(["helm", *args, "-n", self.ns, "-o", "json"], capture_output=True, text=True,
                              check=True)
        return json.loads(done.stdout or "null")

    def claim(self, name: str) -> tuple[str, str] | None:
        pvc = self.fake.get_object("PersistentVolumeClaim", name, self.ns)
        if pvc is None:
            return None
        return pvc["metadata"]["uid"], pvc["spec"].get("storageClassName") or ""

    def fail(self, message: str) -> None:
        raise AssertionError(message + "\nsequence:\n  " + "\n  ".join(self.log))

    def facts(self, layer: Layer) -> dict[str, str]:
        """What a deploy renders from the release's site (a claim's class never changes: not counted)."""
        return {k: v for k, v in self.site_facts(layer.site).items() if k != "storageClass"}

    def expect_deployed(self, name: str, before: Release | None, layer: Layer, result: Any) -> None:
        """After an add/upgrade/sync that succeeded: the new layer, the revision it made (or not)."""
        doc = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
        same = before is not None and before.layer == layer and before.facts == self.facts(layer)
        self.touched.add(name)
        rev = doc["revision"] if doc else self.helm_json("history", name)[-1]["revision"]
        if before is None:
            claim = self.kept.pop(name, None)
            rel = Release(layer, rev, {rev: (copy.deepcopy(layer), self.facts(layer))}, claim, self.facts(layer))
            self.releases[name] = rel
            return
        if same and rev != before.revision:
            self.fail(f"{name}: nothing new asked (same layer {layer}), yet revision {before.revision} -> {rev}")
        if before.layer != layer and rev == before.revision:
            self.fail(f"{name}: the layer changed ({before.layer} -> {layer}), yet no new revision")
        before.layer = copy.deepcopy(layer)
        before.revision = rev
        before.facts = self.facts(layer)
        before.history[rev] = (copy.deepcopy(layer), before.facts)

    # ---- rules ----------------------------------------------------------------------------------------------
    @initialize(flags=flag_sets, sets=set_lists, via=site_via)
    def first_add(self, flags: list[tuple[str, Any]], sets: list[tuple[str, Any]], via: str) -> None:
        self.add(NAMES[0], flags, sets, via, None)

    @rule(slot=st.sampled_from(NAMES), flags=flag_sets, sets=set_lists, via=site_via,
          storage=st.sampled_from((None, None, "linstor-unl")))
    def add(self, slot: str, flags: list[tuple[str, Any]], sets: list[tuple[str, Any]], via: str,
            storage: str | None) -> None:
        if any(k == "context_length" for k, _ in flags) and any(k == "max_model_len" for k, _ in flags):
            flags = [f for f in flags if f[0] != "max_model_len"]
        args = ["add", MODEL, "-o", "json"] + (["--name", slot] if slot != NAMES[0] else [])
        layer = Layer()
        for k, v in flags:
            args += [FLAGS[k][0], str(v)]
            layer.flags[k] = v
        for key, v in sets:
            if v is None:
                continue   # an add's null sets nothing
            args += ["--set", f"{key}={v}"]
            layer.values = set_path(layer.values, key, v)
        if storage:
            args += ["--set", f"storage.storageClass={storage}"]
            layer.values = set_path(layer.values, "storage.storageClass", storage)
        saved_env = self.env_site
        if via.startswith("flag-"):
            args += ["--site", self.site_paths[via[-1]]]
            layer.flags["site"] = via[-1]
        elif via == "env":
            self.env_site = self.env_site or "a"
        if "site" not in layer.flags and self.env_site:
            layer.flags["site"] = self.env_site          # the site in effect is recorded
        layer.site = layer.flags.get("site")
        before = self.releases.get(slot)
        # A claim (live or kept) keeps its class: the model only names the class a new claim gets.
        existing = before.claim if before else self.kept.get(slot)
        wants = storage or self.site_facts(layer.site)["storageClass"]
        if storage and existing and existing[1] != storage:
            # the user's own --set names another class than the claim has: refused (a kept claim: before helm,
            # exit 2; a live release's: the API refuses, exit 6, and the upgrade is rolled back), nothing changes
            self.run(*args, code=(2, 6))
            self.env_site = saved_env
            if before is not None:   # a failed revision and the rollback's, which holds the layer as it was
                rev = self.helm_json("history", slot)[-1]["revision"]
                if rev != before.revision:
                    before.revision = rev
                    before.history[rev] = (copy.deepcopy(before.layer), dict(before.facts))
            return
        result = self.run(*args)
        self.expect_deployed(slot, before, layer, result)
        rel = self.releases[slot]
        if rel.claim is None:
            rel.claim = (self.claim(slot) or ("?", ""))[0], wants
        self.env_site = saved_env

    @precondition(lambda self: self.releases)
    @rule(data=st.data(), flags=flag_sets, sets=set_lists, forget=st.booleans(), reset=st.booleans(),
          via=st.sampled_from(("none", "none", "flag-a", "flag-b")))
    def upgrade(self, data: st.DataObject, flags: list[tuple[str, Any]], sets: list[tuple[str, Any]],
                forget: bool, reset: bool, via: str) -> None:
        name = data.draw(st.sampled_from(sorted(self.releases)))
        rel = self.releases[name]
        args = ["upgrade", name, "-o", "json"]
        if any(k == "context_length" for k, _ in flags) and any(k == "max_model_len" for k, _ in flags):
            flags = [f for f in flags if f[0] != "max_model_len"]
        given = dict(flags)
        if via.startswith("flag-"):
            given["site"] = via[-1]
        forgotten: list[str] = []
        if forget and not reset:
            candidates = sorted(k for k in rel.layer.flags if k not in given)
            if candidates:
                forgotten = [data.draw(st.sampled_from(candidates))]
        for k, v in flags:
            args += [FLAGS[k][0], str(v)]
        if "site" in given:
            args += ["--site", self.site_paths[given["site"]]]
        for k in forgotten:
            args += ["--forget", FLAG_SPELLING[k]]
        if reset:
            args.append("--reset-values")
        values = {} if reset else copy.deepcopy(rel.layer.values)
        refused = False
        for key, v in sets:
            stored = values.get(key.split(".")[0], {}).get(key.split(".")[1]) is not None
            if v is None and not stored:
                if key != "podLabels.team":
                    continue
                # null for a key neither stored nor in values.yaml stays a null (Helm's delete), which the
                # chart's schema refuses, as helm itself does: exit 2, nothing changes
                refused = True
            args += ["--set", f"{key}={'null' if v is None else v}"]
            values = set_path(values, key, v)
        if reset:
            new_flags = dict(given)
        else:
            new_flags = {k: v for k, v in rel.layer.flags.items() if k not in forgotten}
            for k, v in given.items():
                new_flags.pop(EXCLUSIVE.get(k, ""), None)
                new_flags[k] = v
        if (reset or "site" in forgotten) and "site" not in new_flags and self.env_site:
            new_flags["site"] = self.env_site
        layer = Layer(new_flags, values, new_flags.get("site"))
        if refused:
            assert "podLabels.team: None is not of type 'string'" in self.run(*args, code=2).stderr
            return
        self.expect_deployed(name, rel, layer, self.run(*args))

    @precondition(lambda self: self.releases)
    @rule(data=st.data(), flags=flag_sets, sets=set_lists, forget=st.booleans(), reset=st.just(False),
          via=st.just("none"))
    def upgrade_again(self, data: st.DataObject, flags: list[tuple[str, Any]], sets: list[tuple[str, Any]],
                      forget: bool, reset: bool, via: str) -> None:
        """upgrade is the day-2 command: drawn twice as often (without --reset-values or --site here)."""
        self.upgrade(data, flags, sets, forget, reset, via)

    @precondition(lambda self: any(r.revision > 1 for r in self.releases.values()))
    @rule(data=st.data(), explicit=st.booleans())
    def rollback(self, data: st.DataObject, explicit: bool) -> None:
        name = data.draw(st.sampled_from(sorted(n for n, r in self.releases.items() if r.revision > 1)))
        rel = self.releases[name]
        revs = sorted(rel.history)
        args = ["rollback", name, "-o", "json"]
        if explicit:
            target = data.draw(st.sampled_from(revs))
            args.insert(2, str(target))
        else:
            # undo: the newest earlier revision that did not fail (failed ones are not in rel.history) and differs
            # from what runs now (the model's equality of values, as add's "unchanged"), within helm's 10 kept
            current = rel.history.get(rel.revision)
            target = next((r for r in range(rel.revision - 1, max(rel.revision - 10, 0), -1)
                           if r in rel.history and rel.history[r] != current), 0)
            if target == 0:
                self.run(*args, code=2)      # nothing to undo to: refused, no new revision
                return
        if target not in rel.history:   # a failed revision (helm would re-apply what failed): not modelled
            return
        doc = json.loads(self.run(*args).stdout)
        assert doc["rolled_back_to"] == target
        self.touched.add(name)
        rel.revision = doc["revision"]
        layer, facts = rel.history[target]   # the target revision's values, as rendered then
        rel.layer, rel.facts = copy.deepcopy(layer), dict(facts)
        rel.history[rel.revision] = (copy.deepcopy(layer), dict(facts))

    @precondition(lambda self: self.releases)
    @rule(data=st.data(), keep=st.booleans())
    def rm(self, data: st.DataObject, keep: bool) -> None:
        name = data.draw(st.sampled_from(sorted(self.releases)))
        rel = self.releases.pop(name)
        result = self.run("rm", name, *(["--keep-cache"] if keep else []), "-o", "json")
        pointing = [a for a, targets in self.aliases.items() if name in targets]
        if pointing:
            assert all(a in result.stderr for a in pointing), result.stderr
        if keep and rel.claim:
            self.kept[name] = rel.claim
        else:
            self.kept.pop(name, None)

    @precondition(lambda self: self.releases or self.kept)
    @rule(site=st.sampled_from(sorted(SITE_FILES)), key=st.sampled_from(("storageClass", "priorityClassName")))
    def edit_site(self, site: str, key: str) -> None:
        """The admin edits a site profile between commands (another class for new claims, no priority class)."""
        options = {"storageClass": ("linstor-unl", "standard", "linstor-igrok"), "priorityClassName": ("", "owner")}
        doc = self.site_docs[site]
        choices = [o for o in options[key] if o != doc[key]]
        doc[key] = choices[len(self.log) % len(choices)]
        self.write_site(site)
        self.log.append(f"# site-{site}.yaml: {key}: {doc[key]!r}")

    @precondition(lambda self: self.releases or self.kept)
    @rule(site=st.sampled_from((None, "a", "b")))
    def set_env_site(self, site: str | None) -> None:
        self.env_site = site
        self.log.append(f"# export KUBECTL_LLM_SITE={self.site_paths[site] if site else ''}")

    @precondition(lambda self: self.releases)
    @rule(data=st.data())
    def sync_model_file(self, data: st.DataObject) -> None:
        """A model's record (export's format) edited in git and synced: the release becomes what the file says."""
        name = data.draw(st.sampled_from(sorted(self.releases)))
        rel = self.releases[name]
        folder = self.dir / "records"
        folder.mkdir(exist_ok=True)
        for f in folder.glob("*.yaml"):
            f.unlink()
        flags = {k: v for k, v in rel.layer.flags.items()}
        k, v = data.draw(flag_choice)
        if EXCLUSIVE.get(k) in flags:
            flags.pop(EXCLUSIVE[k])
        flags[k] = v
        stored = Layer(flags, copy.deepcopy(rel.layer.values)).stored(self.site_paths)
        doc = {"kind": "model", "name": name, "model": MODEL, "flags": stored["flags"], "values": stored["values"]}
        if "site" not in flags and self.env_site:
            flags["site"] = self.env_site       # a file naming no site: the site in effect, recorded
        layer = Layer(flags, copy.deepcopy(rel.layer.values), flags.get("site"))
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        changed = layer != rel.layer         # sync compares the records: what the site file says is not in them
        result = self.run("sync", str(folder), code=8 if changed else 0)
        if changed:
            self.expect_deployed(name, rel, layer, result)

    @precondition(lambda self: self.releases or self.aliases)
    @rule(data=st.data())
    def alias(self, data: st.DataObject) -> None:
        """alias ALIAS --to some of the models, or rm ALIAS when there is one."""
        if self.aliases:
            self.run("rm", ALIAS)
            self.aliases.pop(ALIAS)
            return
        targets = data.draw(st.lists(st.sampled_from(sorted(self.releases)), min_size=1, max_size=2, unique=True))
        self.run("alias", ALIAS, "--to", ",".join(targets))
        self.aliases[ALIAS] = targets

    @precondition(lambda self: self.gateway_site is False and self.releases)
    @rule()
    def gateway_install(self) -> None:
        self.run("gateway", "install")
        self.gateway_site = self.env_site
        self.touched |= set(self.releases)        # their status now finds (or not) the Gateway

    # ---- invariants -----------------------------------------------------------------------------------------
    @invariant()
    def cluster_matches_the_model(self) -> None:
        if not self.changed:      # a site file edited, $KUBECTL_LLM_SITE set: nothing ran
            return
        self.changed = False
        rows = {r["name"]: r for r in json.loads(self.run("list", "-o", "json").stdout)}
        expected_names = set(self.releases) | set(self.aliases)
        if set(rows) != expected_names:
            self.fail(f"list shows {sorted(rows)}, the model has {sorted(expected_names)}")
        for name, targets in self.aliases.items():
            assert rows[name]["kind"] == "alias"
        for name, rel in self.releases.items():
            self.check_release(name, rel, rows[name])
        self.touched.clear()
        for name in NAMES:
            if name in self.releases:
                continue
            left = self.fake.objects(f"{LABEL}={name}", namespace=self.ns)
            allowed = [("PersistentVolumeClaim", name)] if name in self.kept else []
            if left != allowed:
                self.fail(f"{name} removed, yet left {left} (kept: {allowed})")
            if name in self.kept and self.claim(name) != self.kept[name]:
                self.fail(f"{name}: the kept claim changed: {self.kept[name]} -> {self.claim(name)}")

    def check_release(self, name: str, rel: Release, row: dict[str, Any]) -> None:
        want = rel.layer.stored(self.site_paths)
        if name in self.touched:   # what helm stores, read by helm itself (list and status read it through pyhelm3)
            stored = (self.helm_json("get", "values", name) or {}).get("userLayer")
            if stored != want:
                self.fail(f"{name}: stored user layer\n  {stored}\nexpected\n  {want}")
        if row["user"] != want or row["model"] != MODEL or row["status"] != "deployed" or \
                row["revision"] != rel.revision:
            self.fail(f"{name}: list row {row} disagrees (revision {rel.revision}, user {want})")
        dep = self.fake.get_object("Deployment", name, self.ns)
        if dep is None:
            self.fail(f"{name}: no Deployment")
        spec = dep["spec"]["template"]["spec"]
        (container,) = spec["containers"][:1]
        args = [str(a) for a in container.get("command", []) + container.get("args", [])]
        flags = rel.layer.flags
        context = flags.get("context_length") or flags.get("max_model_len")
        if context and flag_value(args, "--max-model-len") != str(context):
            self.fail(f"{name}: --max-model-len {flag_value(args, '--max-model-len')}, the user set {context}")
        if context and row["context"] != context:
            self.fail(f"{name}: list says context {row['context']}, the user set {context}")
        if "max_num_seqs" in flags and flag_value(args, "--max-num-seqs") != str(flags["max_num_seqs"]):
            self.fail(f"{name}: --max-num-seqs {flag_value(args, '--max-num-seqs')}, the user set "
                      f"{flags['max_num_seqs']}")
        if "gpu" in flags and row["gpu"]["type"] != flags["gpu"]:
            self.fail(f"{name}: GPU {row['gpu']}, the user set {flags['gpu']}")
        replicas = flags.get("replicas", 1)
        if dep["spec"].get("replicas", 1) != replicas:
            self.fail(f"{name}: {dep['spec'].get('replicas')} replicas, the user set {replicas}")
        facts = rel.facts
        want_pc = rel.layer.values.get("scheduling", {}).get("priorityClassName", facts["priorityClassName"])
        if (spec.get("priorityClassName") or "") != want_pc:
            self.fail(f"{name}: priority class {spec.get('priorityClassName')!r}, its site "
                      f"({rel.layer.site or 'built-in'}) names {want_pc!r}")
        route = self.fake.get_object("AIGatewayRoute", name, self.ns)
        parents = [p["name"] for p in route["spec"]["parentRefs"]]
        if parents != [facts["gateway"]]:
            self.fail(f"{name}: route attaches to {parents}, its site ({rel.layer.site or 'built-in'}) names "
                      f"{facts['gateway']}")
        team = rel.layer.values.get("podLabels", {}).get("team")
        if (dep["spec"]["template"]["metadata"].get("labels") or {}).get("team") != team:
            self.fail(f"{name}: pod label team={dep['spec']['template']['metadata']['labels'].get('team')}, "
                      f"the user set {team}")
        claim = self.claim(name)
        if rel.claim is not None and claim != rel.claim:
            self.fail(f"{name}: the weights claim changed: {rel.claim} -> {claim}")
        if name not in self.touched:
            return
        status = json.loads(self.run("status", name, "-o", "json").stdout)
        if status["user"] != want or status["replicas"]["desired"] != replicas or status["model"] != MODEL:
            self.fail(f"{name}: status says user {status['user']}, desired {status['replicas']['desired']}")
        gw = status["gateway"]
        exists = self.fake.get_object("Gateway", gw["name"], gw["namespace"]) is not None
        if gw["found"] != exists or gw["name"] != facts["gateway"]:
            self.fail(f"{name}: status gateway {gw}, the cluster {'has' if exists else 'has no'} it")

    def teardown(self) -> None:
        self.env_site = None
        if os.environ.get("LLM_SEQ_VERBOSE"):
            print("\n".join([f"--- sequence {self.ns}", *self.log]))


def test_day2_command_sequences_keep_what_the_admin_asked_for(seq_fake: FakeApiServer, tmp_path: Path) -> None:
    Day2Sequences.fake = seq_fake
    Day2Sequences.base = tmp_path
    run_state_machine_as_test(Day2Sequences, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, derandomize=True, database=None, deadline=None,
        suppress_health_check=list(HealthCheck), print_blob=False))
    if os.environ.get("LLM_SEQ_VERBOSE"):
        print({k: round(v, 1) for k, v in sorted(TIMES.items(), key=lambda kv: -kv[1])})


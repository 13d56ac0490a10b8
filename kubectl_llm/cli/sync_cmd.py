"""`export` and `sync`: a folder of YAML files (one per release) is the record of a namespace, deletions included.

Why: the handbook keeps its gateway objects in git but cannot run CI on it "since we need to handle objects
deletions too". Here each release is one file holding what the user set (kubectl_llm/record.py); `sync` adds,
upgrades (re-planning models from their user layer, exactly like `upgrade`) and, with --prune, removes releases of
this tool whose file is gone. It never touches a release of another chart: the inventory is the namespace's
llm-model and llm-gateway releases, and `add` already refuses a name held by another chart.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import click

from kubectl_llm import fleet, record
from kubectl_llm.adapters.charts import GATEWAY_CHART, MODEL_CHART
from kubectl_llm.cli import options
from kubectl_llm.cli import output as out
from kubectl_llm.cli.session import Session
from kubectl_llm.errors import UsageError

EXIT_CHANGES = 8   # sync: there were changes (made, or pending with --dry-run); 0 = nothing to do


def current_records(session: Session, *, warn: bool = False) -> dict[str, dict[str, Any]]:
    """The namespace's releases of this tool as records, by file name (llm-model and llm-gateway only)."""
    from kubectl_llm.cli.userlayer import KEY, legacy_layer

    ns = session.namespace
    records: dict[str, dict[str, Any]] = {}
    for r in session.helm.list(MODEL_CHART, ns, False):
        values = r.values or {}
        kind = fleet.release_kind(values)
        if kind == fleet.MODE_MODEL:
            layer = values.get(KEY)
            if not isinstance(layer, dict) or not layer.get("model"):
                legacy = legacy_layer(values)
                layer = legacy.to_values()
                if warn:
                    out.warn(f"release {r.name} has no user layer (installed before kubectl llm kept one): only its "
                             f"model and GPU type are recorded; re-add it with its -f/--set to record those")
            doc = record.model_record(r.name, layer)
        else:
            doc = record.values_record(kind, r.name, values)
        records[record.file_name(doc)] = doc
    for r in session.helm.list(GATEWAY_CHART, ns, False):
        doc = record.values_record("gateway", r.name, r.values or {})
        records[record.file_name(doc)] = doc
    return records


def read_folder(folder: Path) -> dict[str, dict[str, Any]]:
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a directory", "kubectl llm export DIR writes one; sync reads it")
    # a record saved as NAME.yml was ignored without a word, and --prune then removed its release
    stray = sorted(p.name for p in folder.glob("*.yml") if not p.name.startswith("."))
    if stray:
        raise UsageError(f"{stray[0]}: sync reads records from *.yaml files only"
                         + (f" ({len(stray) - 1} more *.yml)" if len(stray) > 1 else ""),
                         f"rename it to {stray[0][:-4]}.yaml, or move it out of {folder}")
    docs = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{path.name}: not UTF-8 text", "fix or remove the file") from None
        except OSError as exc:   # a folder named *.yaml, no permission: the user's to fix, not a bug
            raise UsageError(f"{path.name}: cannot read it: {exc.strerror or exc}",
                             "every *.yaml in the folder is a record: make it a readable file or move it out") from None
        doc = record.parse(path.name, text)
        if doc["kind"] == "model":
            doc["flags"] = checked_flags(path.name, doc["flags"])
        checked_values(path.name, doc)
        docs[path.name] = doc
    return docs


def refuse_kind_changes(desired: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]], ns: str) -> None:
    """A file that names a release of the namespace as another kind (a model's file now saying external, a gateway
    file named after a model) is refused before anything is applied: an upgrade across kinds would delete the
    model's workload and weights claim, or fail half-way through the sync. `add` refuses the same."""
    held = {doc["name"]: doc["kind"] for doc in current.values()}
    for filename, doc in sorted(desired.items()):
        kind = held.get(doc["name"])
        if kind is not None and kind != doc["kind"]:
            raise UsageError(f"{filename}: release {doc['name']} in namespace {ns} is {_kind_word(kind)}, the file "
                             f"says {_kind_word(doc['kind'])}",
                             f"give it another name, or remove the release first (kubectl llm "
                             f"{'gateway uninstall --name ' if kind == 'gateway' else 'rm '}{doc['name']} -n {ns}); "
                             f"'kubectl llm export DIR' writes what it is now")


def by_name_of(desired: dict[str, dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["name"]): d for d in desired.values()}


def preflight_plan(filename: str, doc: dict[str, Any]) -> None:
    """Plan a model's record as add/upgrade will (model source, flags, overrides), raising its error with the file
    named: an unknown --gpu, a model that does not exist or does not fit stopped a real sync half-way (the files
    before it applied), and passed `sync --dry-run`. --gpu auto is left to the apply (it asks the cluster)."""
    import os

    from kubectl_llm.cli.planning import build_request, load_source, make_plan, plan_name, planned_values, why_not
    from kubectl_llm.cli.userlayer import KEY, UserLayer
    from kubectl_llm.errors import InvalidName, LlmError

    layer = UserLayer.from_values({KEY: {k: doc[k] for k in ("model", "source", "flags", "values") if k in doc}})
    if layer is None or layer.flags.get("gpu") == "auto":
        return
    flags = dict(layer.flags)
    revision = flags.pop("hf_revision", None)
    try:
        request = build_request(flags, doc["name"], revision, layer.values)
        model = layer.source if layer.source and os.path.isdir(layer.source) else layer.model
        plan = make_plan(load_source(model, revision, model_id=layer.model), request)
        if not plan.fits:
            raise why_not(model, plan)
        try:
            plan_name(plan)         # what add checks of a model's name (a Service's DNS-1035 label)
        except InvalidName as exc:  # its hint named --name; here the name is the record's
            exc.hint = (f"rename the release in the record: name: llm-{doc['name']} in a file "
                        f"llm-{doc['name']}.yaml")
            raise
        planned_values(plan, layer.values, layer)
    except LlmError as exc:
        exc.message = f"{filename}: {exc.message}"
        raise


def _kind_word(kind: str) -> str:
    return {"model": "a model", "external": "an external backend", "alias": "an alias",
            "gateway": "a gateway"}.get(kind, kind)


def checked_values(filename: str, doc: dict[str, Any]) -> None:
    """What the deploy of a record would refuse, refused before anything is applied (and by --dry-run, the merge
    request's check): planner-owned values in a model's file, values the chart's schema rejects in the others'.
    Otherwise sync applied the files before it, then stopped half-way with an error naming no file."""
    from kubectl_llm.adapters.charts import schema_violations
    from kubectl_llm.cli.overrides import refuse_plain_secrets, refuse_plan_owned

    refuse_plain_secrets(GATEWAY_CHART if doc["kind"] == "gateway" else MODEL_CHART, doc["values"],
                         f"{filename}: values: ")
    if doc["kind"] == "model":
        try:
            refuse_plan_owned(doc["values"])
        except UsageError as exc:
            # the hint names command-line flags (--gpus N); in a record a plan flag is a key of flags: without dashes
            raise UsageError(f"{filename}: values: {exc.message}",
                             f"{exc.hint}; in {filename} a plan flag goes under flags: without its dashes "
                             f"(--gpus 4 is flags: {{gpus: 4}})") from None
    # a model's values are its -f/--set overrides: the schema sees them over the chart's defaults, as add would
    violations = schema_violations(GATEWAY_CHART if doc["kind"] == "gateway" else MODEL_CHART, doc["values"])
    if violations:
        raise UsageError(f"{filename}: values: " + "; ".join(violations),
                         "fix the file; 'kubectl llm export DIR' writes what the release holds now")


def checked_flags(filename: str, flags: dict[str, Any]) -> dict[str, Any]:
    """A model record's flags read the way the command line reads them (the plan options' own click types): a
    misspelt flag or a value of the wrong type is one usage error naming the file, not a flag silently dropped
    (the release re-planned without it, and every later sync 'upgrading' again) or a crash in the planner."""
    import difflib

    from kubectl_llm.cli.release_cmds import add_command
    from kubectl_llm.cli.userlayer import PARAMS

    params = {p.name: p for p in add_command.params}
    checked: dict[str, Any] = {}
    for key, value in flags.items():
        if key not in PARAMS:
            close = difflib.get_close_matches(str(key).replace("_", "-"), list(PARAMS), n=1)
            raise UsageError(f"{filename}: flags.{key} is not a plan flag",
                             f"did you mean {close[0]}?" if close else
                             f"the flags are those of 'kubectl llm add' without the dashes: {', '.join(sorted(PARAMS))}")
        if value is None:
            continue
        if key == "site" and not Path(str(value)).expanduser().is_file():
            raise UsageError(f"{filename}: flags.site: {value} does not exist on this machine",
                             "keep the site profile beside the folder and give its path as seen from where sync "
                             "runs (export writes the absolute path of the machine that added the model)")
        if key == "site":   # stored absolute, as add stores --site: an upgrade from another directory finds it
            checked[key] = os.path.abspath(os.path.expanduser(str(value)))
            continue
        param = params[PARAMS[key]]
        try:
            if param.multiple:      # engine-arg: a list (one value alone is read as a list of one)
                items = value if isinstance(value, list) else [value]
                if any(isinstance(v, (dict, list)) for v in items):
                    raise TypeError
                checked[key] = [param.type.convert(v, param, None) for v in items]
            else:
                checked[key] = param.type.convert(value, param, None)
        except (click.BadParameter, TypeError, ValueError) as exc:   # a list or a mapping where a value belongs
            why = exc.message if isinstance(exc, click.BadParameter) else (
                f"{value!r} is not a list of single values" if param.multiple else f"{value!r} is not a single value")
            raise UsageError(f"{filename}: flags.{key}: {why}",
                             f"give it as --{key} takes it on the command line ('kubectl llm add --help')") from None
    return checked


def _directory(ctx: click.Context, param: click.Parameter, value: str) -> Path:
    """DIRECTORY "" (an unset variable: `kubectl llm export $DIR`) was the current directory: export wrote records
    there and removed ours it found; `sync "" --prune` made the namespace match whatever folder the shell was in."""
    if not value.strip():
        raise UsageError("DIRECTORY is empty (an unset shell variable?)",
                         f"name the folder, e.g. kubectl llm {ctx.info_name} models/ (use . for this directory)")
    return Path(value)


@click.command("export", epilog="""\b
Examples:
  kubectl llm export models/ -n nrp-llm          # one file per release (+ the gateway), then git add/commit
  kubectl llm export models/ -n nrp-llm -o json  # what was written, for scripts

Each file holds what the user set (model id, plan flags, -f/--set values), not the computed plan, keys sorted:
an unchanged namespace exports byte-identical files. Files of releases that no longer exist are removed, so the
folder mirrors the namespace. The namespace itself is not written: a folder can be synced into another one.
""")
@click.argument("directory", type=click.Path(file_okay=False), callback=_directory)
@options.connection
@options.output("yaml", "json")
def export_command(directory: Path, namespace: str | None, kube_context: str | None, kubeconfig: str | None,
                   output: str | None) -> None:
    """Write the namespace's releases to DIRECTORY, one YAML file each (the record `sync` reads)."""
    session = Session(namespace, kube_context, kubeconfig)
    records = current_records(session, warn=True)
    files: list[dict[str, str]] = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name in sorted(records):
            path = directory / name
            text = record.dump(records[name])
            action = "unchanged" if path.exists() and path.read_text() == text else \
                ("updated" if path.exists() else "written")
            if action != "unchanged":
                path.write_text(text)
            files.append({"file": str(path), "action": action, "kind": records[name]["kind"]})
    except OSError as exc:   # a file in the way, no permission, a full disk: the user's to fix, not a bug
        raise UsageError(f"cannot write the records to {directory}: {exc.strerror or exc}"
                         + (f" ({exc.filename})" if exc.filename else ""),
                         "give export a directory you can write to (it is created if missing)") from None
    for path in sorted(directory.glob("*.yaml")):
        if path.name in records:
            continue
        try:
            record.parse(path.name, path.read_text())
        except UsageError:
            continue   # not one of ours: leave it alone
        path.unlink()
        files.append({"file": str(path), "action": "removed", "kind": "-"})
    doc = {"namespace": session.namespace, "directory": str(directory), "files": files}
    if output:
        out.data(doc, output)
        return
    if not files:
        out.info(f"nothing to export: no releases of kubectl llm in namespace {session.namespace}")
    out.text("\n".join(f"{f['action']:<10} {f['file']}" for f in files))


def _apply(session: Session, change: record.Change, doc: dict[str, Any] | None, timeout: str) -> None:
    """Make one release what its record says (doc), or remove it; helm's own messages go to stderr."""
    from kubectl_llm.adapters.charts import chart_path
    from kubectl_llm.cli.release_cmds import _plan_and_deploy, deploy
    from kubectl_llm.cli.userlayer import KEY, UserLayer

    ns = session.namespace
    if change.action == "remove":
        if change.kind == "gateway":
            session.helm.uninstall(change.name, ns, timeout=timeout)
            return
        from kubectl_llm.cli.release_cmds import uninstall_model

        # exactly what `rm` leaves: nothing (a PVC an earlier rm --keep-cache kept, a group's per-pod claims too)
        for problem in uninstall_model(session, change.name, keep_cache=False, timeout=timeout)[2]:
            out.warn(problem.text())
        return
    assert doc is not None
    with contextlib.redirect_stdout(sys.stderr):   # each deploy's own report is progress here
        if change.kind == "model":
            layer = UserLayer.from_values({KEY: {k: doc[k] for k in ("model", "source", "flags", "values")
                                                 if k in doc}})
            assert layer is not None
            _plan_and_deploy(layer, change.name, session, dry_run="none", wait=False, timeout=timeout,
                             output=None, verb="sync",
                             deployed=session.helm.values(change.name, ns) if change.action == "upgrade" else None)
        else:
            chart = GATEWAY_CHART if change.kind == "gateway" else MODEL_CHART
            chart_path(chart)
            deploy(session, change.name, chart, doc["values"], dry_run="none", wait=False, timeout=timeout,
                   output=None, description=f"kubectl llm sync ({change.kind})",
                   needs_gateway=change.kind != "gateway")


@click.command("sync", epilog="""\b
Examples:
  kubectl llm sync models/ -n nrp-llm --dry-run          # what would change: add / upgrade / remove / unchanged
  kubectl llm sync models/ -n nrp-llm                    # add new files, upgrade changed ones
  kubectl llm sync models/ -n nrp-llm --prune            # ... and remove releases whose file is gone

--prune with a folder that holds no record at all would remove every release: refused unless --allow-empty.

Exit code: 0 = the namespace already matched the folder, 8 = there were changes (made, or pending with
--dry-run), anything else = an error (as for every command). Only releases of kubectl llm's charts (llm-model,
llm-gateway) are ever upgraded or removed; a name held by another Helm release is refused, never taken over.
Models are re-planned from their file's user layer, like 'kubectl llm upgrade'.
""")
@click.argument("directory", type=click.Path(file_okay=False), callback=_directory)
@click.option("--prune", is_flag=True, help="Remove releases of kubectl llm whose file is not in DIRECTORY.")
@click.option("--allow-empty", is_flag=True,
              help="Let --prune remove every release when DIRECTORY holds no record (refused otherwise).")
@click.option("--dry-run", is_flag=True, help="Print the changes, change nothing.")
@options.timeout_option("10m", "Helm timeout per release.")
@options.connection
@options.output("yaml", "json")
def sync_command(directory: Path, prune: bool, allow_empty: bool, dry_run: bool, timeout: str,
                 namespace: str | None, kube_context: str | None, kubeconfig: str | None,
                 output: str | None) -> None:
    """Make the namespace match DIRECTORY (files written by `kubectl llm export`)."""
    desired = read_folder(directory)
    for doc in desired.values():
        if doc["kind"] == "model":   # a file naming no site: the site in effect here, recorded as add records it
            from kubectl_llm.cli.release_cmds import with_site_in_effect

            doc["flags"] = with_site_in_effect(doc["flags"])
    session = Session(namespace, kube_context, kubeconfig)
    current = current_records(session)
    refuse_kind_changes(desired, current, session.namespace)
    changes = record.diff(desired, current, prune=prune)
    doomed = [c.name for c in changes if c.action == "remove"]
    if not desired and doomed and not allow_empty:
        # a folder with no record is far more often a wrong path or checkout than a wish to remove everything
        # (Argo CD's automated sync refuses the same unless allowEmpty)
        raise UsageError(f"{directory} holds no record, and --prune would remove every release of kubectl llm in "
                         f"namespace {session.namespace} ({len(doomed)}: {', '.join(sorted(doomed))})",
                         "check the folder (a wrong path or checkout?); --allow-empty removes them all on purpose")
    for change in changes:   # every model to add or upgrade must plan, before the first one is applied
        if change.kind == "model" and change.action in ("add", "upgrade"):
            preflight_plan(record.file_name({"kind": "model", "name": change.name}),
                           by_name_of(desired)[("model", change.name)])
    by_name = {(d["kind"], d["name"]): d for d in desired.values()}
    changed = [c for c in changes if c.action != "unchanged"]
    for alias, target in record.missing_alias_targets(desired, current, prune=prune):
        out.warn(f"alias {alias} routes to {target}, which is neither in the folder nor a release in namespace "
                 f"{session.namespace}: the requests it sends there fail until {target} is added")
    if not dry_run:
        removed = {c.name for c in changed if c.action == "remove"}
        for change in changed:
            if change.action == "remove" and change.kind != "gateway":
                aliases = [a for a in fleet.aliases_pointing_at(change.name, {d["name"]: d.get("values", {})
                                                                             for d in desired.values()})
                           if a not in removed]
                if aliases:
                    out.warn(f"{change.name} is removed but alias{'es' if len(aliases) > 1 else ''} "
                             f"{', '.join(aliases)} in the folder still route{'' if len(aliases) > 1 else 's'} to it")
            out.info(f"{change.action} {change.kind} {change.name} ...")
            _apply(session, change, by_name.get((change.kind, change.name)), timeout)
    doc = {"namespace": session.namespace, "directory": str(directory), "dry_run": dry_run, "prune": prune,
           "changed": bool(changed), "changes": [c.to_dict() for c in changes]}
    if output:
        out.data(doc, output)
    else:
        verb = "would " if dry_run else ""
        lines = [f"{c.action:<10} {c.kind:<9} {c.name}" for c in changes]
        summary = {a: sum(c.action == a for c in changes) for a in ("add", "upgrade", "remove", "unchanged")}
        lines.append(f"{verb}add {summary['add']}, {verb}upgrade {summary['upgrade']}, {verb}remove "
                     f"{summary['remove']}, unchanged {summary['unchanged']} in namespace {session.namespace}")
        if not prune:
            extra = [k for k in current if k not in desired]
            if extra:
                lines.append(f"not in the folder (kept; --prune removes them): "
                             f"{', '.join(current[k]['name'] for k in sorted(extra))}")
        out.text("\n".join(lines))
    if changed:
        click.get_current_context().exit(EXIT_CHANGES)

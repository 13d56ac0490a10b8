"""Git as the record, pure: one YAML file per release holding what the user set, and the diff of a folder against
a namespace.

Why the user layer and not the values: a release's values are mostly computed by the planner (engine args, memory,
affinity); committing them would make every planner improvement a diff and would freeze yesterday's plan. The file
holds what an admin decided (model id, plan flags, -f/--set values); `sync` re-plans from it, exactly as `upgrade`
does from the layer stored in the release. External backends and aliases are not planned: their values are all
user decisions and are stored whole. The gateway release's values are stored whole too.

File format (``<release>.yaml``; the gateway ``<release>.gateway.yaml``; the namespace is not in the file, so a
folder can be synced into another namespace)::

    # kubectl llm export: release qwen3-8b (model). `kubectl llm sync DIR` makes the namespace match the folder.
    kind: model                 # model | external | alias | gateway
    name: qwen3-8b
    model: Qwen/Qwen3-8B        # model only (the user layer: model, flags, values; see cli/userlayer.py)
    flags: {context-length: 16384, gpu: L40}
    values: {storage: {storageClass: rook-ceph}}

Deterministic: kind, name, model, source, flags, values in that order, every mapping below sorted, block style, one trailing newline, so a re-export of an unchanged namespace is
byte-identical and a change is a minimal diff.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from kubectl_llm.errors import UsageError

KINDS = ("model", "external", "alias", "gateway")
GATEWAY_SUFFIX = ".gateway.yaml"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Apply order: the gateway first, then what serves, then aliases over it; removal in reverse.
_ORDER = {"gateway": 0, "model": 1, "external": 1, "alias": 2}


def file_name(doc: dict[str, Any]) -> str:
    return doc["name"] + (GATEWAY_SUFFIX if doc["kind"] == "gateway" else ".yaml")


def _clean(value: Any) -> Any:
    """Plain JSON-like data (tuples -> lists), so equal layers compare and dump equal."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def model_record(name: str, layer: dict[str, Any]) -> dict[str, Any]:
    """The file of a planned model from its stored user layer (the ``userLayer`` value: model, flags, values)."""
    doc: dict[str, Any] = {"kind": "model", "name": name, "model": str(layer["model"])}
    if layer.get("source"):
        doc["source"] = layer["source"]
    doc["flags"] = _clean(layer.get("flags") or {})
    doc["values"] = _clean(layer.get("values") or {})
    return doc


def values_record(kind: str, name: str, values: dict[str, Any]) -> dict[str, Any]:
    """The file of an external backend, an alias or the gateway: the values it was installed with."""
    return {"kind": kind, "name": name, "values": _clean(values or {})}


def dump(doc: dict[str, Any]) -> str:
    header = (f"# kubectl llm export: release {doc['name']} ({doc['kind']}). "
              f"`kubectl llm sync DIR` makes the namespace match the folder.\n")
    top = ("kind", "name", "model", "source", "flags", "values")
    ordered = {k: _sorted(doc[k]) for k in top if k in doc}
    return header + yaml.safe_dump(ordered, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)


def _sorted(value: Any) -> Any:
    """Mappings with their keys sorted at every depth (lists keep their order: it means something)."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def parse(filename: str, text: str) -> dict[str, Any]:
    """One file -> its record; UsageError naming the file on anything that is not a record."""
    from kubectl_llm import yamlio

    try:
        doc = yamlio.load_user(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{filename}: not YAML ({str(exc).splitlines()[0]})", "fix or remove the file") from None
    except yamlio.NotPlainData as exc:
        raise UsageError(f"{filename}: {exc}", "fix the file ('kubectl llm export DIR' writes plain YAML)") from None
    if not isinstance(doc, dict):
        raise UsageError(f"{filename}: not a kubectl llm record (a mapping with kind and name)",
                         "files come from 'kubectl llm export DIR'; remove anything else from the folder")
    unknown = sorted(set(doc) - {"kind", "name", "model", "source", "flags", "values"})
    if unknown:
        raise UsageError(f"{filename}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}",
                         "a record has kind, name, values and, for a model, model and flags")
    kind, name = doc.get("kind"), doc.get("name")
    if kind not in KINDS:
        raise UsageError(f"{filename}: kind {kind!r} is not one of {', '.join(KINDS)}", "see 'kubectl llm export'")
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 53:
        raise UsageError(f"{filename}: name {name!r} is not a release name (DNS-1123 label, <= 53 characters)",
                         "e.g. name: qwen3-8b")
    if filename != file_name(doc):
        raise UsageError(f"{filename}: holds release {name!r} ({kind}), so it must be named {file_name(doc)}",
                         "rename the file or fix its name: (one release per file, file name = release name)")
    for key in ("flags", "values"):
        if doc.get(key) is not None and not isinstance(doc[key], dict):
            raise UsageError(f"{filename}: {key} must be a mapping", f"e.g. {key}: {{}}")
    if doc.get("source") is not None and not isinstance(doc["source"], str):
        raise UsageError(f"{filename}: source must be a path (the local directory add planned from)",
                         "drop source: (the model is then planned from its repo id)")
    if kind == "model":
        if not isinstance(doc.get("model"), str) or not doc["model"]:
            raise UsageError(f"{filename}: a model record needs model: <Hugging Face repo id>",
                             "e.g. model: Qwen/Qwen3-8B")
        if (doc.get("values") or {}).get("mode") not in (None, "model"):
            raise UsageError(f"{filename}: kind model but values.mode {doc['values']['mode']!r}",
                             "drop values.mode: a model record is planned (or fix kind:)")
        return model_record(name, doc)
    if doc.get("model") is not None or doc.get("flags"):
        raise UsageError(f"{filename}: {'an' if kind in ('external', 'alias') else 'a'} {kind} record has only values (model and flags are for planned models)",
                         "move them under values:")
    mode = (doc.get("values") or {}).get("mode")
    if kind in ("external", "alias") and mode != kind:
        # the chart's mode decides what is installed: a record must not say one kind and install another (an
        # external record with mode: model installed an unplanned workload and weights claim)
        raise UsageError(f"{filename}: kind {kind} but values.mode {mode!r}",
                         f"set values.mode: {kind} (or fix kind:)")
    return values_record(kind, name, doc.get("values") or {})


@dataclass(frozen=True)
class Change:
    action: str        # add | upgrade | remove | unchanged
    kind: str
    name: str

    def to_dict(self) -> dict[str, str]:
        return {"action": self.action, "kind": self.kind, "name": self.name}


def diff(desired: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]], *, prune: bool) -> list[Change]:
    """What `sync` does to make ``current`` (records of the namespace's releases of this tool, by file name) match
    ``desired`` (the folder's records), in the order it does it: gateway, models and externals, aliases; then
    removals in reverse order. Without ``prune`` nothing is removed (and nothing is listed as removed)."""
    changes: list[Change] = []
    for key in sorted(desired, key=lambda k: (_ORDER[desired[k]["kind"]], desired[k]["name"])):
        want = desired[key]
        have = current.get(key)
        action = "add" if have is None else ("unchanged" if have == want else "upgrade")
        changes.append(Change(action, want["kind"], want["name"]))
    if prune:
        gone = [current[k] for k in current if k not in desired]
        for have in sorted(gone, key=lambda d: (-_ORDER[d["kind"]], d["name"])):
            changes.append(Change("remove", have["kind"], have["name"]))
    return changes


def missing_alias_targets(desired: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]], *,
                          prune: bool) -> list[tuple[str, str]]:
    """(alias, target) for every alias of the folder that routes to a release neither the folder nor the namespace
    will hold after the sync (with ``prune`` only the folder's); `kubectl llm alias` refuses such a target unless
    --allow-missing, and the gateway fails the requests it sends there."""
    serving = {d["name"] for d in desired.values() if d["kind"] in ("model", "external")}
    if not prune:
        serving |= {c["name"] for c in current.values() if c["kind"] in ("model", "external")}
    missing = []
    for doc in sorted(desired.values(), key=lambda d: d["name"]):
        if doc["kind"] != "alias":
            continue
        for backend in ((doc.get("values") or {}).get("gateway") or {}).get("alias", {}).get("backends") or []:
            if isinstance(backend, dict) and not backend.get("namespace") and backend.get("name") not in serving:
                missing.append((doc["name"], str(backend.get("name"))))
    return missing

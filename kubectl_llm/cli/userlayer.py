"""The user layer: what the admin asked for, stored in the release apart from what the planner computed.

Why: `upgrade` re-plans the model, and a re-plan must start from everything the admin said before (the earlier
`-f site.yaml` with its storage class, `--set` tolerations, `--gpu`, `--context-length`), not only from this
call's flags; otherwise the claim's storage class changes (immutable: the upgrade fails) or a GPU rule appears
that the admin never asked for. Helm stores every release's values anyway, so the layer travels as one more value
(``userLayer``, ignored by the chart's templates) and moves with rollback like everything else:

    userLayer:
      model: Qwen/Qwen3-8B                 # the repo id the pod loads
      source: /home/me/models/qwen3-8b     # only when planned from a local directory (this machine's path)
      flags: {gpu: L40, context-length: 16384}        # plan flags as typed (CLI spelling), nothing defaulted;
                                                      # --site as an absolute path
      values: {storage: {storageClass: rook-ceph}}    # -f / --set / --set-string, merged in Helm's order

`read_user_layer(helm, name, namespace)` is the one function other commands (export, sync, ...) call to learn
what the user set on a release. Everything else here is pure.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from kubectl_llm.adapters.helm import Helm

KEY = "userLayer"

# click parameter name -> the flag as typed (without the dashes). Only these are stored.
FLAG_NAMES = {
    "gpu": "gpu", "gpu_memory": "gpu-memory", "gpus": "gpus", "tp": "tp", "pp": "pp", "dcp": "dcp",
    "context_length": "context-length", "max_model_len": "max-model-len", "max_num_seqs": "max-num-seqs",
    "gpu_memory_utilization": "gpu-memory-utilization", "kv_cache_dtype": "kv-cache-dtype", "engine": "engine",
    "max_num_batched_tokens": "max-num-batched-tokens", "hf_revision": "revision", "site": "site",
    "nodes": "nodes", "replicas": "replicas", "data_parallel": "data-parallel",
    "launcher": "launcher", "mem_fraction_static": "mem-fraction-static", "engine_args": "engine-arg",
}
# Flags given more than once (a list of values, stored as a list; a later call's list replaces the stored one).
MULTIPLE = {"engine_args"}
PARAMS = {flag: param for param, flag in FLAG_NAMES.items()}
# A new flag of a pair replaces the stored other one (they are mutually exclusive).
EXCLUSIVE = (("gpu", "gpu_memory"), ("context_length", "max_model_len"),
             ("gpu_memory_utilization", "mem_fraction_static"))


@dataclass(frozen=True)
class UserLayer:
    """What the user set on a release: the model, the plan flags given, the chart-value overrides."""

    model: str
    flags: dict[str, Any] = field(default_factory=dict)      # click parameter names (context_length), given only
    values: dict[str, Any] = field(default_factory=dict)     # -f/--set overrides, Helm-merged
    source: str | None = None                                # local directory planned from, when not the repo id

    def to_values(self) -> dict[str, Any]:
        """The ``userLayer`` value stored in the release (flags in CLI spelling, sorted: stable comparisons)."""
        doc: dict[str, Any] = {"model": self.model}
        if self.source:
            doc["source"] = self.source
        doc["flags"] = {FLAG_NAMES[k]: self.flags[k] for k in sorted(self.flags)}
        doc["values"] = copy.deepcopy(self.values)
        return doc

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> UserLayer | None:
        """The layer stored in a release's values; None when the release has none (installed before it existed)."""
        doc = values.get(KEY) if isinstance(values, dict) else None
        if not isinstance(doc, dict) or not doc.get("model"):
            return None
        flags = {PARAMS[k]: v for k, v in (doc.get("flags") or {}).items() if k in PARAMS and v is not None}
        return cls(model=str(doc["model"]), flags=flags, values=copy.deepcopy(doc.get("values") or {}),
                   source=doc.get("source") or None)

    def args(self) -> list[str]:
        """The flags as a command line (`--gpu L40 --context-length 16384`), for humans."""
        out: list[str] = []
        for k in sorted(self.flags):
            values = self.flags[k] if k in MULTIPLE else [self.flags[k]]
            for v in values:
                # an engine argument is itself a --flag: only --engine-arg=--x reads back as one token (as typed)
                out += [f"--{FLAG_NAMES[k]}={v}"] if k in MULTIPLE else [f"--{FLAG_NAMES[k]}", str(v)]
        return out

    def updated(self, flags: dict[str, Any], values: dict[str, Any], *, reset: bool = False,
                forget: tuple[str, ...] = ()) -> UserLayer:
        """This layer with a later call's flags and overrides on top (``reset``: only the later call's).

        A flag given now replaces the stored one (and its exclusive partner); a flag in ``forget`` (parameter
        names) is dropped, so the plan decides it again; an override merges like Helm's values, except that
        ``null`` for a key the layer holds forgets that override (the plan's value returns)."""
        if reset:
            return UserLayer(self.model, dict(given_flags(flags)), _prune(copy.deepcopy(values)), self.source)
        merged = {k: v for k, v in self.flags.items() if k not in forget}
        for k, v in given_flags(flags).items():
            for pair in EXCLUSIVE:
                if k in pair:
                    for other in pair:
                        merged.pop(other, None)
            merged[k] = v
        return UserLayer(self.model, merged, merge_values(self.values, values), self.source)


def given_flags(opts: dict[str, Any]) -> dict[str, Any]:
    """The plan flags a command line really set (click passes None for the others); --site as an absolute path,
    so a later upgrade from another directory re-plans for the same site (its storage class, tolerations, ...)."""
    import os

    given = {k: (list(v) if k in MULTIPLE else v) for k, v in opts.items()
             if k in FLAG_NAMES and v is not None and v != ()}
    if given.get("site"):
        given["site"] = os.path.abspath(os.path.expanduser(str(given["site"])))
    return given


def merge_values(stored: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge (maps merge, lists replace), where a null for a stored key drops the stored override."""
    merged = copy.deepcopy(stored)
    for k, v in new.items():
        if v is None and k in merged:
            merged.pop(k)
        elif isinstance(v, dict) and isinstance(merged.get(k), dict):
            merged[k] = merge_values(merged[k], v)
        else:
            merged[k] = copy.deepcopy(v)
    return _prune(merged)


def _prune(values: dict[str, Any]) -> dict[str, Any]:
    """Drop maps left empty by forgotten overrides ({storage: {}} says nothing)."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        if isinstance(v, dict):
            v = _prune(v)
            if not v:
                continue
        out[k] = v
    return out


def legacy_layer(values: dict[str, Any]) -> UserLayer:
    """A release installed before the user layer existed: its model, and its GPU type (what upgrade used to
    keep); its earlier overrides cannot be told apart from the plan's and are not guessed."""
    model = str((values.get("model") or {}).get("id") or "")
    gpu_type = (values.get("gpu") or {}).get("type")
    flags = {"gpu": gpu_type} if gpu_type and not str(gpu_type).startswith("custom") else {}
    return UserLayer(model=model, flags=flags)


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{storage: {storageClass: x}} -> {"storage.storageClass": x} (lists stay whole), for humans and checks."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def describe(layer: UserLayer) -> str:
    """One line for `status`: `--gpu L40 --context-length 16384; storage.storageClass=rook-ceph`. A value that is
    not a string reads as --set / --set-json take it (`storage.keep=false`, `tolerations=[{"key":"x"}]`), not as
    Python's repr (`False`, `[{'key': 'x'}]`)."""
    parts = [" ".join(layer.args())] if layer.flags else []
    if layer.values:
        parts.append(", ".join(f"{k}={_text(v)}" for k, v in flatten(layer.values).items()))
    return "; ".join(parts) or "nothing (every value is planned)"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def read_user_layer(helm: Helm, name: str, namespace: str) -> UserLayer | None:
    """What the user set on release NAME (current revision); None when it has no user layer."""
    return UserLayer.from_values(helm.values(name, namespace) or {})

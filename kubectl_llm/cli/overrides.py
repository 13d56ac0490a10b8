"""User overrides of the planned chart values (-f FILE, --set k=v) with Helm's own merge rules. Pure.

Why our own --set parser: pyhelm3 passes values only as one JSON document on stdin (no --set), and we must know
the final values anyway to compare them with the deployed release (idempotent add) and to warn when an override
breaks the plan's fit. The grammar follows Helm's strvals for the common cases: ``a.b=c``, several pairs split on
unescaped commas, ``list[0]=x``, ``{a,b}`` lists, ``\\.`` and ``\\,`` escapes; values typed like Helm's --set
(true/false, null, integers without leading zeros; everything else, floats included, stays a string).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml

from kubectl_llm.errors import UsageError

_INT = re.compile(r"^-?(0|[1-9][0-9]*)$")
_INDEX = re.compile(r"^(?P<key>.*?)\[(?P<idx>\d+)\]$")
MAX_INDEX = 65536   # Helm's strvals.MaxIndex


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's values merge: maps merge key by key, anything else (lists included) is replaced; null deletes."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, cur, i, depth = [], "", 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur += text[i:i + 2]
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    parts.append(cur)
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _typed(raw: str, as_string: bool) -> Any:
    if as_string:
        return _unescape(raw)
    if raw.startswith("{") and raw.endswith("}"):
        return [_typed(p, False) for p in _split_unescaped(raw[1:-1], ",") if p != ""]
    value = _unescape(raw)
    if value in ("true", "false"):
        return value == "true"
    if value == "null":
        return None
    if _INT.match(value):
        return int(value)
    return value


def _assign(target: dict[str, Any], path: list[str], value: Any) -> None:
    node: Any = target
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        m = _INDEX.match(part)
        key = m["key"] if m else part
        if not key:
            raise UsageError(f"empty key in --set path {'.'.join(path)!r}")
        if m:
            idx = int(m["idx"])
            if idx > MAX_INDEX:   # Helm's own limit (strvals MaxIndex): a list that long is a typo, not a value
                raise UsageError(f"--set {'.'.join(path)}: index {idx} is above the largest Helm takes ({MAX_INDEX})",
                                 "lists are indexed from 0: key[0]=first, key[1]=second")
            lst = node.setdefault(key, [])
            if not isinstance(lst, list):
                raise UsageError(f"--set {'.'.join(path)}: {key!r} is not a list")
            while len(lst) <= idx:
                lst.append(None)
            if last:
                lst[idx] = value
            else:
                if not isinstance(lst[idx], dict):
                    lst[idx] = {}
                node = lst[idx]
        elif last:
            node[key] = value
        else:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child


def parse_set(expressions: tuple[str, ...] | list[str], *, as_string: bool = False) -> dict[str, Any]:
    """``--set`` expressions -> a nested values dict (to be merged over the planned values)."""
    result: dict[str, Any] = {}
    for expr in expressions:
        for pair in _split_unescaped(expr, ","):
            if not pair:
                continue
            key, sep, raw = pair.partition("=")
            if not sep or not key:
                raise UsageError(f"cannot read --set {pair!r}", "write it as key.path=value, e.g. gpu.count=2")
            path = [_unescape(p) for p in _split_unescaped(key, ".")]
            _assign(result, path, _typed(raw, as_string))
    return result


VALUES_FILE_HINT = "fix the file: a YAML mapping of chart values, as 'helm show values' prints them"


def load_values_file(path: str) -> dict[str, Any]:
    """A -f file as Helm reads it (timestamps stay strings); anything that is not a mapping of plain values, or that
    cannot be read, is one usage error naming the file."""
    from kubectl_llm import yamlio

    try:
        with open(path, encoding="utf-8") as fh:
            doc = yamlio.load_user(fh.read())
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}", VALUES_FILE_HINT) from None
    except yamlio.NotPlainData as exc:
        raise UsageError(f"{path}: {exc}", VALUES_FILE_HINT) from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text", VALUES_FILE_HINT) from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}", VALUES_FILE_HINT) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise UsageError(f"{path} must hold a YAML mapping of chart values", VALUES_FILE_HINT)
    return doc


def apply_overrides(values: dict[str, Any], files: tuple[str, ...] = (), sets: tuple[str, ...] = (),
                    set_strings: tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """(final values, the user's overrides alone) in Helm's order: -f files, then --set, then --set-string."""
    user: dict[str, Any] = {}
    for f in files:
        user = deep_merge(user, load_values_file(f))
    user = _merge_keep_null(user, parse_set(sets))
    user = _merge_keep_null(user, parse_set(set_strings, as_string=True))
    return deep_merge(values, user), user


def _merge_keep_null(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(merged.get(k), dict):
            merged[k] = _merge_keep_null(merged[k], v)
        else:
            merged[k] = copy.deepcopy(v)
    return merged


def get_path(values: dict[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


# Values the planner owns, with the flag that changes them. Set behind the planner's back they break the handbook
# rules (`--set gpu.count=4` would render 4 GPUs with the CPU of one and no large-GPU toleration), so an override
# of one of them is refused with the plan flag that re-plans instead.
PLAN_OWNED = {
    "gpu.count": "--gpus N (the CPU, memory, tolerations and parallel sizes follow the GPU count)",
    "gpu.type": "--gpu TYPE, or --gpu-memory SIZE for a card not in 'kubectl llm gpus'",
    "gpu.resource": "--gpu TYPE (the extended resource follows the GPU type)",
    "engine.args": "the plan flags: --context-length, --max-model-len, --gpus, --tp, --pp, --dcp, --max-num-seqs, "
                   "--gpu-memory-utilization, --kv-cache-dtype, --engine, --revision",
    "engine.command": "--engine vllm|sglang",
    "engine.name": "--engine vllm|sglang",
    "engine.maxModelLen": "--context-length N (RoPE scaling above the native context) or --max-model-len N",
    "resources.cpu": "--gpus N (the handbook's CPU is 2 x GPUs + 2)",
    "model.id": "the MODEL argument (for a local directory: --model-id ORG/NAME)",
    "model.servedName": "--name NAME",
    "gateway.routeName": "--name NAME",
    "probes.weightBytes": "nothing: it is the checkpoint's size, read from the model",
    "replicas": "--replicas N (each copy is planned alike)",
    "group": "--nodes N (a multi-node group is planned: TP within a node, PP across nodes)",
    "workload": "--replicas N with storage.accessMode (a ReadWriteMany claim: one Deployment sharing it; else a "
                "StatefulSet with one claim per replica)",
}


def plan_owned(user: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, flag hint) for every planner-owned value an override sets (a parent map counts: `gpu: {...}`)."""
    hits: list[tuple[str, str]] = []
    for key in _leaf_keys(user):
        for owned, hint in PLAN_OWNED.items():
            if key == owned or key.startswith(owned + ".") or key.startswith(owned + "[") \
                    or owned.startswith(key + "."):
                if (owned, hint) not in hits:
                    hits.append((owned, hint))
    return hits


def refuse_plan_owned(user: dict[str, Any]) -> None:
    """UsageError naming the plan flag when an override sets a value the planner owns."""
    hits = plan_owned(user)
    if hits:
        keys = ", ".join(k for k, _ in hits)
        raise UsageError(f"{keys} {'is' if len(hits) == 1 else 'are'} planned, not overridable with -f/--set: "
                         f"the planner keeps GPUs, CPU, tolerations and engine arguments consistent",
                         "; ".join(f"for {k} use {h}" for k, h in hits))


def _leaf_keys(values: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for k, v in values.items():
        if isinstance(v, dict) and v:
            out += _leaf_keys(v, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}")
    return out


# An environment variable whose name says it holds a secret (the charts' validateValues use the same expression):
# HF_TOKEN, OPENAI_API_KEY, DB_PASSWORD, AWS_SECRET_ACCESS_KEY; not TOKENIZERS_PARALLELISM or VLLM_MAX_TOKENS.
SECRET_NAME = re.compile(r"(?i)((^|_)(token|secret|passw(or)?d?|api_?key|credentials?)($|_))|password|secret")
SECRET_HINT = ("reference a Secret instead: --set engine.env[N].valueFrom.secretKeyRef.name=SECRET,"
               "engine.env[N].valueFrom.secretKeyRef.key=KEY (the Hugging Face token: engine.hfTokenSecret, an "
               "existing Secret)")


def plain_secrets(chart: str, values: dict[str, Any]) -> list[str]:
    """Where ``values`` carry a secret in the clear: an env variable named like one with a plain value (llm-model
    engine.env, llm-gateway engineConfig.env). Values are stored in the release (helm get values, helm history),
    rendered into the manifests and written by export: a secret must stay in a Secret and be referenced."""
    found: list[str] = []
    if chart == "llm-gateway":
        env = get_path(values, "engineConfig.env")
        for name, value in (env.items() if isinstance(env, dict) else []):
            if value not in (None, "") and SECRET_NAME.search(str(name)):
                found.append(f"engineConfig.env.{name}")
        return found
    env = get_path(values, "engine.env")
    for i, item in enumerate(env if isinstance(env, list) else []):
        if isinstance(item, dict) and item.get("value") not in (None, "") and SECRET_NAME.search(str(item.get("name"))):
            found.append(f"engine.env[{i}] {item.get('name')}")
    return found


def refuse_plain_secrets(chart: str, values: dict[str, Any], where: str = "") -> None:
    """UsageError (never echoing the value) when ``values`` hold a secret in the clear (see plain_secrets)."""
    found = plain_secrets(chart, values)
    if found:
        hint = SECRET_HINT if chart != "llm-gateway" else (
            "the engine ConfigMap is readable by everyone in the namespace: keep secrets in a Secret and reference it "
            "from each model (engine.env[N].valueFrom.secretKeyRef, or engine.hfTokenSecret)")
        raise UsageError(f"{where}{', '.join(found)} {'looks' if len(found) == 1 else 'look'} like a secret with a "
                         f"plain value: values are stored in the release (helm get values, helm history), rendered "
                         f"into the manifests and written by 'kubectl llm export'", hint)

"""The fleet, pure: external backends, aliases, the kind of a release, the Chatbox provider template.

Why a pure module: what values an external backend or an alias release gets, and what a Chatbox config says, are
decisions; the CLI only feeds them release values read from Helm and writes the result. No I/O here (no helm, no
kubernetes, no sockets), so every rule is unit-testable with plain dicts.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from kubectl_llm.errors import UsageError

MODE_MODEL, MODE_EXTERNAL, MODE_ALIAS = "model", "external", "alias"
# The AI Gateway's APIKey BackendSecurityPolicy reads this key of the referenced Secret (not configurable).
APIKEY_SECRET_KEY = "apiKey"
# Names that only resolve inside a cluster or a private network: plain http there is not "to a public host".
_INTERNAL_SUFFIXES = (".svc", ".svc.cluster.local", ".cluster.local", ".local", ".internal", ".lan",
                      ".home.arpa", ".localdomain")
_HOSTNAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def get_path(values: dict[str, Any] | None, dotted: str) -> Any:
    cur: Any = values or {}
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


# --- external backends -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    """Where an external OpenAI-compatible API lives, as the Envoy Gateway Backend needs it."""

    hostname: str | None
    ip: str | None
    port: int
    tls: bool
    public: bool

    @property
    def host(self) -> str:
        return self.hostname or self.ip or ""


def is_public_host(host: str, cluster_domain: str = "cluster.local") -> bool:
    """False for loopback/private/link-local IPs, single-label names and cluster/private DNS suffixes (a Service
    name in the site's own cluster domain too: <svc>.<ns>.svc.<clusterDomain>)."""
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        internal = (*_INTERNAL_SUFFIXES, f".svc.{cluster_domain.strip('.').lower()}")
        return "." in host and not host.endswith(internal) and host != "localhost"
    return not (addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_reserved)


def parse_endpoint(url: str, *, insecure: bool = False, cluster_domain: str = "cluster.local") -> Endpoint:
    """``https://host[:port][/v1]`` -> Endpoint. Refuses what the gateway could not call, and plain http to a
    public host (the API key and every prompt would cross the internet unencrypted) unless ``insecure``; a Service
    of the cluster (``cluster_domain``: the site's) is not public."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:   # an unclosed IPv6 bracket: 'https://[::1'
        raise UsageError(f"--external {url!r} is not an http(s) URL",
                         "give the backend's OpenAI base URL, e.g. --external https://llm.example.org/v1") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--external {url!r} is not an http(s) URL",
                         "give the backend's OpenAI base URL, e.g. --external https://llm.example.org/v1")
    if parts.username or parts.password or parts.query or parts.fragment:
        # never echo that part: it is where a key typed into the URL sits (the error lands in terminals and CI logs)
        bare = f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if _port(parts) else ''}{parts.path}"
        what = " and ".join(w for w, there in (("credentials", parts.username or parts.password),
                                               ("a query", parts.query), ("a fragment", parts.fragment)) if there)
        raise UsageError(f"--external URL {bare!r} carries {what} (not shown)",
                         "put the API key in a Secret (--api-key-secret NAME) and give the bare base URL")
    path = parts.path.rstrip("/")
    if path not in ("", "/v1"):
        raise UsageError(f"--external {url!r}: base path {parts.path!r} is not /v1",
                         "the AI Gateway calls <backend>/v1/chat/completions; a backend under another prefix is "
                         "not supported by the chart (give https://host or https://host/v1)")
    host = parts.hostname.lower()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UsageError(f"--external {url!r}: {exc}", "ports are 1-65535") from exc
    try:
        ipaddress.ip_address(host)
        hostname, ip = None, host
    except ValueError:
        if not _HOSTNAME.match(host) or len(host) > 253:
            raise UsageError(f"--external {url!r}: {host!r} is not a DNS name", "check the URL") from None
        hostname, ip = host, None
    tls = parts.scheme == "https"
    public = is_public_host(host, cluster_domain)
    if not tls and public and not insecure:
        raise UsageError(f"refusing plain http to the public host {host}: API keys and prompts would travel "
                         f"unencrypted", f"use https://{host}{':' + str(parts.port) if parts.port else ''}"
                         f"{parts.path or ''}, or pass --insecure if you really mean it")
    return Endpoint(hostname=hostname, ip=ip, port=port, tls=tls, public=public)


def _port(parts: Any) -> int | None:
    try:
        return int(parts.port) if parts.port else None
    except ValueError:
        return None


def parse_secret_ref(spec: str) -> tuple[str, str]:
    """``NAME[:KEY]`` -> (name, key). The AI Gateway reads only the key ``apiKey``; any other key is refused with
    the command that makes a Secret it can read."""
    name, _, key = spec.partition(":")
    key = key or APIKEY_SECRET_KEY
    if not _HOSTNAME.match(name) or len(name) > 253:
        raise UsageError(f"--api-key-secret {spec!r}: {name!r} is not a Secret name", "give NAME or NAME:apiKey")
    if key != APIKEY_SECRET_KEY:
        # NAME[:KEY] invites pasting the API key itself after the colon: quote KEY only when it reads as a key name
        shown = key if len(key) <= 24 and re.fullmatch(r"[-._a-zA-Z0-9]+", key) else None
        raise UsageError(
            f"--api-key-secret {(name + ':' + shown) if shown else name + ':<not shown>'!r}: the AI Gateway's "
            f"BackendSecurityPolicy reads the key {APIKEY_SECRET_KEY!r} of the Secret, not "
            f"{repr(shown) if shown else 'the one after the colon (a key name, not the API key itself)'}",
            f"copy it into a Secret it can read: kubectl create secret generic {name}-apikey "
            f"--from-literal={APIKEY_SECRET_KEY}=\"$(kubectl get secret {name} -o jsonpath='{{.data.{shown or 'KEY'}}}' | "
            f"base64 -d)\" and pass --api-key-secret {name}-apikey")
    return name, key


def external_values(endpoint: Endpoint, served_name: str, api_key_secret: str | None,
                    owned_by: str | None = None) -> dict[str, Any]:
    """Chart values of an external release: the four gateway objects, no workload, no helm test."""
    ext: dict[str, Any] = {"port": endpoint.port, "tls": endpoint.tls}
    ext["hostname" if endpoint.hostname else "ip"] = endpoint.host
    gateway: dict[str, Any] = {"external": ext}
    if api_key_secret:
        gateway["apiKeySecret"] = {"name": api_key_secret}
    if owned_by:
        gateway["modelsOwnedBy"] = owned_by
    return {"mode": MODE_EXTERNAL, "model": {"id": served_name, "servedName": served_name}, "gateway": gateway,
            "test": {"enabled": False}}


# --- aliases -----------------------------------------------------------------------------------------------------
def release_kind(values: dict[str, Any] | None) -> str:
    """model / external / alias, from the release's values (the chart's default mode is model)."""
    mode = get_path(values, "mode") or MODE_MODEL
    return str(mode)


def served_name(values: dict[str, Any] | None) -> str | None:
    """The model name a release's backend answers to upstream (what an alias must send as modelNameOverride)."""
    return get_path(values, "gateway.modelNameOverride") or get_path(values, "model.servedName") or \
        get_path(values, "model.id")


def alias_targets(values: dict[str, Any] | None) -> list[dict[str, Any]]:
    """An alias release's backends: [{name, weight?, priority?, modelNameOverride?}]."""
    return list(get_path(values, "gateway.alias.backends") or [])


def parse_int_list(spec: str, flag: str) -> list[int]:
    try:
        items = [int(x) for x in spec.split(",")]
    except ValueError:
        raise UsageError(f"{flag} {spec!r} is not a comma-separated list of integers", f"e.g. {flag} 2,1") from None
    if any(i < 0 for i in items):
        raise UsageError(f"{flag} {spec!r}: weights must be >= 0", f"e.g. {flag} 2,1")
    return items


def alias_values(name: str, targets: list[str], releases: dict[str, dict[str, Any]], *,
                 weights: list[int] | None = None, fallback: bool = False,
                 allow_missing: bool = False) -> tuple[dict[str, Any], list[str]]:
    """Values of an alias release over ``targets`` (release names in the same namespace) and warnings.

    ``releases`` maps the namespace's llm-model releases to their values. Round-robin by weight (default 1 each),
    or ``fallback``: priority = position (0 first; the next one only gets traffic when the previous fails).
    """
    warnings: list[str] = []
    if not targets or any(not t for t in targets):
        raise UsageError("--to needs at least one release name", "e.g. --to qwen3,qwen3-nairr")
    if len(set(targets)) != len(targets):
        raise UsageError(f"--to names a release twice: {','.join(targets)}", "name each target once")
    if name in targets:
        raise UsageError(f"alias {name!r} cannot point at itself", "--to names other releases")
    if weights is not None and fallback:
        raise UsageError("--weights and --fallback are mutually exclusive",
                         "weights split traffic round-robin; --fallback sends everything to the first target")
    if weights is not None and len(weights) != len(targets):
        raise UsageError(f"--weights has {len(weights)} entries for {len(targets)} targets",
                         "give one weight per --to target, in the same order")
    if weights is not None and not any(weights):
        raise UsageError("--weights are all 0: no target would get traffic", "give at least one weight > 0")
    missing = [t for t in targets if t not in releases]
    if missing and not allow_missing:
        raise UsageError(f"alias target{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                         f"{'do' if len(missing) > 1 else 'does'} not exist in the namespace",
                         "add them first (kubectl llm add / add --external), or pass --allow-missing to route to "
                         "them once they exist")
    for t in missing:
        warnings.append(f"alias target {t!r} does not exist yet: requests routed to it fail until it is added")
    aliases = [t for t in targets if t in releases and release_kind(releases[t]) == MODE_ALIAS]
    if aliases:
        raise UsageError(f"{', '.join(aliases)} {'are aliases' if len(aliases) > 1 else 'is an alias'}: an alias has "
                         f"no backend of its own to route to",
                         f"point --to at the releases {aliases[0]!r} routes to")
    backends: list[dict[str, Any]] = []
    for i, t in enumerate(targets):
        b: dict[str, Any] = {"name": t}
        upstream = served_name(releases.get(t))
        if upstream:
            b["modelNameOverride"] = upstream
        if fallback:
            b["priority"] = i
        else:
            b["weight"] = weights[i] if weights is not None else 1
        backends.append(b)
    first = next((releases[t] for t in targets if t in releases), None)
    model_id = str(get_path(first, "model.id") or targets[0])
    served = str(served_name(first) or targets[0])
    values = {"mode": MODE_ALIAS, "model": {"id": model_id, "servedName": served},
              "gateway": {"alias": {"backends": backends}}, "test": {"enabled": False}}
    return values, warnings


def aliases_pointing_at(name: str, releases: dict[str, dict[str, Any]]) -> list[str]:
    """Names of alias releases that route to release ``name`` (sorted)."""
    return sorted(r for r, v in releases.items()
                  if release_kind(v) == MODE_ALIAS and any(b.get("name") == name and not b.get("namespace")
                                                           for b in alias_targets(v)))


def describe_targets(values: dict[str, Any]) -> str:
    """'a, b' (round-robin equal), 'a (2), b (1)' (weights) or 'a > b' (fallback order)."""
    backends = alias_targets(values)
    if any("priority" in b for b in backends):
        return " > ".join(b["name"] for b in sorted(backends, key=lambda b: b.get("priority", 0)))
    weights = {b.get("weight", 1) for b in backends}
    if len(weights) <= 1:
        return ", ".join(b["name"] for b in backends)
    return ", ".join(f"{b['name']} ({b.get('weight', 1)})" for b in backends)


# --- Chatbox -----------------------------------------------------------------------------------------------------
def _args_have(args: list[Any], *flags: str) -> bool:
    text = [str(a) for a in args]
    return any(a == f or a.startswith(f + "=") for a in text for f in flags)


def engine_concurrency(args: list[Any]) -> int | None:
    """How many sequences one copy of the engine runs at once, from its arguments (None when they do not say):
    SGLang's --max-running-requests is global (DP attention divides it among the ranks); vLLM's --max-num-seqs is
    per DP rank, so a --data-parallel-size N copy runs N times as many."""
    seqs = _flag_value(args, "--max-running-requests")
    if seqs is not None:
        return int(seqs) if seqs.isdigit() else None
    seqs = _flag_value(args, "--max-num-seqs")
    if seqs is None or not seqs.isdigit():
        return None
    dp = _flag_value(args, "--data-parallel-size")
    return int(seqs) * (int(dp) if dp and dp.isdigit() else 1)


def _flag_value(args: list[Any], *flags: str) -> str | None:
    text = [str(a) for a in args]
    for i, a in enumerate(text):
        for f in flags:
            if a == f and i + 1 < len(text):
                return text[i + 1]
            if a.startswith(f + "="):
                return a.split("=", 1)[1]
    return None


def capabilities(values: dict[str, Any] | None, multimodal: bool | None = None) -> list[str]:
    """Chatbox capabilities of a model release from what the plan decided: ``vision`` for a multimodal model
    (``multimodal`` from its config when the caller could read it, else the engine's multimodal flags),
    ``reasoning`` when a reasoning parser is set, ``tool_use`` when a tool-call parser is set."""
    args = list(get_path(values, "engine.args") or [])
    if multimodal is None:
        multimodal = _args_have(args, "--mm-encoder-tp-mode", "--mm-processor-cache-gb", "--mm-processor-cache-type")
    if _args_have(args, "--language-model-only"):
        multimodal = False
    caps: list[str] = []
    if multimodal:
        caps.append("vision")
    if _args_have(args, "--reasoning-parser"):
        caps.append("reasoning")
    if _args_have(args, "--tool-call-parser"):
        caps.append("tool_use")
    return caps


def context_window(values: dict[str, Any] | None) -> int | None:
    """The served max-model-len: engine.maxModelLen, else the --max-model-len / --context-length argument."""
    value = get_path(values, "engine.maxModelLen") or _flag_value(list(get_path(values, "engine.args") or []),
                                                                  "--max-model-len", "--context-length")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def route_of(name: str, values: dict[str, Any] | None) -> str:
    return str(get_path(values, "gateway.routeName") or name)


def chatbox_config(releases: dict[str, dict[str, Any]], *, api_host: str, provider_id: str,
                   provider_name: str = "NRP", multimodal: dict[str, bool] | None = None,
                   overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Chatbox's custom-provider import document (src/renderer/utils/provider-config.ts) for the namespace's
    releases: one model per route, contextWindow = served max-model-len, capabilities from the engine flags.

    An alias inherits the smallest context window and the capabilities all its targets share (a request may land
    on any of them); an external backend has neither unless ``overrides[name]`` says so (its engine is elsewhere).
    The API key is always empty: each user pastes their own token.
    """
    overrides = overrides or {}

    def model_entry(name: str, values: dict[str, Any]) -> dict[str, Any] | None:
        kind = release_kind(values)
        if get_path(values, "gateway.enabled") is False:
            return None
        if kind == MODE_ALIAS:
            infos = [model_entry(b["name"], releases[b["name"]]) for b in alias_targets(values)
                     if b.get("name") in releases and not b.get("namespace")]
            infos = [i for i in infos if i]
            entry: dict[str, Any] = {"modelId": route_of(name, values)}
            if infos:
                shared = [c for c in infos[0].get("capabilities", []) if all(c in i.get("capabilities", [])
                                                                            for i in infos)]
                windows = [i["contextWindow"] for i in infos if "contextWindow" in i]
                if shared:
                    entry["capabilities"] = shared
                if windows and len(windows) == len(infos):
                    entry["contextWindow"] = min(windows)
        else:
            entry = {"modelId": route_of(name, values)}
            if kind == MODE_MODEL:
                caps = capabilities(values, (multimodal or {}).get(name))
                if caps:
                    entry["capabilities"] = caps
                window = context_window(values)
                if window:
                    entry["contextWindow"] = window
        entry.update(overrides.get(name, {}))
        return entry

    models = [e for e in (model_entry(n, releases[n]) for n in sorted(releases)) if e]
    models.sort(key=lambda m: m["modelId"])
    return {"id": provider_id, "name": provider_name, "type": "openai",
            "settings": {"apiHost": api_host, "apiKey": "", "models": models}}


def chatbox_link(config: dict[str, Any]) -> str:
    """The deep link Chatbox (>= 1.15.1) imports: chatbox://provider/import?config=<base64(JSON)>, URL-encoded."""
    raw = json.dumps(config, separators=(",", ":"), ensure_ascii=False).encode()
    return "chatbox://provider/import?config=" + quote(base64.b64encode(raw).decode(), safe="")


# --- the cluster's GPUs ------------------------------------------------------------------------------------------
def tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    """Kubernetes' rule: a toleration matches a taint by key (or empty key + Exists), value (Equal) and effect."""
    if taint.get("effect") == "PreferNoSchedule":
        return True   # a preference, never a refusal
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and str(t.get("value", "")) == str(taint.get("value", "")):
            return True
    return False


def matches_affinity(expressions: list[dict[str, Any]], labels: dict[str, str]) -> bool:
    """One nodeSelectorTerm's matchExpressions against a node's labels (In, NotIn, Exists, DoesNotExist, Gt, Lt)."""
    for e in expressions:
        key, op, vals = e.get("key"), e.get("operator"), [str(v) for v in e.get("values") or []]
        have = labels.get(key)
        if op == "In" and have not in vals:
            return False
        if op == "NotIn" and have in vals:
            return False
        if op == "Exists" and have is None:
            return False
        if op == "DoesNotExist" and have is not None:
            return False
        if op in ("Gt", "Lt"):
            try:
                a, b = int(str(have)), int(vals[0])
            except (TypeError, ValueError, IndexError):
                return False
            if (op == "Gt" and not a > b) or (op == "Lt" and not a < b):
                return False
    return True


def usable_bytes(memory_mib: int) -> int:
    """What CUDA reports as total for a card known only by its gpu.memory label: the label minus ~0.6 GiB (the
    catalog's rule for cards without a measured value, data/gpus.yaml)."""
    return memory_mib * 2**20 - int(0.6 * 2**30)


@dataclass(frozen=True)
class GpuCandidate:
    """One GPU type present in the cluster, as planned: does the model fit, on how many, and where it could go."""

    gpu: str                       # catalog name, or the product label for a type absent from the catalog
    in_catalog: bool
    fits: bool
    count: int                     # GPUs the plan needs (0 when it does not fit)
    reserved_bytes: int            # count x per-GPU memory: what the plan takes from the cluster
    nodes_now: tuple[str, ...]     # nodes with `count` free GPUs, matching the plan's affinity, taints tolerated
    reason: str = ""


def choose_gpu(candidates: list[GpuCandidate]) -> GpuCandidate | None:
    """Among the cluster's types that fit: one with a node that has the needed count free now, else any; the least
    reserved GPU memory wins (the planner's own rule), then the fewest GPUs, then the name."""
    fitting = [c for c in candidates if c.fits]
    if not fitting:
        return None
    now = [c for c in fitting if c.nodes_now]
    pool = now or fitting
    return min(pool, key=lambda c: (c.reserved_bytes, c.count, c.gpu))

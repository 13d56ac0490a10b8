"""Where a model comes from: a local directory, the Hugging Face Hub (or its local cache), or the embedded catalog.

``load_model`` is the one entry point the CLI calls. huggingface_hub is imported only inside ``HfHubClient``
(~0.25 s), so planning a local directory or a catalog model never pays for it. Hub failures are translated into
``kubectl_llm.errors`` exceptions with a one-line message and a hint; a token never appears in any of them.

Resolution for a repo id:
  offline (``offline=True`` or HF_HUB_OFFLINE=1) -> the HF cache -> the embedded catalog;
  online -> the Hub; when it is unreachable (a 3 s TCP probe, then any connection error) -> the HF cache (with a
  warning: a cached copy may be stale) -> the embedded catalog (silently: it is the model's own config, and the
  plan's text names it; only an ignored --revision is warned about).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from pathlib import Path
from typing import Callable, Mapping, NoReturn, Protocol

from .. import catalog
from ..errors import BadModelConfig, GatedModel, HubUnreachable, LlmError, ModelNotFound, ModelSourceError
from ..planner.source import ModelSource, WeightMetadata
from .local import CHAT_TEMPLATE_FILES, load_local, parse_config, read_chat_template, read_weights, weights_from_counts

log = logging.getLogger("kubectl_llm.sources")

Warn = Callable[[str], None]

_TRUE = {"1", "ON", "YES", "TRUE"}  # huggingface_hub's own reading of boolean env vars
# HF repo ids: "name" or "org/name"; letters, digits, '-', '_', '.'; no '--' or '..' (huggingface_hub validation).
_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]{0,95}/)?[A-Za-z0-9][\w.-]{0,95}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
HUB_WEIGHTS_SOURCE = "hub safetensors metadata"


class HubClient(Protocol):
    """The two Hub calls the planner needs. Tests pass a JSON-backed fake; errors are huggingface_hub's own."""

    def download_config(self, repo_id: str, *, revision: str | None, token: str | None,
                        local_files_only: bool) -> str:
        """Local path of the repo's config.json (downloaded into the HF cache unless ``local_files_only``)."""
        ...

    def parameter_count(self, repo_id: str, *, revision: str | None,
                        token: str | None) -> Mapping[str, int] | None:
        """Safetensors element count per dtype, from the shard headers only; None if the repo has no safetensors."""
        ...

    def requires_token(self, repo_id: str, *, revision: str | None) -> bool | None:
        """Does the Hub refuse config.json to an anonymous client (gated or private repo)? None when unknown."""
        ...

    # Optional (clients without it give plans no chat-template cross-check):
    # def download_file(self, repo_id, filename, *, revision, token) -> str | None
    #     Local path of a small repo file (chat_template.jinja, tokenizer_config.json); None when the repo has none.


class HfHubClient:
    """The real client: huggingface_hub's ``hf_hub_download`` and ``HfApi.get_safetensors_metadata``."""

    def __init__(self) -> None:
        self._reachable: bool | None = None

    def download_config(self, repo_id: str, *, revision: str | None, token: str | None,
                        local_files_only: bool) -> str:
        from huggingface_hub import hf_hub_download

        # huggingface_hub retries a failed HEAD five times with back-off (~25 s with no network); one quick TCP
        # probe turns an air-gapped run into an immediate cache/catalog lookup instead.
        if not local_files_only and not self.reachable():
            local_files_only = True
        # cache_dir is passed explicitly: huggingface_hub reads HF_HUB_CACHE once, at import time.
        return str(hf_hub_download(repo_id, "config.json", revision=revision, token=token,
                                   local_files_only=local_files_only, cache_dir=hf_cache_dir()))

    def download_file(self, repo_id: str, filename: str, *, revision: str | None, token: str | None) -> str | None:
        """A small file of the repo (into the HF cache), or None when the repo has no such file."""
        from huggingface_hub import hf_hub_download

        if not self.reachable():
            return None
        try:
            return str(hf_hub_download(repo_id, filename, revision=revision, token=token, cache_dir=hf_cache_dir()))
        except Exception as exc:  # noqa: BLE001 - only a cross-check: a missing or unreadable file is no error
            log.debug("no %s for %s: %s", filename, repo_id, type(exc).__name__)
            return None

    def reachable(self) -> bool:
        """Can a TCP connection to the Hub endpoint be opened? Not probed behind a proxy (only the proxy knows)."""
        if self._reachable is None:
            self._reachable = _probe(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
        return self._reachable

    def parameter_count(self, repo_id: str, *, revision: str | None,
                        token: str | None) -> Mapping[str, int] | None:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import NotASafetensorsRepoError

        if not self.reachable():
            raise ConnectionError("the Hugging Face Hub endpoint is unreachable")
        try:
            meta = HfApi().get_safetensors_metadata(repo_id, revision=revision, token=token)
        except NotASafetensorsRepoError:
            return None  # e.g. a .bin-only repo: the planner estimates from the config
        return dict(meta.parameter_count)


    def requires_token(self, repo_id: str, *, revision: str | None) -> bool | None:
        from huggingface_hub import get_hf_file_metadata, hf_hub_url

        if not self.reachable():
            return None
        try:  # token=False: ask as the pod will, with no token (a HEAD request, nothing downloaded)
            get_hf_file_metadata(hf_hub_url(repo_id, "config.json", revision=revision), token=False, timeout=10)
        except Exception as exc:  # noqa: BLE001 - classified; anything else means: could not tell
            return True if _classify(exc) in ("gated", "not_found", "auth") else None
        return False


def _probe(endpoint: str, timeout: float = 3.0) -> bool:
    if any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                                             "ALL_PROXY", "all_proxy")):
        return True
    import socket   # here, not at the top: planning a local directory or a catalog model never probes
    from urllib.parse import urlsplit

    try:
        url = urlsplit(endpoint)
        port = url.port or (443 if url.scheme == "https" else 80)
    except ValueError:   # a malformed HF_ENDPOINT: let the Hub client say what it makes of it
        return True
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


# --- environment ------------------------------------------------------------------------------------------------
def hf_cache_dir() -> Path:
    """The HF hub cache directory, resolved from the environment exactly like huggingface_hub.constants."""
    env = os.environ
    explicit = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    home = env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE


def env_token() -> str | None:
    return os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or None


def cache_repo_dir(repo_id: str) -> Path:
    return hf_cache_dir() / ("models--" + repo_id.replace("/", "--"))


# --- public API ---------------------------------------------------------------------------------------------------
def list_catalog() -> list[str]:
    """Model ids of the embedded catalog (work offline with no cache)."""
    return catalog.model_ids()


def is_local_ref(ref: str) -> bool:
    """A path-looking ref, or anything that exists as a directory, is a local model."""
    return ref in (".", "..") or ref.startswith(("./", "../", "/", "~", ".\\")) or os.path.isdir(ref)


def load_model(ref: str, *, token: str | None = None, revision: str | None = None,
               offline: bool | None = None, hub: HubClient | None = None, warn: Warn | None = None,
               check_token: bool = False) -> ModelSource:
    """Resolve MODEL (a local directory or an HF repo id) to its config and weight metadata.

    ``warn`` receives human-readable warnings (e.g. "the plan uses the embedded catalog copy"); by default they go to
    the ``kubectl_llm.sources`` logger. ``hub`` replaces the real Hub client (tests). ``check_token`` (add/upgrade)
    also asks the Hub whether an anonymous download is refused, i.e. whether the pod will need a token.
    """
    say: Warn = warn or log.warning
    if is_local_ref(ref):
        return load_local(ref)
    repo_id = _check_repo_id(ref)
    token = token or env_token()
    if hub_offline() if offline is None else offline:
        return _load_offline(repo_id, revision, token, hub, say)
    client = hub or HfHubClient()
    if isinstance(client, HfHubClient) and not client.reachable():
        return _load_offline(repo_id, revision, token, None, say, hub_down=True)
    source = _load_online(repo_id, revision, token, client, say)
    if check_token and source.origin == "hub":
        source = dataclasses.replace(source, requires_token=client.requires_token(repo_id, revision=revision))
    return source


# What users paste instead of a repo id: the model page's URL (its tree/blob/resolve paths too) or `ORG/NAME/`.
_PASTED_ID = re.compile(r"^(?:(?:https?://)?(?:www\.)?(?:huggingface\.co|hf\.co)/"
                        r"([A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95})(?:[/?#].*)?"
                        r"|([A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95})(?:/(?:tree|blob|resolve)/.*|/))$")


def _check_repo_id(ref: str) -> str:
    if not _REPO_ID.match(ref) or "--" in ref or ".." in ref:
        pasted = _PASTED_ID.match(ref)
        repo_id = pasted and (pasted.group(1) or pasted.group(2))
        if repo_id and _REPO_ID.match(repo_id) and "--" not in repo_id and ".." not in repo_id:
            hint = f"pass the repo id alone: {repo_id}"
        else:
            hint = "pass an existing directory holding config.json, or an id such as Qwen/Qwen3-8B"
        raise ModelNotFound(f"{ref!r} is neither a local directory nor a Hugging Face repo id", hint=hint)
    return ref


# --- offline: HF cache, then catalog ------------------------------------------------------------------------------
def _load_offline(repo_id: str, revision: str | None, token: str | None, hub: HubClient | None,
                  say: Warn, *, hub_down: bool = False) -> ModelSource:
    """Offline mode, or online with the Hub unreachable (``hub_down``: then say where the model came from)."""
    path = None
    # Without an injected client, look at the cache layout first: no repo folder -> no library import at all.
    if hub is not None or cache_repo_dir(repo_id).is_dir():
        try:
            path = (hub or HfHubClient()).download_config(repo_id, revision=revision, token=token,
                                                          local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - classified below, unknown ones re-raised
            if _classify(exc) != "unreachable":
                _reraise(exc, repo_id, revision, token)
    if path is not None:
        source = _from_snapshot(repo_id, Path(path), revision, origin="hub-cache")
        if hub_down:
            say(f"the Hugging Face Hub is unreachable; using the HF cache copy of {repo_id} (revision {source.revision})")
        return source
    entry = catalog.load(repo_id)
    if entry is not None:
        # A catalog hit needs no warning, whether the Hub is down or HF_HUB_OFFLINE is set: the embedded config is
        # the model's own, and the plan's text says where it came from. Only a revision that cannot be honoured is.
        if revision:
            say(f"revision {revision!r} ignored: {entry.model_id} comes from the embedded catalog "
                + ("(the Hugging Face Hub is unreachable)" if hub_down else "(not in the HF cache)"))
        return entry
    if hub_down:
        raise HubUnreachable(f"cannot reach the Hugging Face Hub for {repo_id}, and it is neither in the local HF "
                             "cache nor in the embedded catalog",
                             hint="check the network (HF_ENDPOINT, HTTPS_PROXY), pass a local directory with "
                                  "config.json, or plan one of the embedded catalog models" + _did_you_mean(repo_id))
    raise HubUnreachable(
        f"{repo_id} is neither in the local Hugging Face cache ({hf_cache_dir()}) nor in the embedded catalog, "
        "and offline mode forbids downloading it",
        hint="unset HF_HUB_OFFLINE to download it, pass a local directory with config.json, or plan one of the "
             f"{len(list_catalog())} embedded models" + _did_you_mean(repo_id))


# --- online: Hub, then catalog ------------------------------------------------------------------------------------
def _load_online(repo_id: str, revision: str | None, token: str | None, hub: HubClient, say: Warn) -> ModelSource:
    try:
        path = Path(hub.download_config(repo_id, revision=revision, token=token, local_files_only=False))
    except Exception as exc:  # noqa: BLE001
        if _classify(exc) == "unreachable":
            return _catalog_fallback(repo_id, revision, exc, say)
        _reraise(exc, repo_id, revision, token)
    source = _from_snapshot(repo_id, path, revision, origin="hub", read_cached_weights=False)
    resolved = source.revision if source.revision and _COMMIT.match(source.revision) else revision
    source = _with_chat_template(source, hub, resolved, token)
    try:
        counts = hub.parameter_count(repo_id, revision=resolved, token=token)
    except Exception as exc:  # noqa: BLE001
        kind = _classify(exc)
        if kind in ("gated", "not_found", "revision", "auth", "disabled"):
            _reraise(exc, repo_id, revision, token)
        weights = read_weights(path.parent)
        say(f"could not read the safetensors metadata of {repo_id} ({type(exc).__name__}); "
            + ("using the cached shards' headers" if weights else "the planner estimates the weight size from config.json"))
        return _with_weights(source, weights)
    weights = weights_from_counts(counts, HUB_WEIGHTS_SOURCE) if counts else None
    if counts and weights is None:
        say(f"{repo_id} uses a safetensors dtype this tool does not know ({', '.join(sorted(counts))}); "
            "the planner estimates the weight size from config.json")
    return _with_weights(source, weights)


def _catalog_fallback(repo_id: str, revision: str | None, exc: BaseException, say: Warn) -> ModelSource:
    entry = catalog.load(repo_id)
    if entry is None:
        raise HubUnreachable(f"cannot reach the Hugging Face Hub for {repo_id} ({type(exc).__name__}), "
                             "and the model is not in the embedded catalog",
                             hint="set HF_HUB_OFFLINE=1 to use the local HF cache, pass a local directory with "
                                  "config.json, or plan one of the embedded catalog models" + _did_you_mean(repo_id))
    if revision:  # otherwise silent, as in _load_offline: the catalog copy is the model's own config
        say(f"revision {revision!r} ignored: {entry.model_id} comes from the embedded catalog (the Hugging Face Hub "
            "is unreachable)")
    return entry


# --- shared helpers -----------------------------------------------------------------------------------------------
def _from_snapshot(repo_id: str, config_path: Path, revision: str | None, *, origin: str,
                   read_cached_weights: bool = True) -> ModelSource:
    """A ModelSource from a config.json in an HF cache snapshot (``.../snapshots/<commit>/config.json``)."""
    try:
        text = config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadModelConfig(f"cannot read the cached config.json of {repo_id}: {type(exc).__name__}",
                             hint="delete the model's folder in the HF cache and retry") from exc
    config = parse_config(text, f"config.json of {repo_id}")
    snapshot = config_path.parent
    commit = snapshot.name if snapshot.parent.name == "snapshots" else revision
    weights = read_weights(snapshot) if read_cached_weights else None
    template, template_source = read_chat_template(snapshot, repo_id)
    if weights is None and read_cached_weights:
        # The cache often holds config.json alone; if it is the very config the catalog embeds, so are the bytes.
        entry = catalog.load(repo_id)
        if entry is not None and entry.config == config:
            weights = entry.weights
    return ModelSource(model_id=repo_id, config=config, weights=weights, origin=origin, revision=commit,
                       chat_template=template, chat_template_source=template_source)


def _with_weights(source: ModelSource, weights: WeightMetadata | None) -> ModelSource:
    return dataclasses.replace(source, weights=weights)


def _with_chat_template(source: ModelSource, hub: HubClient, revision: str | None, token: str | None) -> ModelSource:
    """The repo's chat template (chat_template.jinja, else tokenizer_config.json), fetched alone: only small files."""
    if source.chat_template:
        return source
    fetch = getattr(hub, "download_file", None)
    if fetch is None:
        return source
    for name in CHAT_TEMPLATE_FILES:
        try:
            local = fetch(source.model_id, name, revision=revision, token=token)
        except Exception as exc:  # noqa: BLE001 - a cross-check only; never fail a plan for it
            log.debug("no %s for %s: %s", name, source.model_id, type(exc).__name__)
            continue
        if local:
            template, where = read_chat_template(Path(local).parent, source.model_id)
            if template:
                return dataclasses.replace(source, chat_template=template, chat_template_source=where)
    return source


def _did_you_mean(repo_id: str) -> str:
    """The embedded catalog model the user most likely meant: the same id in other letter case, else the longest
    catalog id the typed one extends (Qwen/Qwen3-235B-A22B for Qwen/Qwen3-235B-A22B-Instruct-2507: the same
    architecture and size), else the closest spelling (case-insensitive)."""
    import difflib

    catalog = list_catalog()
    folded = {c.lower(): c for c in catalog}
    typed = repo_id.lower()
    extended = [c for low, c in folded.items()
                if typed.startswith(low) and typed[len(low):len(low) + 1] in ("", "-", "_", ".")]
    close = difflib.get_close_matches(typed, list(folded), n=1, cutoff=0.75)
    best = folded.get(typed) or (max(extended, key=len) if extended else folded[close[0]] if close else None)
    return f" (did you mean {best}?)" if best else ""


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _classify(exc: BaseException) -> str:
    """gated | not_found | revision | no_config | disabled | auth | unreachable | other.

    Read from class names along the MRO so this works without importing huggingface_hub or its HTTP library
    (httpx, or httpx2 in huggingface_hub 2.x). Order matters: GatedRepoError subclasses RepositoryNotFoundError.
    """
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "GatedRepoError" in names:
        return "gated"
    if "RepositoryNotFoundError" in names:
        return "not_found"
    if "RevisionNotFoundError" in names:
        return "revision"
    if "RemoteEntryNotFoundError" in names:
        return "no_config"
    if "DisabledRepoError" in names:
        return "disabled"
    if names & {"LocalEntryNotFoundError", "OfflineModeIsEnabled", "TransportError", "ConnectionError",
                "TimeoutError"}:
        return "unreachable"
    status = _status(exc)
    if status in (401, 403):
        return "auth"
    if status is not None and (status >= 500 or status == 429):
        return "unreachable"  # Hub down or rate-limited: as good as unreachable for this run
    return "other"


def _reraise(exc: BaseException, repo_id: str, revision: str | None, token: str | None) -> NoReturn:
    """Raise the user-facing form of a Hub failure; anything unrecognised is a bug and keeps its traceback."""
    if isinstance(exc, LlmError):
        raise exc
    error = _translate(exc, repo_id, revision, token)
    if error is None:
        raise exc
    raise error from exc


def _translate(exc: BaseException, repo_id: str, revision: str | None, token: str | None) -> LlmError | None:
    """A huggingface_hub failure as a user-facing error. Messages are ours: no server text, never the token."""
    kind = _classify(exc)
    page = f"https://huggingface.co/{repo_id}"
    if kind == "gated":
        if token:
            return GatedModel(f"{repo_id} is gated and the Hugging Face token in use has no access to it",
                              hint=f"accept the licence on {page} with the token's account, or export HF_TOKEN "
                                   "with a token of an account that has access")
        return GatedModel(f"{repo_id} is gated on the Hugging Face Hub and no token was given",
                          hint=f"accept the licence on {page}, then export HF_TOKEN=<token with read access>")
    if kind == "not_found":
        private = ("if it is private, the token in use cannot see it" if token
                   else "if it is private, export HF_TOKEN=<token with read access>")
        return ModelNotFound(f"model {repo_id} not found on the Hugging Face Hub",
                             hint=f"check the repo id on huggingface.co; {private}{_did_you_mean(repo_id)}")
    if kind == "revision":
        return ModelNotFound(f"revision {revision!r} not found in {repo_id}",
                             hint="pass an existing branch, tag or commit of the repo (default: main)")
    if kind == "no_config":
        return BadModelConfig(f"{repo_id} has no config.json (not a transformers checkpoint, e.g. GGUF only)",
                              hint="pick the repo holding the original safetensors checkpoint, or pass a local "
                                   "directory with config.json")
    if kind == "disabled":
        return ModelNotFound(f"{repo_id} has been disabled on the Hugging Face Hub", hint="pick another repo")
    if kind == "auth":
        return GatedModel(f"the Hugging Face Hub refused access to {repo_id} (HTTP {_status(exc)})",
                          hint="HF_TOKEN is invalid or expired: create a new read token on huggingface.co"
                          if token else "export HF_TOKEN=<token with read access>")
    if kind == "unreachable":
        return HubUnreachable(f"cannot reach the Hugging Face Hub for {repo_id} ({type(exc).__name__})")
    if _status(exc) is None:
        return None
    return ModelSourceError(f"the Hugging Face Hub failed for {repo_id} ({type(exc).__name__}, "
                            f"HTTP {_status(exc)})", hint="retry later, or pass a local directory")

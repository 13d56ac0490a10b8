"""Find, read and validate the site profile (the only I/O around it; the planner gets a ready Site).

Where the site comes from, first match wins:
  1. ``--site FILE``;
  2. ``$KUBECTL_LLM_SITE`` (a file path);
  3. ``$XDG_CONFIG_HOME/kubectl-llm/site.yaml`` (``~/.config/kubectl-llm/site.yaml``) when it exists;
  4. the profile shipped in the package: NRP Nautilus (``kubectl_llm/sites/nrp.yaml``).
A user file is validated against ``kubectl_llm/sites/site.schema.json`` (draft-07, closed objects): every
violation is reported with its key path (``tolerations[0].effct: unknown key``), and the first becomes the one
``error:`` line. The shipped file is validated by the tests, not on every run (jsonschema costs ~0.1 s to import).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubectl_llm.errors import SiteError
from kubectl_llm.planner.site import DEFAULT_SITE_RESOURCE, Site, default_site, gpu_name_key, site_from_document

PACKAGE = Path(__file__).resolve().parents[1]   # kubectl_llm/

ENV_VAR = "KUBECTL_LLM_SITE"
SCHEMA_RESOURCE = "sites/site.schema.json"


@dataclass(frozen=True)
class LoadedSite:
    site: Site
    origin: str          # "--site FILE", "$KUBECTL_LLM_SITE (FILE)", "FILE (user config)", "built-in (...)"
    path: str | None     # the file read, None for the built-in profile


def user_config_path(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config")
    return Path(base) / "kubectl-llm" / "site.yaml"


def load_site(option: str | None = None, environ: dict[str, str] | None = None) -> LoadedSite:
    """The site in effect for this command (see the module docstring for the order)."""
    env = os.environ if environ is None else environ
    if option:
        return _from_file(Path(option), f"--site {option}")
    if env.get(ENV_VAR):
        return _from_file(Path(env[ENV_VAR]), f"${ENV_VAR} ({env[ENV_VAR]})")
    user = user_config_path(env)
    if user.is_file():
        return _from_file(user, f"{user} (user config)")
    return LoadedSite(default_site(), f"built-in ({DEFAULT_SITE_RESOURCE} in the kubectl_llm package)", None)


def schema() -> dict[str, Any]:
    return json.loads((PACKAGE / SCHEMA_RESOURCE).read_text(encoding="utf-8"))


def violations(doc: Any) -> list[str]:
    """Every way ``doc`` breaks site.schema.json, as 'path: reason' lines (empty when valid)."""
    import jsonschema

    validator = jsonschema.Draft7Validator(schema())
    out = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
        out.extend(_explain(err))
    return out


def _path(parts: Any) -> str:
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text


def _explain(err: Any) -> list[str]:
    where = _path(err.absolute_path)
    if err.validator == "additionalProperties":
        known = sorted((err.schema.get("properties") or {}).keys())
        extra = sorted(set(err.instance) - set(known)) if isinstance(err.instance, dict) else []
        return [f"{_path([*err.absolute_path, k])}: unknown key (allowed here: {', '.join(known)})" for k in extra]
    if err.validator == "oneOf" and err.context:
        # every alternative's reason: driverRule -5 is no name AND below the integers' minimum; the first alone
        # ('not one of [image, none]') hid that a number is allowed
        reasons = list(dict.fromkeys(c.message for c in err.context))
        return [f"{where or '(top)'}: {'; or '.join(reasons)}"]
    return [f"{where or '(top)'}: {err.message}"]


def _from_file(path: Path, origin: str) -> LoadedSite:
    from kubectl_llm import yamlio

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SiteError(f"site file {path} not found ({origin})",
                        "pass an existing file with --site, or unset $KUBECTL_LLM_SITE") from None
    except OSError as exc:
        raise SiteError(f"cannot read site file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SiteError(f"site file {path} is not UTF-8 text") from None
    try:
        doc = yamlio.load_user(text)
    except yamlio.YAMLError as exc:
        raise SiteError(f"site file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    except yamlio.NotPlainData as exc:
        raise SiteError(f"site file {path}: {exc}") from None
    if doc is None:
        doc = {}
    problems = violations(doc)
    if problems:
        more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:4])})" if len(problems) > 1 else ""
        raise SiteError(f"site file {path}: {problems[0]}{more}")
    if doc.get("gpusMode") == "replace" and not doc.get("gpus"):
        raise SiteError(f"site file {path}: gpusMode: replace with no gpus leaves no GPU type to plan on",
                        "list the cluster's GPU types under gpus: ('kubectl llm gpus -o yaml' prints entries in that "
                        "form), or drop gpusMode to add to the built-in catalog")
    _check_gpus(path, doc.get("gpus") or [], replace=doc.get("gpusMode") == "replace")
    _check_tolerations(path, [("tolerations", doc.get("tolerations") or []),
                              ("largeGpu.tolerations", (doc.get("largeGpu") or {}).get("tolerations") or [])])
    return LoadedSite(site_from_document(doc), origin, str(path))


def _check_tolerations(path: Path, lists: list[tuple[str, list[dict[str, Any]]]]) -> None:
    """The API server's rules for a toleration (core/v1 validation) the schema cannot say: every model Pod would
    otherwise be refused at install time (the Deployment's 422 after helm ran), or never created (a
    LeaderWorkerSet's), while `add --dry-run=client` passed."""
    for where, tolerations in lists:
        for i, t in enumerate(tolerations):
            at, operator = f"{where}[{i}]", t.get("operator") or "Equal"
            problem = ("an empty key needs operator: Exists (it then tolerates every taint)"
                       if not t.get("key") and operator != "Exists" else
                       f"value {t['value']!r} with operator: Exists (a value needs operator: Equal)"
                       if operator == "Exists" and t.get("value") else
                       f"tolerationSeconds with effect: {t.get('effect') or '(any)'} (only NoExecute has it)"
                       if "tolerationSeconds" in t and t.get("effect") != "NoExecute" else "")
            if problem:
                raise SiteError(f"site file {path}: {at}: {problem}",
                                "the API server refuses such a Pod (the rules of core/v1 Toleration); fix the "
                                "entry in the site file")


def _check_gpus(path: Path, entries: list[dict[str, Any]], *, replace: bool) -> None:
    """What the schema cannot say about the site's GPU types: each named once (as --gpu matches names: the
    second entry of a name was silently dropped), no more usable memory than the card has (usable_gib 470 for
    a 48 GiB card, a slipped decimal point, planned models on memory that does not exist), and each product label
    one type's (in gpusMode add, a site's H200-141 with product NVIDIA-H200 beside the built-in H200: --gpu
    NVIDIA-H200 planned on the built-in type's resource, --gpu auto on the site's)."""
    from kubectl_llm.planner.gpus import load_gpu_catalog

    names = {gpu_name_key(str(g["name"])) for g in entries}
    owner: dict[str, str] = {} if replace else {
        gpu_name_key(p): f"the built-in type {b.name} (gpusMode add keeps it; an entry named {b.name} replaces it)"
        for b in load_gpu_catalog() if gpu_name_key(b.name) not in names for p in b.products}
    for i, g in enumerate(entries):
        for product in g.get("products") or ():
            if gpu_name_key(str(product)) in owner:
                raise SiteError(f"site file {path}: gpus[{i}].products: {product!r} is also a product of "
                                f"{owner[gpu_name_key(str(product))]}",
                                "give each product label to one GPU type (the node label names the card, --gpu "
                                "takes it too)")
        owner.update({gpu_name_key(str(p)): f"gpus[{i}] ({g['name']})" for p in g.get("products") or ()})
    seen: dict[str, int] = {}
    for i, g in enumerate(entries):
        key = gpu_name_key(str(g["name"]))
        if key in seen:
            first = entries[seen[key]]["name"]
            raise SiteError(f"site file {path}: gpus[{i}].name: {g['name']!r} names the same type as gpus[{seen[key]}] "
                            f"({first!r}; names match as --gpu matches them: case, spaces, underscores and an "
                            f"'nvidia-' prefix ignored)", "give each GPU type one entry, or distinct names")
        seen[key] = i
        card_gib = int(g["memory_mib"]) / 1024
        if float(g["usable_gib"]) > card_gib:
            raise SiteError(f"site file {path}: gpus[{i}].usable_gib: {g['usable_gib']} GiB is more than the card "
                            f"has (memory_mib {g['memory_mib']} = {card_gib:.2f} GiB)",
                            "usable_gib is the total memory CUDA reports, ~0.6 GiB below the card's "
                            "(kubectl llm gpus -o yaml lists both for the built-in types)")

"""Offline, strict validation of rendered Kubernetes manifests (no API server can run in CI).

Why this module exists: `helm lint` and `helm template` accept any field under a custom resource, and
kubernetes-validate knows no custom resources at all (it silently skips them). A typo in a chart would then only
surface as a field the API server prunes at install time. So:

* core kinds are checked with ``kubernetes_validate.validate(obj, version, strict=True)`` (unknown fields fail; a
  missing schema is a failure, never a skip);
* custom kinds are checked against the ``openAPIV3Schema`` of the real CRDs vendored in ``tests/data/crds/``
  (byte copies of ``../shared/crds``, see its SOURCES.md; override with ``$KUBECTL_LLM_CRD_DIR``), version
  picked by ``apiVersion`` (absent or not-served versions fail), after adding ``additionalProperties: false``
  to every object node that lists ``properties`` and does not opt out, which is what the API server's strict field
  validation does; their ``metadata`` is checked against kubernetes-validate's
  ObjectMeta definition;
* a kind with no schema anywhere fails.

Not covered (documented limits): CEL ``x-kubernetes-validations``, list-map uniqueness, defaulting.

It also renders charts for tests (:func:`render_chart`) and checks values against a chart's schema
(:func:`validate_values`). The CLI tests import it too.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate import utils as kv_utils
from referencing import Registry, Resource

REPO_ROOT = Path(__file__).resolve().parents[1]
CHARTS_DIR = REPO_ROOT / "charts"
DEFAULT_CRD_DIR = REPO_ROOT / "tests" / "data" / "crds"   # vendored copies of ../shared/crds (SOURCES.md)
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # libyaml: the CRDs are MBs of YAML
OBJECT_META_REF = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class HelmTemplateError(AssertionError):
    """`helm template` (or lint) exited non-zero; ``stderr`` holds helm's message (schema or fail() errors)."""

    def __init__(self, cmd: Sequence[str], stderr: str) -> None:
        super().__init__(f"{' '.join(cmd)} failed:\n{stderr}")
        self.stderr = stderr


# --- CRDs ------------------------------------------------------------------------------------------------------
def crd_dir() -> Path:
    """Where the CRD YAMLs live: $KUBECTL_LLM_CRD_DIR or the vendored tests/data/crds."""
    return Path(os.environ.get("KUBECTL_LLM_CRD_DIR", DEFAULT_CRD_DIR))


@lru_cache(maxsize=1)
def _crd_index() -> dict[tuple[str, str], dict[str, Any]]:
    """(group, kind) -> CRD document, for every CRD under crd_dir()."""
    root = crd_dir()
    files = sorted(root.rglob("*.yaml"))
    if not files:
        raise AssertionError(f"no CRD YAML under {root} (set $KUBECTL_LLM_CRD_DIR)")
    index: dict[tuple[str, str], dict[str, Any]] = {}
    for path in files:
        with path.open() as fh:
            for doc in yaml.load_all(fh, Loader=LOADER):  # ai-gateway files start with an empty document
                if doc and doc.get("kind") == "CustomResourceDefinition":
                    spec = doc["spec"]
                    index[(spec["group"], spec["names"]["kind"])] = doc
    return index


def strictify(schema: Any) -> Any:
    """Copy of ``schema`` where every object node with ``properties`` rejects unknown fields.

    Nodes that already say something about ``additionalProperties`` or carry
    ``x-kubernetes-preserve-unknown-fields: true`` keep their openness (the API server would keep those fields).
    """
    out = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(out)
    return out


@lru_cache(maxsize=None)
def _crd_validator(group: str, version: str, kind: str) -> jsonschema.protocols.Validator:
    """Compiled strict validator for one served CRD version (cached: the big schemas take ~0.1 s each)."""
    crd = _crd_index().get((group, kind))
    if crd is None:
        raise LookupError(f"no CRD for {kind}.{group} under {crd_dir()}")
    versions = {v["name"]: v for v in crd["spec"]["versions"]}
    if version not in versions:
        raise LookupError(f"CRD {kind}.{group} has no version {version} (has {', '.join(sorted(versions))})")
    if not versions[version].get("served", False):
        raise LookupError(f"CRD {kind}.{group} version {version} is not served")
    schema = strictify(versions[version]["schema"]["openAPIV3Schema"])
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


# --- core kinds / ObjectMeta -------------------------------------------------------------------------------------
def _schema_version(kube_version: str) -> str:
    """The kubernetes-validate schema set used for ``kube_version`` (newest one not newer, as it does itself)."""
    wanted = kv_utils.major_minor(kube_version.lstrip("v"))
    key = tuple(int(x) for x in wanted.split("."))
    candidates = [v for v in kv_utils.all_versions() if tuple(int(x) for x in kv_utils.major_minor(v).split(".")) <= key]
    if not candidates:
        raise AssertionError(f"kubernetes-validate has no schemas for Kubernetes {kube_version}")
    return candidates[-1]


@lru_cache(maxsize=None)
def _object_meta_validator(kube_version: str) -> jsonschema.protocols.Validator:
    """Strict ObjectMeta validator from kubernetes-validate's ``_definitions.json`` (CRDs only say ``object``)."""
    version = _schema_version(kube_version)
    defs = kv_utils.schema_contents(f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", kube_version)
    registry: Registry = Resource.from_contents(defs) @ Registry()
    return jsonschema.Draft202012Validator(
        {"$ref": OBJECT_META_REF}, registry=registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def _where(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<root>"


def _problems_of(obj: dict[str, Any], kube_version: str) -> list[str]:
    """Every problem of one object, as human-readable lines."""
    kind = obj.get("kind")
    api_version = obj.get("apiVersion")
    name = (obj.get("metadata") or {}).get("name", "<no name>")
    label = f"{kind}/{name} ({api_version})"
    if not kind or not api_version:
        return [f"{label}: apiVersion and kind are required"]
    group, _, version = api_version.rpartition("/")
    if (group, kind) in _crd_index():
        try:
            validator = _crd_validator(group, version, kind)
        except LookupError as exc:
            return [f"{label}: {exc}"]
        problems = [f"{label}: {_where(e)}: {e.message}" for e in validator.iter_errors(obj)]
        meta = obj.get("metadata")
        if not isinstance(meta, dict) or not meta.get("name"):
            problems.append(f"{label}: metadata.name is required")
        else:
            meta_validator = _object_meta_validator(kube_version)
            problems += [f"{label}: metadata.{_where(e)}: {e.message}" for e in meta_validator.iter_errors(meta)]
        return problems
    try:
        kubernetes_validate.validate(obj, kube_version, strict=True)
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"{label}: no schema anywhere (not a core kind, no CRD): {exc.message}"]
    except kubernetes_validate.ValidationError as exc:
        # It raises on the first error only; enough to fail, and the path says where.
        return [f"{label}: {_where(exc)}: {exc.message}"]
    return []


def validate_objects(objs: Iterable[dict[str, Any]], kube_version: str = "1.35") -> None:
    """Validate every object strictly; raise one AssertionError listing every problem of every object."""
    problems: list[str] = []
    for obj in objs:
        problems += _problems_of(obj, kube_version)
    if problems:
        raise AssertionError("invalid manifests:\n  - " + "\n  - ".join(problems))


# --- helm --------------------------------------------------------------------------------------------------------
def _helm_path(helm: str) -> str:
    path = shutil.which(helm)
    if path is None:
        raise AssertionError(f"{helm!r} not found on PATH (run scripts/get-tools.sh; tests put .tools/bin first)")
    return path


def run_helm(args: Sequence[str], values: dict[str, Any] | None = None, helm: str = "helm") -> str:
    """Run helm with optional values (written to a temp file); return stdout or raise HelmTemplateError."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [_helm_path(helm), *args]
        if values is not None:
            values_file = Path(tmp) / "values.yaml"
            values_file.write_text(yaml.safe_dump(values))
            cmd += ["--values", str(values_file)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise HelmTemplateError(cmd, proc.stderr)
    return proc.stdout


def render_chart(
    chart_dir: str | Path,
    values: dict[str, Any] | None = None,
    release: str = "r",
    namespace: str = "nrp-llm",
    helm: str = "helm",
    api_versions: Sequence[str] = (),
    kube_version: str = "1.35.0",
    extra_args: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """`helm template` a chart offline and return the parsed objects (hooks such as the test Pod included)."""
    args = ["template", release, str(chart_dir), "--namespace", namespace, "--kube-version", kube_version]
    for api_version in api_versions:
        args += ["--api-versions", api_version]
    out = run_helm([*args, *extra_args], values or {}, helm=helm)
    return [doc for doc in yaml.load_all(out, Loader=LOADER) if doc]


# --- chart values ------------------------------------------------------------------------------------------------
def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge like Helm merges values files: maps merge key by key, lists and scalars replace."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@lru_cache(maxsize=None)
def _values_schema(chart: str) -> str:
    return (CHARTS_DIR / chart / "values.schema.json").read_text()


def validate_values(values: dict[str, Any], chart: str = "llm-model") -> None:
    """Check values (merged over the chart's values.yaml, as Helm does) against its values.schema.json.

    For the planner's tests: every planned values dict must pass this before it ever reaches helm.
    """
    defaults = yaml.safe_load((CHARTS_DIR / chart / "values.yaml").read_text())
    merged = deep_merge(defaults, values)
    schema = json.loads(_values_schema(chart))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    errors = [f"{_where(e)}: {e.message}" for e in validator.iter_errors(merged)]
    if errors:
        raise AssertionError(f"{chart} values do not match values.schema.json:\n  - " + "\n  - ".join(errors))

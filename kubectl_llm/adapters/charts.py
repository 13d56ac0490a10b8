"""Locate the Helm charts that travel with the package.

Why two places: a wheel carries the charts inside the package (``kubectl_llm/charts/<name>``, force-included by
pyproject), while an editable install or a git checkout keeps them at ``<repo>/charts/<name>``. The CLI never
pulls charts from a repository, so what is installed is always what was tested.
"""

from __future__ import annotations

from pathlib import Path

from kubectl_llm.errors import ToolMissing

MODEL_CHART = "llm-model"
GATEWAY_CHART = "llm-gateway"

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def candidate_dirs(name: str) -> list[Path]:
    """Where chart ``name`` may live, in order of preference (installed package first)."""
    return [_PACKAGE_DIR / "charts" / name, _PACKAGE_DIR.parent / "charts" / name]


def chart_path(name: str) -> Path:
    """The directory of the bundled chart ``name``; ToolMissing when the installation lost it."""
    for path in candidate_dirs(name):
        if (path / "Chart.yaml").is_file():
            return path
    raise ToolMissing(
        f"the bundled chart {name!r} is missing (looked in {', '.join(str(p) for p in candidate_dirs(name))})",
        "reinstall with ./install.sh --force",
    )


# Patterns of values.schema.json said in words (the raw regular expressions help nobody).
_PATTERN_WORDS = {
    "([KMGTPE]i)": "a Kubernetes quantity such as 4, 500m or 16Gi",
    "(h|m|s|ms)": "a duration such as 90s, 20m or 1h",
}


def _path(error: object) -> str:
    parts = list(getattr(error, "absolute_path", []))
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(parts)) \
        or "(top level)"


def _reason(error: object) -> str:
    validator = getattr(error, "validator", "")
    instance = getattr(error, "instance", None)
    if validator == "pattern":
        pattern = str(getattr(error, "validator_value", ""))
        words = next((w for key, w in _PATTERN_WORDS.items() if key in pattern), f"the pattern {pattern}")
        return f"{instance!r} is not {words}"
    if validator == "additionalProperties":
        return str(getattr(error, "message", "")).replace(" were unexpected", " are not chart values") \
            .replace(" was unexpected", " is not a chart value")
    return str(getattr(error, "message", ""))


def _coalesce(defaults: dict, values: dict) -> dict:
    """Helm's merge of supplied values over values.yaml: maps merge, anything else replaces, null deletes a key
    values.yaml has (a null under a key it lacks stays, and the schema sees it, as with helm 3 and 4)."""
    merged = dict(defaults)
    for key, value in values.items():
        if value is None and key in defaults:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _coalesce(merged[key], value)
        else:
            merged[key] = value
    return merged


def schema_violations(name: str, values: dict) -> list[str]:
    """Every violation of chart ``name``'s values.schema.json by ``values`` merged over its values.yaml, as
    ``key.path: reason`` (sorted by path); [] when the values are fine. Helm checks the same schema but says only
    "values don't meet the specifications of the schema(s)", hiding which value and why."""
    import json

    import jsonschema
    import yaml

    chart = chart_path(name)
    schema_file = chart / "values.schema.json"
    if not schema_file.is_file():
        return []
    defaults = yaml.safe_load((chart / "values.yaml").read_text()) or {}
    merged = _coalesce(defaults, json.loads(json.dumps(values)))
    validator = jsonschema.Draft7Validator(json.loads(schema_file.read_text()))
    errors = sorted(validator.iter_errors(merged), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{_path(e)}: {_reason(e)}" for e in errors]

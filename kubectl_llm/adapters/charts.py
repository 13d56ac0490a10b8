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

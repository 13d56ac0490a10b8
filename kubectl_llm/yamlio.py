"""YAML parsing with libyaml when pyyaml has it (CSafeLoader, ~10x faster), else the pure-Python SafeLoader.

Every YAML the tool reads on a hot path goes through here: helm's rendered manifests and `get values` output, the
planner's data files, the site file. Same base layer as errors.py (stdlib + pyyaml only), so the pure planner may
import it too.
"""

from __future__ import annotations

from typing import IO, Any, Iterator

import yaml

LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YAMLError = yaml.YAMLError


def load(stream: str | bytes | IO[str]) -> Any:
    """One YAML document, safe types only."""
    return yaml.load(stream, Loader=LOADER)  # noqa: S506 - LOADER is a safe loader


def load_all(stream: str | bytes | IO[str]) -> Iterator[Any]:
    """Every document of a multi-document stream, safe types only."""
    return yaml.load_all(stream, Loader=LOADER)  # noqa: S506 - LOADER is a safe loader

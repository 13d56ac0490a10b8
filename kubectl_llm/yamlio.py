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


# --- YAML a user wrote (-f values files, sync records, site files) --------------------------------------------------
class NotPlainData(ValueError):
    """A user's YAML document holds something that is not JSON data (what Helm's values and our records are)."""


class _UserLoader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver: an unquoted ``2024-05-01`` stays the string it is, as Helm reads
    values (go-yaml keeps timestamp-like scalars as strings in untyped data), instead of a date JSON cannot hold."""


_UserLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}

MAX_DEPTH = 64   # deeper than any chart value or record; a deeper document is a mistake (or a bomb), not data


def load_user(text: str) -> Any:
    """One YAML document a user wrote, as plain JSON data (dicts with string keys, lists, str, int, float, bool,
    None). Raises YAMLError when it is not YAML, NotPlainData when it holds what JSON cannot (binary, sets, a
    `!!timestamp`, NaN, an anchor that contains itself, nesting deeper than MAX_DEPTH)."""
    try:
        doc = yaml.load(text, Loader=_UserLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise NotPlainData(f"nested more than {MAX_DEPTH} levels deep") from None
    return plain(doc)


def _key(key: Any) -> str:
    """Helm (sigs.k8s.io/yaml) turns a non-string mapping key into its YAML text: 1 -> "1", null -> "null"."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return "null" if key is None else str(key)


def plain(doc: Any, where: str = "", depth: int = 0, path: tuple[int, ...] = ()) -> Any:
    """``doc`` checked to be plain JSON data, mapping keys as strings (see load_user); NotPlainData names where."""
    here = where or "(top level)"
    if depth > MAX_DEPTH:
        raise NotPlainData(f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(doc, (dict, list)):
        if id(doc) in path:
            raise NotPlainData(f"{here} contains itself (a YAML alias inside its own anchor)")
        inner = (*path, id(doc))
        if isinstance(doc, dict):
            return {_key(k): plain(v, f"{where}.{_key(k)}" if where else _key(k), depth + 1, inner)
                    for k, v in doc.items()}
        return [plain(v, f"{where}[{i}]", depth + 1, inner) for i, v in enumerate(doc)]
    if isinstance(doc, float) and (doc != doc or doc in (float("inf"), float("-inf"))):
        raise NotPlainData(f"{here}: {doc} is not a number JSON can hold")
    if doc is None or isinstance(doc, (str, bool, int, float)):
        return doc
    raise NotPlainData(f"{here}: a YAML {type(doc).__name__} ({'!!binary' if isinstance(doc, bytes) else 'tagged'}"
                       f" value) is not chart data; write it as a string")

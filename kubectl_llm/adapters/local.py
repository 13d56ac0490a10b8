"""Local model directories (and Hub-cache snapshots): config.json plus weight sizes, read without the tensors.

Weight bytes come, in order of trust, from ``model.safetensors.index.json`` (``metadata.total_size``, written by
the exporter) or from the headers of the ``*.safetensors`` files: 8 bytes of little-endian header length, then a
JSON header whose ``data_offsets`` give each tensor's byte span. Only the header is read, so a 700 GB checkpoint
costs a few kilobytes of I/O. Standard library only: this path must stay fast (no huggingface_hub import).
"""

from __future__ import annotations

import json
import math
import re
import struct
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import BadModelConfig, ModelNotFound
from ..planner.source import ModelSource, WeightMetadata

CONFIG_FILE = "config.json"
CHAT_TEMPLATE_FILES = ("chat_template.jinja", "tokenizer_config.json")   # where a chat template lives, in order
MAX_TEMPLATE_FILE_BYTES = 8 * 1024 * 1024   # a tokenizer_config.json is kilobytes; anything bigger is not read
INDEX_FILE = "model.safetensors.index.json"
MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors format refuses headers above 100 MB

# Bits per element of each safetensors dtype (huggingface/safetensors, enum Dtype). Packed formats such as MXFP4
# (gpt-oss) and NVFP4 (modelopt) are stored as U8 blocks, so their bytes are exact too.
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32,
    "I64": 64, "U64": 64, "F64": 64, "C64": 64,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}

_SHARD = re.compile(r"-(\d+)-of-(\d+)\.safetensors$")
_HEADER_HINT = "re-download that file: the planner reads only its header, but the header must be intact"


def parse_config(text: str, where: str) -> dict[str, Any]:
    """Parse config.json text; the bare ``Infinity``/``NaN`` tokens transformers writes are accepted."""
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise BadModelConfig(f"{where} is not valid JSON ({exc.__class__.__name__}: line {getattr(exc, 'lineno', '?')})",
                             hint="fix or re-download config.json") from exc
    except RecursionError:   # thousands of nested brackets: no config, and json's parser runs out of stack
        raise BadModelConfig(f"{where} is not a model config (JSON nested thousands of levels deep)",
                             hint="fix or re-download config.json") from None
    if not isinstance(config, dict):
        raise BadModelConfig(f"{where} holds a JSON {type(config).__name__}, not an object",
                             hint="fix or re-download config.json")
    return config


def read_config(directory: Path) -> dict[str, Any]:
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise BadModelConfig(f"no config.json in {directory}",
                             hint="pass the directory that holds the model's config.json (a transformers checkpoint)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadModelConfig(f"cannot read {path}: {exc.__class__.__name__}", hint="check the file's permissions") from exc
    return parse_config(text, str(path))


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of one safetensors file (the tensors themselves are never read)."""
    try:
        with path.open("rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise BadModelConfig(f"{path.name} is too short to be a safetensors file", hint=_HEADER_HINT)
            (length,) = struct.unpack("<Q", prefix)
            if length > MAX_HEADER_BYTES:
                raise BadModelConfig(f"{path.name} declares a {length}-byte header (not safetensors?)", hint=_HEADER_HINT)
            raw = handle.read(length)
    except OSError as exc:
        raise BadModelConfig(f"cannot read {path}: {exc.__class__.__name__}", hint=_HEADER_HINT) from exc
    if len(raw) < length:
        raise BadModelConfig(f"{path.name} is truncated inside its header", hint=_HEADER_HINT)
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadModelConfig(f"{path.name} has a malformed safetensors header", hint=_HEADER_HINT) from exc
    if not isinstance(header, dict):
        raise BadModelConfig(f"{path.name} has a malformed safetensors header", hint=_HEADER_HINT)
    return header


def weights_from_headers(files: Iterable[Path]) -> WeightMetadata:
    """Sum bytes and elements per dtype over the tensors of ``files`` (``data_offsets`` end - begin)."""
    by_bytes: dict[str, int] = {}
    by_params: dict[str, int] = {}
    for path in files:
        for name, info in read_safetensors_header(path).items():
            if name == "__metadata__":
                continue
            try:
                dtype = str(info["dtype"])
                begin, end = (int(x) for x in info["data_offsets"])
                count = math.prod(int(d) for d in info["shape"])
            except (KeyError, TypeError, ValueError) as exc:
                raise BadModelConfig(f"{path.name}: tensor {name!r} has a malformed header entry",
                                     hint=_HEADER_HINT) from exc
            by_bytes[dtype] = by_bytes.get(dtype, 0) + (end - begin)
            by_params[dtype] = by_params.get(dtype, 0) + count
    return WeightMetadata(total_bytes=sum(by_bytes.values()), source="safetensors headers",
                          bytes_by_dtype=by_bytes, params_by_dtype=by_params)


def weights_from_counts(params_by_dtype: Mapping[str, int], source: str) -> WeightMetadata | None:
    """Bytes from per-dtype element counts (what the Hub's header scan returns); None if a dtype is unknown."""
    if not params_by_dtype or any(dtype not in DTYPE_BITS for dtype in params_by_dtype):
        return None
    by_bytes = {dtype: math.ceil(count * DTYPE_BITS[dtype] / 8) for dtype, count in params_by_dtype.items()}
    return WeightMetadata(total_bytes=sum(by_bytes.values()), source=source,
                          bytes_by_dtype=by_bytes, params_by_dtype=dict(params_by_dtype))


def _index(directory: Path, problems: list[str]) -> dict[str, Any] | None:
    """The parsed index, or None; a broken index is not fatal (the shard headers, else the config-based estimate,
    say the same thing), but it is said in ``problems``."""
    path = directory / INDEX_FILE
    if not path.is_file():
        return None
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        problems.append(f"{INDEX_FILE} is not valid JSON: ignored ({exc.__class__.__name__})")
        return None
    if not isinstance(index, dict):
        problems.append(f"{INDEX_FILE} is not a JSON object: ignored")
        return None
    return index


def _complete(files: list[Path]) -> bool:
    """False when shards named ``*-0000k-of-0000n.safetensors`` are missing (a partial download)."""
    totals = {int(m.group(2)) for f in files if (m := _SHARD.search(f.name))}
    sharded = [f for f in files if _SHARD.search(f.name)]
    return all(len(sharded) == total for total in totals)


def read_weights(directory: Path, problems: list[str] | None = None) -> WeightMetadata | None:
    """Weight bytes of the checkpoint in ``directory``, or None when it holds no usable safetensors metadata.
    What had to be ignored on the way (a corrupt index, a negative total) is appended to ``problems``."""
    problems = problems if problems is not None else []
    index = _index(directory, problems)
    if index is not None:
        weight_map = index.get("weight_map")
        shards = sorted({directory / f for f in weight_map.values() if isinstance(f, str)}) \
            if isinstance(weight_map, dict) else []
        have_all = bool(shards) and all(f.is_file() for f in shards)
        metadata = index.get("metadata")
        total = metadata.get("total_size") if isinstance(metadata, dict) else None
        valid = isinstance(total, (int, float)) and not isinstance(total, bool) and math.isfinite(total) and total > 0
        if total is not None and not valid:
            problems.append(f"{INDEX_FILE} metadata.total_size is {total!r}, not a byte count: ignored")
        if valid:
            detail = weights_from_headers(shards) if have_all else None
            return WeightMetadata(
                total_bytes=int(total), source=f"{INDEX_FILE} metadata.total_size",
                bytes_by_dtype=detail.bytes_by_dtype if detail else {},
                params_by_dtype=detail.params_by_dtype if detail else {},
            )
        if have_all:
            return weights_from_headers(shards)
        return None
    files = sorted(directory.glob("*.safetensors"))
    # Mistral repos ship the same weights twice: consolidated*.safetensors (mistral format) beside model-*.
    if any(not f.name.startswith("consolidated") for f in files):
        files = [f for f in files if not f.name.startswith("consolidated")]
    if not files or not _complete(files):
        return None
    return weights_from_headers(files)


def read_chat_template(directory: Path, label: str) -> tuple[str | None, str | None]:
    """(chat template text, "<file> of <label>") from ``chat_template.jinja`` or ``tokenizer_config.json``.

    Missing or unreadable files give (None, None): the template only cross-checks the parsers, it is never needed."""
    from ..planner.parsers import template_from_tokenizer_config

    for name in CHAT_TEMPLATE_FILES:
        path = directory / name
        try:
            if not path.is_file() or path.stat().st_size > MAX_TEMPLATE_FILE_BYTES:
                continue
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        template = text if name.endswith(".jinja") else template_from_tokenizer_config(text)
        if template:
            return template, f"{name} of {label}"
    return None, None


def load_local(ref: str) -> ModelSource:
    """A model from a local directory holding config.json (and usually its safetensors)."""
    directory = Path(ref).expanduser()
    if not directory.is_dir():
        what = "is a file, not a directory" if directory.exists() else "does not exist"
        raise ModelNotFound(f"local model directory {ref} {what}",
                            hint="pass a directory holding config.json, or a Hugging Face repo id such as Qwen/Qwen3-8B")
    directory = directory.resolve()
    config = read_config(directory)
    problems: list[str] = []
    weights = read_weights(directory, problems)
    if problems and weights is None:
        problems = [p + "; the weights are estimated from config.json" for p in problems]
    template, template_source = read_chat_template(directory, directory.name)
    return ModelSource(model_id=str(directory), config=config, weights=weights,
                       origin="local", local_path=str(directory), warnings=tuple(problems),
                       chat_template=template, chat_template_source=template_source)

"""Byte sizes and Kubernetes quantities: parse what admins type, format what Kubernetes reads. Pure.

Accepted inputs for sizes: ``80GiB``, ``80Gi``, ``23.58GiB``, ``80GB`` (decimal, 10^9), ``80G`` (decimal, as
Kubernetes reads it), ``81920MiB``, plain bytes ``85899345920``. Case of the unit is forgiven except that ``m``
(milli) is not a size unit here. ``--gpu-memory`` (``parse_gpu_memory``) insists on a unit and a GPU-sized value:
``--gpu-memory 80`` (bytes? GiB?) and ``--gpu-memory 0`` are usage errors that suggest ``80GiB``.
"""

from __future__ import annotations

import math
import re

from kubectl_llm.errors import UsageError

_BINARY = {"ki": 1, "mi": 2, "gi": 3, "ti": 4, "pi": 5, "ei": 6}
_DECIMAL = {"k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")

GiB = 1 << 30
MiB = 1 << 20


def parse_bytes(text: str | int) -> int:
    """Parse a human or Kubernetes size into bytes (rounded down to a whole byte).

    >>> parse_bytes("80GiB"), parse_bytes("80Gi"), parse_bytes("80GB")
    (85899345920, 85899345920, 80000000000)
    """
    if isinstance(text, int):
        return text
    from decimal import Decimal, InvalidOperation   # exact sizes; imported here, a plan parses none without flags

    m = _SIZE_RE.match(str(text))
    if not m:
        raise UsageError(f"cannot read size {text!r}", "write it like 80GiB, 80Gi, 23.58GiB or 80GB")
    try:
        number = Decimal(m.group(1))
    except InvalidOperation:  # pragma: no cover - regex guarantees a number
        raise UsageError(f"cannot read size {text!r}") from None
    unit = m.group(2).lower()
    if unit.endswith("b") and unit != "b":
        unit = unit[:-1]           # GiB -> gi, GB -> g
    if unit in ("", "b"):
        factor = 1
    elif unit in _BINARY:
        factor = 1024 ** _BINARY[unit]
    elif unit in _DECIMAL:
        factor = 1000 ** _DECIMAL[unit]
    else:
        raise UsageError(f"unknown size unit in {text!r}", "use B, KiB/Ki, MiB/Mi, GiB/Gi, TiB/Ti or KB, MB, GB, TB")
    return int(number * factor)


GPU_MEMORY_RANGE = (GiB, 4096 * GiB)     # no card that serves an LLM has less than 1 GiB, none has 4 TiB


def parse_gpu_memory(text: str) -> int:
    """``--gpu-memory``: a size WITH a unit (a bare ``80`` is ambiguous: bytes? GiB?) between 1 GiB and 4 TiB."""
    m = _SIZE_RE.match(str(text))
    example = "--gpu-memory 80GiB (binary) or 80GB (decimal)"
    if m and float(m.group(1)) == 0:      # the regex allows digits and one '.' only
        raise UsageError(f"--gpu-memory {text} is not a GPU size", f"give the card's memory, e.g. {example}")
    if m and not m.group(2):
        raise UsageError(f"--gpu-memory {text} has no unit",
                         f"write --gpu-memory {m.group(1)}GiB (binary) or {m.group(1)}GB (decimal)")
    n = parse_bytes(text)
    if not GPU_MEMORY_RANGE[0] <= n <= GPU_MEMORY_RANGE[1]:
        raise UsageError(f"--gpu-memory {text} is not a GPU size (1 GiB to 4 TiB)",
                         f"give the card's memory, e.g. {example}")
    return n


def gib(n_bytes: float) -> float:
    return n_bytes / GiB


def to_gi_quantity(n_bytes: float) -> str:
    """Kubernetes quantity in whole Gi, rounded up: 171798691840 -> '160Gi'."""
    return f"{max(1, math.ceil(n_bytes / GiB))}Gi"


def human(n_bytes: float) -> str:
    """Short human size in binary units for explanations: '15.3 GiB', '512 MiB'."""
    if abs(n_bytes) >= GiB:
        return f"{n_bytes / GiB:.1f} GiB"
    if abs(n_bytes) >= MiB:
        return f"{n_bytes / MiB:.0f} MiB"
    return f"{int(n_bytes)} B"

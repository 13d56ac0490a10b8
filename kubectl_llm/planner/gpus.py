"""The built-in GPU catalog (``data/gpus.yaml``, cluster-neutral) as typed records, and the GPU a plan is sized for.

A site profile (``planner/site.py``) adds types to it or replaces it (NRP's site renames two resources). Reading
data files that ship inside the package is the only file access of the planner; it is cached.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from kubectl_llm.errors import UnknownGpu
from kubectl_llm.planner.quantity import GiB

DATA = Path(__file__).resolve().parent / "data"   # a plain path: importlib.resources costs ~25 ms to import


DEFAULT_PER_NODE = 8            # GPUs per node when the catalog entry does not say


@dataclass(frozen=True)
class GpuType:
    name: str
    memory_bytes: int          # what vLLM sees as total memory (cudaMemGetInfo), the budget base
    memory_mib: int            # the nvidia.com/gpu.memory label value
    products: tuple[str, ...]  # nvidia.com/gpu.product label values; empty for a custom --gpu-memory card
    resource: str              # extended resource name
    compute: float             # CUDA compute capability, 0.0 when unknown
    nvlink: bool = False
    per_node: int = 8          # GPUs of this type in one node (multi-node plans use whole nodes)
    images: tuple[tuple[str, str], ...] = ()   # engine -> image for this card (e.g. a ROCm build); () = the default

    def image_for(self, engine: str) -> str | None:
        return dict(self.images).get(engine)

    @property
    def native_fp8(self) -> bool:
        return self.compute >= 8.9

    @property
    def product(self) -> str | None:
        return self.products[0] if self.products else None

    def to_entry(self) -> dict[str, Any]:
        """The type as a catalog / site-file entry (the fields of data/gpus.yaml; `kubectl llm gpus -o yaml`)."""
        entry: dict[str, Any] = {
            "name": self.name, "memory_mib": self.memory_mib, "usable_gib": round(self.memory_bytes / GiB, 3),
            "products": list(self.products), "resource": self.resource, "compute": f"{self.compute:.1f}",
            "nvlink": self.nvlink, "per_node": self.per_node}
        if self.images:
            entry["images"] = dict(self.images)
        return entry


def gpu_from_entry(g: Mapping[str, Any]) -> GpuType:
    """One catalog / site-file entry -> GpuType."""
    return GpuType(name=str(g["name"]), memory_bytes=int(float(g["usable_gib"]) * GiB),
                   memory_mib=int(g["memory_mib"]), products=tuple(str(p) for p in g.get("products") or ()),
                   resource=str(g.get("resource") or "nvidia.com/gpu"), compute=float(g.get("compute") or 0),
                   nvlink=bool(g.get("nvlink", False)), per_node=int(g.get("per_node") or DEFAULT_PER_NODE),
                   images=tuple(sorted((str(k), str(v)) for k, v in (g.get("images") or {}).items())))


@lru_cache(maxsize=1)
def load_gpu_catalog() -> tuple[GpuType, ...]:
    """data/gpus.yaml, read from its generated JSON copy (scripts/recipes-json.py: no yaml import on a plan)."""
    data = json.loads((DATA / "gpus.json").read_text(encoding="utf-8"))
    return tuple(gpu_from_entry(g) for g in data["gpus"])


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(" ", "-").replace("nvidia-", "")


def find_gpu(name: str) -> GpuType:
    """Look up a type of the built-in catalog by name or product label, forgiving case, spaces and underscores
    (the planner asks its site instead: ``Site.find_gpu``)."""
    want = _norm(name)
    for g in load_gpu_catalog():
        if _norm(g.name) == want or any(_norm(p) == want for p in g.products):
            return g
    aliases = {"a100": "A100-80GB", "h100": "H100-80GB", "3090": "RTX-3090", "4090": "RTX-4090",
               "rtx-a6000": "A6000", "rtxa6000": "A6000", "a100-80g": "A100-80GB", "a100-40g": "A100-40GB"}
    if want in aliases:
        return find_gpu(aliases[want])
    known = ", ".join(g.name for g in load_gpu_catalog())
    raise UnknownGpu(f"unknown GPU type {name!r} (known: {known})")


def custom_gpu(memory_bytes: int) -> GpuType:
    """A card that is not in the catalog, known only by its memory (``--gpu-memory``)."""
    mib = memory_bytes // (1 << 20)
    return GpuType(name=f"custom-{memory_bytes / GiB:.4g}GiB", memory_bytes=memory_bytes, memory_mib=mib,
                   products=(), resource="nvidia.com/gpu", compute=0.0)

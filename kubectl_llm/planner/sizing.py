"""Kubernetes sizing from a plan: CPU, RAM, PVC, node affinity, tolerations, route name. Pure.

Handbook rules, written down once:
* CPU = 2 x GPUs + 2 (request = limit);
* RAM request slightly over half the loaded model (55 %; 70 % for multimodal models, whose processors and
  encoder caches live in host memory), limit slightly over all of it (110 %, whole Gi up), never below 8 Gi /
  12 Gi (the engine's own processes; only models under ~11 GiB meet these floors);
* PVC 15 % over the weights (the handbook's "10-20 % more than the model weight size"), whole Gi up; when that
  rounding would pass 20 % (weights under 20 GiB), 10 % over, whole Gi up; never below 10 Gi. Both stay inside
  10-20 % for every weight total above ~11 GiB (tested at every 1/8 GiB step).
* node affinity and tolerations depend on the cluster: the site profile answers them (``planner/site.py``:
  ``Site.node_affinity``, ``Site.tolerations_for``; the default profile, ``kubectl_llm/sites/nrp.yaml``, says
  which labels, taints and large-GPU counts the handbook uses).
"""

from __future__ import annotations

import math
import re
from typing import Any

from kubectl_llm.errors import InvalidName
from kubectl_llm.planner.gpus import GpuType
from kubectl_llm.planner.site import Site
from kubectl_llm.planner.quantity import GiB

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_RELEASE_NAME = 53          # Helm's limit for release names


def cpu(gpus: int) -> int:
    return 2 * gpus + 2


MEMORY_REQUEST_FLOOR_GI = 8
MEMORY_LIMIT_FLOOR_GI = 12
STORAGE_FLOOR_GI = 10


def memory(weight_bytes: int, multimodal: bool) -> tuple[str, str]:
    req = max(MEMORY_REQUEST_FLOOR_GI, math.ceil(weight_bytes * (0.70 if multimodal else 0.55) / GiB))
    lim = max(MEMORY_LIMIT_FLOOR_GI, math.ceil(weight_bytes * 1.10 / GiB), req + 4)
    return f"{req}Gi", f"{lim}Gi"


def storage(weight_bytes: int) -> str:
    gi = math.ceil(weight_bytes * 1.15 / GiB)
    if gi * GiB > weight_bytes * 1.20:
        gi = math.ceil(weight_bytes * 1.10 / GiB)
    return f"{max(STORAGE_FLOOR_GI, gi)}Gi"


def shm(gpus: int) -> str:
    """/dev/shm for NCCL and the engine's IPC: 2 Gi per GPU + 4 Gi (a Memory emptyDir counts against RAM)."""
    return f"{2 * gpus + 4}Gi"


def node_affinity(gpu: GpuType, named: bool, cuda_driver_gt: int, site: Site) -> list[dict[str, Any]]:
    return site.node_affinity(gpu, named, cuda_driver_gt)


def tolerations(gpus: int, site: Site) -> list[dict[str, Any]]:
    return site.tolerations_for(gpus)


def default_name(model_id: str) -> str:
    """Route/release name from a model id: 'MiniMaxAI/MiniMax-M2.5' -> 'minimax-m2-5'."""
    base = model_id.rstrip("/").split("/")[-1].lower()
    base = re.sub(r"[^a-z0-9-]+", "-", base).strip("-")
    base = re.sub(r"-{2,}", "-", base)
    return base[:MAX_RELEASE_NAME].rstrip("-") or "model"


def check_name(name: str) -> str:
    if len(name) > MAX_RELEASE_NAME or not DNS_LABEL.match(name):
        raise InvalidName(
            f"invalid name {name!r}: must be a DNS label (lowercase letters, digits, '-'; start and end "
            f"alphanumeric) of at most {MAX_RELEASE_NAME} characters",
            f"try --name {default_name(name) or 'my-model'}")
    return name

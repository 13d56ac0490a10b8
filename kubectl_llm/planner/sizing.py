"""Kubernetes sizing from a plan: CPU, RAM, PVC, node affinity, tolerations, route name. Pure.

Handbook rules, written down once:
* CPU = 2 x GPUs + 2 (request = limit);
* RAM request slightly over half the loaded model (55 %; 70 % for multimodal models, whose processors and
  encoder caches live in host memory), limit slightly over all of it (110 %), never below 8 Gi / 16 Gi;
* PVC 15 % over the weights (the handbook's 10-20 %), whole Gi, rounded up to 8 Gi steps above 64 Gi;
* node affinity and tolerations depend on the cluster: the site profile answers them (``planner/site.py``:
  ``Site.node_affinity``, ``Site.tolerations_for``; the default profile, ``kubectl_llm/sites/nrp.yaml``, says
  which labels, taints and large-GPU counts the handbook uses).
"""

from __future__ import annotations

import math
import re

from kubectl_llm.errors import InvalidName
from kubectl_llm.planner.gpus import GpuType
from kubectl_llm.planner.site import Site
from kubectl_llm.planner.quantity import GiB

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_RELEASE_NAME = 53          # Helm's limit for release names


def cpu(gpus: int) -> int:
    return 2 * gpus + 2


def memory(weight_bytes: int, multimodal: bool) -> tuple[str, str]:
    req = max(8, math.ceil(weight_bytes * (0.70 if multimodal else 0.55) / GiB))
    lim = max(16, math.ceil(weight_bytes * 1.10 / GiB), req + 4)
    return f"{req}Gi", f"{lim}Gi"


def storage(weight_bytes: int) -> str:
    gi = max(10, math.ceil(weight_bytes * 1.15 / GiB))
    if gi > 64:
        gi = 8 * math.ceil(gi / 8)
    return f"{gi}Gi"


def shm(gpus: int) -> str:
    """/dev/shm for NCCL and the engine's IPC: 2 Gi per GPU + 4 Gi (a Memory emptyDir counts against RAM)."""
    return f"{2 * gpus + 4}Gi"


def node_affinity(gpu: GpuType, named: bool, cuda_driver_gt: int, site: Site) -> list[dict]:
    return site.node_affinity(gpu, named, cuda_driver_gt)


def tolerations(gpus: int, site: Site) -> list[dict]:
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

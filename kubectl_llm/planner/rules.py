"""The handbook's rules and the tool's defaults, each in one named place with where it comes from.

"handbook" = the NRP admin handbook this tool automates (``shared/seed/000_fac1fc4630e002f9.txt``); line numbers
refer to that text. The charts repeat some of these as their own defaults (an admin may install a chart without
the CLI): ``tests/test_rules.py`` reads both charts' values.yaml and fails when they disagree with this module.
Sizing formulas (CPU, RAM, PVC, tolerations) are documented and applied in ``sizing.py``.
"""

from __future__ import annotations

# GPU counts tried on one node, fewest first; 5 and 7 never divide the heads of real models (handbook l. 288, 410)
GPU_COUNTS: tuple[int, ...] = (1, 2, 3, 4, 6, 8)

# --gpu-memory-utilization when the admin gives none (handbook l. 230: the MiniMax-M2.5 example uses 0.95)
DEFAULT_UTILIZATION = 0.95

# request timeout of every AIGatewayRoute (handbook l. 81, 92, 106: `timeouts: request: 1200s`); the gateway
# chart drains Envoy and resets idle streams no sooner (llm-gateway drainTimeout / streamIdleTimeout)
ROUTE_TIMEOUT = "1200s"

# port the engine listens on and the Service exposes (handbook l. 153, 230, 246, 328-330)
ENGINE_PORT = 5000

# where the engine downloads weights: the HF cache on the PVC (handbook l. 230, `--download-dir`)
DOWNLOAD_DIR = "/workspace/.cache/huggingface/hub"

# startup budget after the download (loading, torch.compile, CUDA graphs): never below 15 minutes (tool default)
MIN_LOAD_SECONDS = 900

# assumed Hub -> PVC download rate for the startup-probe budget: ~400 Mbit/s, pessimistic on purpose (tool default)
DOWNLOAD_BYTES_PER_SECOND = 50_000_000

# KV cache dtypes --kv-cache-dtype accepts ("auto" = the activation dtype, or the checkpoint's declared KV scheme)
KV_DTYPES: tuple[str, ...] = ("auto", "bfloat16", "float16", "fp8", "fp8_e4m3", "fp8_e5m2")

"""The imperative shell: the only package allowed to import huggingface_hub, kubernetes or pyhelm3.

Each adapter imports its library lazily, inside functions, so ``kubectl llm plan`` on a local directory or a
catalog model starts without paying for any of them.
"""

from __future__ import annotations

from .hub import HfHubClient, HubClient, list_catalog, load_model

__all__ = ["HfHubClient", "HubClient", "list_catalog", "load_model"]

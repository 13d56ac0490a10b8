"""Per-invocation connection state: kubeconfig, context, namespace, and the Helm / cluster adapters built lazily.

Why lazily: `add --dry-run=client` must work with no cluster and no kubeconfig, so nothing connects until a
command actually needs the API server. ``helm_command_factory`` is the seam the contract tests use to put a
recording pyhelm3 Command in place of the real binary.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Callable

from kubectl_llm.adapters.cluster import Cluster, resolve_namespace
from kubectl_llm.adapters.helm import Helm

helm_command_factory: Callable[[str | None, str | None], Any] | None = None


class Session:
    def __init__(self, namespace: str | None = None, kube_context: str | None = None,
                 kubeconfig: str | None = None) -> None:
        self.namespace_flag = namespace
        self.kube_context = kube_context
        self.kubeconfig = kubeconfig

    @cached_property
    def namespace(self) -> str:
        return resolve_namespace(self.namespace_flag, self.kubeconfig, self.kube_context)

    @cached_property
    def helm(self) -> Helm:
        command = helm_command_factory(self.kubeconfig, self.kube_context) if helm_command_factory else None
        return Helm(self.kubeconfig, self.kube_context, command=command)

    @cached_property
    def cluster(self) -> Cluster:
        return Cluster(self.kubeconfig, self.kube_context)

"""One error hierarchy for the whole tool.

Every error the user can cause or meet carries a one-line message, a hint (the next thing to try) and an exit
code. The CLI turns them into ``error: <message>`` + ``hint: <hint>`` on stderr; tracebacks only with --debug.
Pure module: no I/O imports, so the planner may raise these too.
"""

from __future__ import annotations


class LlmError(Exception):
    """Base class: a user-facing failure with a hint and an exit code."""

    exit_code = 1
    default_hint = ""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class UsageError(LlmError):
    """Bad flags or flag combinations (click-like usage error)."""

    exit_code = 2
    default_hint = "see 'kubectl llm --help'"


class InvalidName(UsageError):
    """A release / route name that is not a DNS-1123 label."""


class InvalidValues(UsageError):
    """Chart values that break the chart's values.schema.json (checked before helm runs)."""

    default_hint = "fix those -f/--set values; every key is documented in the chart's values.yaml"


# --- model source ---------------------------------------------------------------------------------------------
class ModelSourceError(LlmError):
    exit_code = 3


class ModelNotFound(ModelSourceError):
    default_hint = "check the repo id on huggingface.co, or pass a local directory holding config.json"


class GatedModel(ModelSourceError):
    default_hint = "accept the model's licence on huggingface.co and export HF_TOKEN=<token with read access>"


class HubUnreachable(ModelSourceError):
    default_hint = ("the Hugging Face Hub cannot be reached; set HF_HUB_OFFLINE=1 to use the local cache, "
                    "or pass a local directory with config.json")


class BadModelConfig(ModelSourceError):
    default_hint = "the model's config.json is missing fields the planner needs; pass a corrected local directory"


# --- planning -------------------------------------------------------------------------------------------------
class PlanError(LlmError):
    """The request cannot be planned at all (contradictory forced values, unknown GPU type ...)."""

    exit_code = 4


class UnknownGpu(PlanError):
    default_hint = "run 'kubectl llm gpus' for the known types, or pass --gpu-memory SIZE (e.g. 48GiB)"


class DoesNotFit(PlanError):
    """Raised by the CLI (not the planner) when a plan has fits=false; the plan document is still printed."""

    exit_code = 5
    default_hint = "try another --gpu type, more --gpus, a smaller --max-model-len, or --kv-cache-dtype fp8"


# --- cluster / helm -------------------------------------------------------------------------------------------
class ClusterError(LlmError):
    exit_code = 6


class ClusterUnreachable(ClusterError):
    default_hint = "check 'kubectl cluster-info' and --kubeconfig/--context"


class MissingCRDs(ClusterError):
    default_hint = "install the Envoy AI Gateway (and Envoy Gateway) first, then 'kubectl llm gateway install'"


class PermissionDenied(ClusterError):
    default_hint = "ask a cluster admin for rights in the namespace, or pick another with -n"


class ReleaseConflict(ClusterError):
    default_hint = "pick another --name; 'helm list -n NS' shows what holds the name"


class NamespaceNotFound(ClusterError):
    default_hint = "create it first (kubectl create namespace NAME) or pick another with -n"


class ReleaseNotFound(ClusterError):
    default_hint = "'kubectl llm list -A' shows the installed models"


class HelmError(ClusterError):
    default_hint = "re-run with --debug for helm's full output"


class ToolMissing(LlmError):
    exit_code = 7
    default_hint = "run ./install.sh --with-tools, or install helm >= 3.8 and kubectl and put them on PATH"


class SiteError(UsageError):
    """A site file that is missing, not YAML, or not what site.schema.json allows."""

    default_hint = ("fix the site file (schema: kubectl_llm/sites/site.schema.json; 'kubectl llm site show -o yaml' "
                    "prints a complete one), or unset --site / $KUBECTL_LLM_SITE to use the default")

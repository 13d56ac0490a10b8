"""Which context and namespace a command uses, read from the kubeconfig files as kubectl reads them (no client).

Why not the ``kubernetes`` package: importing it costs ~0.2-0.4 s, a third of an `add --dry-run=client` that needs
only a namespace. Why kubectl's rules: helm (client-go) connects with them, so the namespace and the API connection
agree with helm's. The rules (client-go ``clientcmd``):
  - ``--kubeconfig FILE`` reads that one file; else every file of ``$KUBECONFIG`` (separated by ``os.pathsep``,
    missing files and duplicates skipped); else ``~/.kube/config``;
  - the first file that sets a non-empty ``current-context`` names it (the ``kubernetes`` client let the last one
    win); contexts are merged by name, the first file's entry wins;
  - ``--context NAME`` overrides the current context.
A file that is not a kubeconfig (bad YAML, wrong shape) raises ``KubeconfigError``; callers decide what it means.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping


class KubeconfigError(ValueError):
    """A kubeconfig file that cannot be read as one (first line of the parser's message)."""


@dataclass(frozen=True)
class Kubeconfig:
    files: list[str]                                    # the files read, in precedence order
    current_context: str | None                         # from the first file that sets one
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> its `context:` map, first wins

    def namespace(self, context: str | None = None) -> str | None:
        """The namespace of ``context`` (default: the current one); None when it sets none or the current context
        is not defined. KeyError: ``context`` is given and not defined."""
        if context:
            return self.contexts[context].get("namespace") or None
        return (self.contexts.get(self.current_context or "") or {}).get("namespace") or None


def kubeconfig_files(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> list[str]:
    """The files kubectl would read, in precedence order; only those that exist."""
    env = os.environ if environ is None else environ
    if explicit:
        paths = [explicit]
    elif env.get("KUBECONFIG"):
        paths = env["KUBECONFIG"].split(os.pathsep)
    else:
        paths = [os.path.join("~", ".kube", "config")]
    out: list[str] = []
    for p in paths:
        p = os.path.expanduser(p) if p else p
        if p and p not in out and os.path.isfile(p):
            out.append(p)
    return out


def _read(path: str) -> dict[str, Any]:
    from kubectl_llm import yamlio

    try:
        with open(path, encoding="utf-8") as f:
            doc = yamlio.load(f)
    except yamlio.YAMLError as exc:
        raise KubeconfigError(f"error loading config file {path!r}: {str(exc).splitlines()[0]}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KubeconfigError(f"error loading config file {path!r}: {exc}") from None
    if doc is None:                                      # an empty file is an empty config (client-go)
        return {}
    if not isinstance(doc, dict) or not isinstance(doc.get("contexts") or [], list):
        raise KubeconfigError(f"error loading config file {path!r}: not a kubeconfig (a mapping with a "
                              "list of contexts)")
    return doc


def load_kubeconfig(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> Kubeconfig | None:
    """The merged kubeconfig, None when there is no file. KubeconfigError on a file that is not one."""
    files = kubeconfig_files(explicit, environ)
    if not files:
        return None
    current: str | None = None
    contexts: dict[str, dict[str, Any]] = {}
    for path in files:
        doc = _read(path)
        current = current or (str(doc["current-context"]) if doc.get("current-context") else None)
        for entry in doc.get("contexts") or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("context") or {}, dict) \
                    or entry.get("name") is None:
                raise KubeconfigError(f"error loading config file {path!r}: a context without a name or with a "
                                      "context that is not a mapping")
            contexts.setdefault(str(entry["name"]), entry.get("context") or {})
    return Kubeconfig(files, current, contexts)

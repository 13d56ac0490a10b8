"""Helm, through pyhelm3: the only module that talks to the helm binary.

Why pyhelm3: it already knows the Helm 3 / Helm 4 flag differences (``--atomic`` vs ``--rollback-on-failure``,
``--force`` vs ``--force-replace``), sends values as JSON on stdin (so nothing secret or large lands on a command
line) and maps helm's stderr to typed errors. It is async; every public method here wraps one coroutine with
``asyncio.run`` so the CLI stays synchronous.

Bugs and traps of pyhelm3 0.5.8 avoided on purpose (see ../shared/notes/tooling-facts.md section 3):
``disable_validation`` is never passed (it splits the flag into characters), ``recreate_pods`` is never passed
(unknown flag on Helm 4), ``dry_run=True`` is never used (bare ``--dry-run`` is client-side on Helm 4); the server
dry run and ``helm template`` go through pyhelm3's ``Command.run`` with explicit arguments.

Rollback on failure, and why it is not always Helm's own ``--atomic``: both Helm 3 ``--atomic`` and Helm 4
``--rollback-on-failure`` imply waiting until every object is ready, and an LLM can take half an hour to download
its weights. So with ``wait=True`` we let Helm do it (atomic); with ``wait=False`` we apply without waiting and, if
helm fails, undo ourselves: uninstall a first install, or roll back to the revision that was deployed before.
Either way a failed ``add`` leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, TypeVar

from kubectl_llm import __version__, yamlio
from kubectl_llm.errors import (
    ClusterUnreachable,
    HelmError,
    InvalidValues,
    LlmError,
    MissingCRDs,
    NamespaceNotFound,
    PermissionDenied,
    ReleaseConflict,
    ReleaseNotFound,
    ToolMissing,
)

if TYPE_CHECKING:  # pragma: no cover
    from pyhelm3 import Client, Command

T = TypeVar("T")

# What `helm template` assumes about the cluster when there is none (--dry-run=client). The Envoy AI Gateway and
# Envoy Gateway API groups are declared so that charts gating their gateway objects on .Capabilities render them.
DEFAULT_KUBE_VERSION = "1.33.0"
GATEWAY_API_VERSIONS = (
    "aigateway.envoyproxy.io/v1alpha1",
    "gateway.envoyproxy.io/v1alpha1",
    "gateway.networking.k8s.io/v1",
)
MIN_HELM = (3, 8)


@dataclass(frozen=True)
class KubeTarget:
    """Where helm should act: the kubectl-style connection flags plus the resolved namespace."""

    namespace: str
    kubeconfig: str | None = None
    context: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What an install/upgrade did: ``installed``, ``upgraded`` or ``unchanged``, and the revision now deployed."""

    action: str
    revision: int
    objects: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ReleaseSummary:
    """One row of ``helm list`` plus the values it was installed with (the only source of truth for `list`)."""

    name: str
    namespace: str
    revision: int
    status: str
    chart: str
    updated: str
    created: str | None
    values: dict[str, Any]


WITH_TOOLS_HINT = ("run ./install.sh --with-tools (puts a pinned helm and kubectl into kubectl llm's own "
                   "directory), or install helm >= 3.8 on PATH: https://helm.sh/docs/intro/install/")


def helm_path() -> str | None:
    """$KUBECTL_LLM_HELM (a name or path) if set; else the helm `install.sh --with-tools` put beside this
    interpreter (the plugin's own virtualenv bin dir); else helm on PATH."""
    if os.environ.get("KUBECTL_LLM_HELM"):
        return shutil.which(os.environ["KUBECTL_LLM_HELM"])
    own = Path(sys.prefix) / "bin" / "helm"
    if own.is_file() and os.access(own, os.X_OK):
        return str(own)
    return shutil.which("helm")


def find_helm() -> str:
    """Path of the helm binary (see helm_path); ToolMissing when there is none."""
    path = helm_path()
    if not path and os.environ.get("KUBECTL_LLM_HELM"):   # the user named one: say that one is missing, not PATH's
        raise ToolMissing(f"$KUBECTL_LLM_HELM names {os.environ['KUBECTL_LLM_HELM']!r}, which is not an executable "
                          f"file (nor a command on PATH)",
                          "point KUBECTL_LLM_HELM at helm >= 3.8, or unset it to use kubectl llm's own helm or PATH's")
    if not path:
        raise ToolMissing("helm not found on PATH", WITH_TOOLS_HINT)
    return path


def normalise(values: dict[str, Any]) -> dict[str, Any]:
    """Values as helm will store them (JSON types): tuples become lists, so comparisons with `get values` hold."""
    return json.loads(json.dumps(values))


def parse_manifest(text: str) -> list[dict[str, Any]]:
    """Multi-document YAML from helm -> list of objects (empty documents dropped)."""
    return [doc for doc in yamlio.load_all(text) if isinstance(doc, dict) and doc]


def _first_line(stderr: str) -> str:
    """Helm's own verdict: its `Error: ...` line, else the first line that is not a warning or a log record.

    Helm 4 logs `level=WARN msg="upgrade failed" ...` records before the `Error: UPGRADE FAILED: ...` line.
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("Error: ", "error: ")):
            return line.removeprefix("Error: ").removeprefix("error: ")
    for line in lines:
        if not line.lower().startswith(("warning:", "walk.go", "coalesce.go", "level=", "time=")):
            return line
    return "helm failed"


def _render_reason(stderr: str, line: str) -> str:
    """A template's `fail` message spans lines after helm's `Error: execution error at (...):` line (the chart's
    cross-field checks list one problem per `  - ` line): keep them, on one line, instead of the bare location."""
    if not line.endswith(":"):
        return line
    lines = [x.strip() for x in stderr.splitlines()]
    start = next((i for i, x in enumerate(lines) if x.endswith(line)), None)
    rest = [x.removeprefix("- ") for x in lines[start + 1:] if x] if start is not None else []
    rest = [x for x in rest if not x.lower().startswith(("level=", "time=", "warning:", "use --debug flag"))]
    if not rest:
        return line
    if rest[0].endswith(":") and len(rest) > 1:        # "llm-model: invalid values:" heads the list
        return f"{rest[0]} {'; '.join(rest[1:])}"
    return "; ".join(rest)


def map_helm_error(exc: BaseException, *, release: str = "", namespace: str = "") -> LlmError:
    """One pyhelm3 error -> one of our user-facing errors (message from helm's own first stderr line)."""
    from pyhelm3 import errors as herr

    if isinstance(exc, LlmError):
        return exc
    stderr = exc.stderr.decode(errors="replace") if isinstance(exc, herr.Error) else str(exc)
    line = _first_line(stderr)
    low = stderr.lower()
    if isinstance(exc, herr.ReleaseNotFoundError):
        return ReleaseNotFound(f"release {release!r} not found in namespace {namespace!r}")
    if ("kubernetes cluster unreachable" in low or isinstance(exc, herr.ConnectionError)
            or "connection refused" in low or "no such host" in low or "i/o timeout" in low):
        if "localhost:8080" in low:     # client-go's address when it found no kubeconfig at all
            return ClusterUnreachable("no usable kubeconfig: helm found none and tried http://localhost:8080",
                                      "pass --kubeconfig PATH or set KUBECONFIG; 'kubectl config view' shows it")
        return ClusterUnreachable(f"cannot reach the cluster: {line}")
    if "persistentvolumeclaim" in low and "is immutable" in low:
        return HelmError(f"helm failed: {line}",
                         "Kubernetes never changes a claim's storage class or access mode in place: keep the old "
                         "storage.* values, or 'kubectl llm rm' the model and add it again (the weights download again)")
    # RBAC refusals read '<resource> is forbidden: User "..." cannot <verb> ...'; a validation error can also say
    # "Forbidden" (field.Forbidden), which is no permission problem.
    if (" is forbidden: " in low or "cannot get resource" in low or "cannot list resource" in low
            or "unauthorized" in low or "you must be logged in" in low):
        return PermissionDenied(f"permission denied: {line}")
    missing_ns = re.search(r'namespaces "([^"]+)" not found', stderr)
    if missing_ns:
        name = missing_ns.group(1)
        return NamespaceNotFound(f"namespace {name!r} does not exist",
                                 f"create it (kubectl create namespace {name}) or pick another with -n")
    if "no matches for kind" in low or "ensure crds are installed" in low:
        return MissingCRDs(f"the cluster lacks the gateway CRDs: {line}")
    if isinstance(exc, herr.ResourceAlreadyExistsError) or "invalid ownership metadata" in low:
        return ReleaseConflict(f"an object of release {release!r} already exists outside it: {line}",
                               cluster_scoped_hint(stderr, release) or "pick another --name, or remove the object that "
                                                              "holds the name")
    if isinstance(exc, herr.FailedToRenderChartError):
        reason = _render_reason(stderr, line)
        if re.match(r"llm-(model|gateway): invalid values: ", reason):
            # the chart's own cross-field checks (validateValues): the values are the user's to fix, as a schema
            # violation is (exit 2), not a cluster or helm failure
            return InvalidValues(f"the chart did not render: {reason}",
                                 "fix those -f/--set values (each rule is named)")
        return HelmError(f"the chart did not render: {reason}",
                         "check your --set/-f overrides against the chart values")
    return HelmError(f"helm failed: {line}")


def cluster_scoped_hint(stderr: str, release: str = "") -> str | None:
    """The hint for an ownership conflict on a cluster-scoped object (namespace ""): another --name does not help,
    since the object's name comes from values; say which release owns it and how to share it or name another."""
    m = re.search(r'(\w+) "([^"]+)" in namespace "" exists', stderr)
    if not m:
        return None
    kind, name = m.groups()
    owner = re.search(r'release-name" must equal "[^"]*": current value is "([^"]*)"', stderr)
    owner_ns = re.search(r'release-namespace" must equal "[^"]*": current value is "([^"]*)"', stderr)
    # Helm names only the annotations that differ: no release-name line means the owner has this release's name.
    owner_name = owner.group(1) if owner else (release if owner_ns else "")
    held = (f"release {owner_name!r}" if owner_name else "another release") + \
        (f" in namespace {owner_ns.group(1)!r}" if owner_ns else "")
    if kind == "GatewayClass":
        return (f"GatewayClass {name!r} is cluster-wide and belongs to {held}: share it with "
                f"--set gatewayClass.create=false,gatewayClass.name={name}, or leave gatewayClass.name empty so this "
                f"release creates its own (<name>-<namespace>)")
    return (f"{kind} {name!r} is cluster-wide and belongs to {held}; another --name does not rename it: give it "
            f"another name in this release's values, or reuse the existing one")


class Helm:
    """Synchronous facade over a pyhelm3 Client bound to one kubeconfig/context.

    ``command`` lets tests inject a pyhelm3 ``Command`` subclass (the contract test records its argv); production
    builds the real one from the helm binary on PATH.
    """

    def __init__(self, kubeconfig: str | None = None, context: str | None = None,
                 command: Command | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self._command = command
        self._client: Client | None = None

    # --- plumbing --------------------------------------------------------------------------------------------
    @property
    def client(self) -> Client:
        """pyhelm3 Client, built on first use (its constructor runs `helm version`)."""
        if self._client is None:
            from pyhelm3 import Client, Command

            executable = find_helm()
            command = self._command or Command(
                executable=executable,
                kubeconfig=Path(self.kubeconfig) if self.kubeconfig else None,
                kubecontext=self.context,
            )
            self._command = command
            try:
                self._client = Client(command=command, executable=executable)
            except Exception as exc:  # noqa: BLE001 - any failure of `helm version` means no usable helm
                raise ToolMissing(f"cannot run {executable} version: {exc}") from exc
            if (self._client.version.major, self._client.version.minor) < MIN_HELM:
                raise ToolMissing(f"helm {self._client.version} is too old", "install helm >= 3.8")
        return self._client

    @property
    def command(self) -> Command:
        self.client  # noqa: B018 - builds the command as a side effect
        assert self._command is not None
        return self._command

    @property
    def is_helm4(self) -> bool:
        return self.client.version.major >= 4

    def _run(self, coro_fn: Callable[[], Awaitable[T]], *, release: str = "", namespace: str = "") -> T:
        from pyhelm3 import errors as herr

        async def wrapped() -> T:
            return await coro_fn()

        try:
            return asyncio.run(wrapped())
        except (herr.Error, OSError) as exc:
            error = map_helm_error(exc, release=release, namespace=namespace)
            if isinstance(error, ClusterUnreachable):   # helm's words for a bad --kubeconfig / --context: ours
                from kubectl_llm.adapters.cluster import connection_problem

                error = connection_problem(self.kubeconfig, self.context) or error
            raise error from exc

    # --- offline ---------------------------------------------------------------------------------------------
    def template(self, name: str, chart: Path, values: dict[str, Any], namespace: str, *,
                 kube_version: str = DEFAULT_KUBE_VERSION,
                 api_versions: Iterable[str] = GATEWAY_API_VERSIONS) -> list[dict[str, Any]]:
        """Render the chart locally with the real `helm template` (no cluster needed: --dry-run=client)."""
        from pyhelm3 import Command

        offline = Command(executable=find_helm())  # no --kubeconfig/--kube-context: template must not need them
        args: list[str] = ["template", name, str(chart), "--namespace", namespace, "--skip-tests",
                           "--kube-version", kube_version, "--values", "-"]
        for api in api_versions:
            args += ["--api-versions", api]

        async def render() -> bytes:
            # The version check (`helm version`, in a thread) runs while helm renders: a too-old or broken helm
            # still fails with its own error, and the render it ran beside is dropped. The render is awaited, not
            # cancelled: pyhelm3's cancel terminates the `sh -c` wrapper, which can leave helm waiting on its stdin.
            rendering = asyncio.ensure_future(offline.run(args, json.dumps(values).encode()))
            try:
                await asyncio.to_thread(lambda: self.client)
            except BaseException:
                await asyncio.gather(rendering, return_exceptions=True)
                raise
            return await rendering

        out = self._run(render, release=name, namespace=namespace)
        return parse_manifest(out.decode())

    # --- reads -----------------------------------------------------------------------------------------------
    def current_chart(self, name: str, namespace: str) -> tuple[str, str, str] | None:
        """(chart name, chart version, status) of the release's current revision, or None when absent."""
        from pyhelm3 import errors as herr

        async def go() -> tuple[str, str, str] | None:
            try:
                rev = await self.client.get_current_revision(name, namespace=namespace)
            except herr.ReleaseNotFoundError:
                return None
            meta = await rev.chart_metadata()
            return meta.name, meta.version, str(rev.status.value)

        return self._run(go, release=name, namespace=namespace)

    def values(self, name: str, namespace: str, revision: int | None = None, *, computed: bool = False
               ) -> dict[str, Any]:
        """The values the release was installed with; ``computed`` adds the chart's defaults (helm get values --all)."""
        return self._run(lambda: self.command.get_values(name, namespace=namespace, revision=revision,
                                                         computed=computed),
                         release=name, namespace=namespace)

    def manifest(self, name: str, namespace: str) -> list[dict[str, Any]]:
        async def go() -> list[dict[str, Any]]:
            return [d for d in await self.command.get_resources(name, namespace=namespace) if d]

        return self._run(go, release=name, namespace=namespace)

    def history(self, name: str, namespace: str) -> list[dict[str, Any]]:
        return list(self._run(lambda: self.command.history(name, namespace=namespace),
                              release=name, namespace=namespace))

    def list(self, chart_name: str, namespace: str | None, all_namespaces: bool) -> list[ReleaseSummary]:
        """Releases of ``chart_name`` with their supplied values and first-revision time, fetched concurrently."""

        async def go() -> list[ReleaseSummary]:
            rows = [r for r in await self.client.list_release_definitions(
                all_namespaces=all_namespaces, namespace=None if all_namespaces else namespace,
                include_deployed=True, include_failed=True, include_pending=True)
                if str(r.get("chart", "")).rsplit("-", 1)[0] == chart_name]

            async def detail(r: dict[str, Any]) -> ReleaseSummary:
                vals, hist = await asyncio.gather(
                    self.command.get_values(r["name"], namespace=r["namespace"]),
                    self.command.history(r["name"], namespace=r["namespace"]))
                hist = list(hist)
                return ReleaseSummary(name=r["name"], namespace=r["namespace"], revision=int(r["revision"]),
                                      status=r["status"], chart=r["chart"], updated=r["updated"],
                                      created=hist[0]["updated"] if hist else None, values=vals or {})

            return list(await asyncio.gather(*(detail(r) for r in rows)))

        return self._run(go, namespace=namespace or "")

    # --- writes ----------------------------------------------------------------------------------------------
    def install_or_upgrade(self, name: str, chart_dir: Path, values: dict[str, Any], namespace: str, *,
                           chart_name: str, wait: bool, timeout: str, description: str | None = None,
                           check_current: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
                           ) -> Outcome:
        """Idempotent `helm upgrade --install`: no new revision when chart version and values are unchanged.

        Refuses (ReleaseConflict) when NAME is held by a release of another chart; ``check_current`` may refuse
        the existing release's values too (add: another model under the same name), or return the values to
        apply instead (add: the weights claim keeps its storage class). Repairs a release stuck in a pending state
        (pyhelm3 ``get_proceedable_revision``) before acting.
        """
        values = normalise(values)
        from pyhelm3 import errors as herr

        async def go() -> Outcome:
            nonlocal values
            client = self.client
            try:
                current = await client.get_current_revision(name, namespace=namespace)
            except herr.ReleaseNotFoundError:
                current = None
            if current is not None:
                held_by = (await current.chart_metadata()).name
                if held_by != chart_name:
                    raise ReleaseConflict(
                        f"release {name!r} in namespace {namespace!r} belongs to chart {held_by!r}, "
                        f"not {chart_name!r}")
                if check_current is not None:
                    adjusted = check_current(await current.values())
                    if adjusted is not None:
                        values = normalise(adjusted)
                current = await client.get_proceedable_revision(name, namespace=namespace, timeout=timeout)
            chart = await client.get_chart(chart_dir)
            if not await client.should_install_or_upgrade_release(current, chart, values):
                assert current is not None
                return Outcome("unchanged", current.revision, [])
            previous = current.revision if current is not None and current.status.value == "deployed" else None
            try:
                rev = await client.install_or_upgrade_release(
                    name, chart, values, atomic=wait and not self.is_helm4,
                    rollback_on_failure=wait and self.is_helm4, wait=wait, timeout=timeout, namespace=namespace,
                    create_namespace=False, description=description or f"kubectl-llm {__version__}",
                    force_conflicts=self.is_helm4)
            except herr.Error as exc:
                error = map_helm_error(exc, release=name, namespace=namespace)
                if wait and "error occurred while rolling back" in error.message:
                    # Helm's rollback shares the timeout that just ran out: it re-applies the previous revision but
                    # cannot wait for it, and records it as failed. Do not claim it rolled back cleanly.
                    error.message += (" (helm re-applied the previous revision, but its rollback ran out of the same "
                                      f"--timeout and is recorded as failed: 'kubectl llm status {name} -n "
                                      f"{namespace}' shows whether it serves again)")
                elif wait:
                    error.message += " (helm rolled the release back)"
                else:
                    error.message += await self._undo(name, namespace, previous, timeout, chart_name)
                raise error from exc
            return Outcome("upgraded" if current is not None else "installed", rev.revision,
                           list(rev.resources_ or []))

        return self._run(go, release=name, namespace=namespace)

    async def _undo(self, name: str, namespace: str, previous: int | None, timeout: str, chart_name: str = "") -> str:
        """Our rollback path for --no-wait installs: leave the cluster as it was before this add."""
        from pyhelm3 import errors as herr

        try:
            if previous is None:
                try:
                    await self.client.get_current_revision(name, namespace=namespace)
                except herr.ReleaseNotFoundError:
                    return ""  # helm failed before storing the release: nothing was installed
                await self.client.uninstall_release(name, namespace=namespace, timeout=timeout, wait=False)
                return " (the partial install was removed)"
            now = await self.client.get_current_revision(name, namespace=namespace)
            if now.revision == previous and now.status.value == "deployed":
                # helm failed before storing a new revision (a render error, a refused value): nothing was applied,
                # and a rollback would only add a revision identical to the one deployed
                return " (nothing was applied)"
            await self._rollback(name, previous, namespace, wait=False, timeout=timeout)
            return f" (rolled back to revision {previous})"
        except Exception as exc:  # noqa: BLE001 - the original error matters more; say the undo failed too
            redo = (f"kubectl llm rm {name} -n {namespace}" if previous is None else
                    f"kubectl llm rollback {name} {previous} -n {namespace}" if chart_name == "llm-model" else
                    f"helm rollback {name} {previous} -n {namespace}")
            return f" (and undoing it failed too: {_first_line(str(exc))}; run '{redo}')"

    def dry_run_server(self, name: str, chart_dir: Path, values: dict[str, Any], namespace: str
                       ) -> list[dict[str, Any]]:
        """Helm's server-side dry run: the API server validates and defaults, nothing is persisted."""
        args = ["upgrade", name, str(chart_dir), "--install", "--dry-run=server", "--namespace", namespace,
                "--output", "json", "--values", "-"]

        async def go() -> list[dict[str, Any]]:
            out = await self.command.run(args, json.dumps(normalise(values)).encode())
            doc = json.loads(out[out.index(b"{"):])
            return parse_manifest(doc.get("manifest", ""))

        return self._run(go, release=name, namespace=namespace)

    def uninstall(self, name: str, namespace: str, *, timeout: str = "5m", wait: bool = False) -> None:
        self._run(lambda: self.command.uninstall(name, namespace=namespace, timeout=timeout, wait=wait),
                  release=name, namespace=namespace)

    def set_values(self, name: str, chart_dir: Path, namespace: str, overrides: dict[str, Any],
                   timeout: str = "5m") -> int:
        """Upgrade the release with its own values plus ``overrides`` (used by rm --keep-cache); new revision."""

        async def go() -> int:
            from pyhelm3.client import mergeconcat

            vals = await self.command.get_values(name, namespace=namespace)
            chart = await self.client.get_chart(chart_dir)
            rev = await self.client.install_or_upgrade_release(
                name, chart, normalise(mergeconcat(vals, overrides)), namespace=namespace, timeout=timeout,
                create_namespace=False, description="kubectl-llm rm --keep-cache", force_conflicts=self.is_helm4)
            return rev.revision

        return self._run(go, release=name, namespace=namespace)

    def rollback(self, name: str, namespace: str, revision: int | None, *, wait: bool, timeout: str) -> int:
        async def go() -> int:
            await self._rollback(name, revision, namespace, wait=wait, timeout=timeout)
            rev = await self.client.get_current_revision(name, namespace=namespace)
            return rev.revision

        return self._run(go, release=name, namespace=namespace)

    async def _rollback(self, name: str, revision: int | None, namespace: str, *, wait: bool, timeout: str) -> None:
        """`helm rollback` with --cleanup-on-fail, and on Helm 4 --force-conflicts (pyhelm3's rollback cannot say it).

        Why force: Helm 4 applies server-side, so a field someone changed by hand (`kubectl scale --replicas=0` to
        free the GPUs) is owned by another manager and the apply fails with a conflict. The release is the desired
        state of the model; upgrades and rollbacks take such fields back, as `add` does.
        """
        args: list[Any] = ["rollback", name]
        if revision is not None:
            args.append(str(revision))
        args += ["--history-max", "10", "--timeout", timeout, "--cleanup-on-fail", "--namespace", namespace]
        if self.is_helm4:
            args.append("--force-conflicts")
        if wait:
            args += ["--wait", "--wait-for-jobs"]
        await self.command.run(args)


_TS_RE = re.compile(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.\d+)?\s*(Z|[+-]\d\d:?\d\d)?")


def parse_time(timestamp: str | None) -> dt.datetime | None:
    """Helm's timestamps: '2025-01-02 10:00:00.123456789 +0000 UTC' (list) or RFC 3339 (history, status)."""
    m = _TS_RE.search(timestamp or "")
    if not m:
        return None
    zone = m.group(3) or "Z"
    zone = "+00:00" if zone == "Z" else (zone if ":" in zone else f"{zone[:3]}:{zone[3:]}")
    return dt.datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}{zone}")


def rfc3339(timestamp: str | None) -> str | None:
    """A helm timestamp in one format for -o json|yaml (helm list and helm history differ); None when unreadable."""
    when = parse_time(timestamp)
    return when.isoformat().replace("+00:00", "Z") if when else None


def age(timestamp: str | None, now: dt.datetime | None = None) -> str:
    """kubectl-style age ('45s', '12m', '3h', '5d') of a helm timestamp; '<unknown>' when unreadable."""
    when = parse_time(timestamp)
    if when is None:
        return "<unknown>"
    now = now or dt.datetime.now(dt.timezone.utc)
    secs = max(0, int((now - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit}"
    return f"{secs}s"

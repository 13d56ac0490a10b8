"""The kubeconfig reader (adapters/kubeconfig.py) follows kubectl's rules, checked with real temp files and, where
kubectl itself can answer, against the real kubectl binary (`kubectl config view --minify`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from kubectl_llm.adapters.cluster import current_context, resolve_namespace
from kubectl_llm.adapters.kubeconfig import KubeconfigError, kubeconfig_files, load_kubeconfig
from kubectl_llm.errors import ClusterUnreachable


def kubeconfig(path, current: str | None, contexts: dict[str, str | None]) -> str:
    """A kubeconfig file with ``contexts`` (name -> namespace or None) on one cluster and user."""
    lines = ["apiVersion: v1", "kind: Config"]
    if current is not None:
        lines.append(f"current-context: {current}")
    lines += ["clusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]",
              "users: [{name: u, user: {token: t}}]", "contexts:"]
    for name, ns in contexts.items():
        extra = f", namespace: {ns}" if ns else ""
        lines.append(f"  - {{name: {name}, context: {{cluster: c, user: u{extra}}}}}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A HOME without ~/.kube/config and no $KUBECONFIG: each test sets what it needs."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    return monkeypatch


def kubectl_view(kubeconfig_env: str, context: str | None = None) -> tuple[str, str]:
    """(current context, namespace) as the real kubectl resolves them ('' where unset)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl not on PATH: run scripts/get-tools.sh", pytrace=False)
    argv = [kubectl, "config", "view", "--minify", "-o", "json"] + (["--context", context] if context else [])
    doc = json.loads(subprocess.run(argv, capture_output=True, text=True, check=True,
                                    env=dict(os.environ, KUBECONFIG=kubeconfig_env)).stdout)
    return doc.get("current-context", ""), (doc["contexts"][0].get("context") or {}).get("namespace", "")


def test_several_files_first_current_context_and_first_context_of_a_name_win(env, tmp_path):
    """KUBECONFIG=a:b:c. a sets no current-context, b names 'dev' and c names 'prod': kubectl takes b's ('dev'; the
    kubernetes client let c's win). 'dev' is in b and c with different namespaces: b's entry (the first) wins."""
    a = kubeconfig(tmp_path / "a", None, {"prod": "from-a"})
    b = kubeconfig(tmp_path / "b", "dev", {"dev": "dev-from-b"})
    c = kubeconfig(tmp_path / "c", "prod", {"dev": "dev-from-c", "prod": "from-c", "only-c": "c-ns"})
    joined = os.pathsep.join([a, b, c])
    env.setenv("KUBECONFIG", joined)
    config = load_kubeconfig()
    assert config is not None and config.files == [a, b, c]
    assert config.current_context == "dev"
    assert config.contexts["prod"]["namespace"] == "from-a"             # a is first
    assert resolve_namespace(None, None, None) == "dev-from-b"
    assert resolve_namespace(None, None, "prod") == "from-a"
    assert resolve_namespace(None, None, "only-c") == "c-ns"            # merged in from the last file
    assert current_context(None, None) == "dev"
    assert kubectl_view(joined) == ("dev", "dev-from-b")                # the real kubectl agrees
    assert kubectl_view(joined, "prod")[1] == "from-a"


def test_an_empty_current_context_does_not_win(env, tmp_path):
    a = tmp_path / "a"
    a.write_text('current-context: ""\ncontexts: []\n')
    b = kubeconfig(tmp_path / "b", "dev", {"dev": "ns-b"})
    joined = os.pathsep.join([str(a), b])
    env.setenv("KUBECONFIG", joined)
    assert resolve_namespace(None, None, None) == "ns-b"
    assert kubectl_view(joined) == ("dev", "ns-b")


def test_flags_override_the_environment(env, tmp_path):
    """--kubeconfig reads only its file ($KUBECONFIG ignored); --context picks another context; -n wins over all."""
    env.setenv("KUBECONFIG", kubeconfig(tmp_path / "env", "e", {"e": "env-ns"}))
    flag = kubeconfig(tmp_path / "flag", "f", {"f": "flag-ns", "g": "g-ns", "bare": None})
    assert resolve_namespace(None, None, None) == "env-ns"
    assert resolve_namespace(None, flag, None) == "flag-ns"
    assert resolve_namespace(None, flag, "g") == "g-ns"
    assert resolve_namespace(None, flag, "bare") == "default"          # a context without a namespace
    assert resolve_namespace("explicit", flag, "g") == "explicit"
    assert current_context(flag, None) == "f" and current_context(flag, "g") == "g"
    assert kubeconfig_files(flag) == [flag]
    with pytest.raises(ClusterUnreachable, match="context 'e' not found in the kubeconfig"):
        resolve_namespace(None, flag, "e")                              # only in $KUBECONFIG's file


def test_missing_files_are_skipped_and_no_kubeconfig_means_default(env, tmp_path):
    b = kubeconfig(tmp_path / "b", "dev", {"dev": "ns-b"})
    env.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "missing"), "", b, b]))
    assert kubeconfig_files() == [b]                                    # missing, empty and repeated entries dropped
    assert resolve_namespace(None, None, None) == "ns-b"
    env.setenv("KUBECONFIG", str(tmp_path / "missing"))
    assert load_kubeconfig() is None
    assert resolve_namespace(None, None, None) == "default"
    assert resolve_namespace(None, str(tmp_path / "missing"), None) == "default"
    assert current_context(None, None) is None


def test_home_kube_config_when_kubeconfig_is_unset_or_empty(env, tmp_path):
    home = tmp_path / "home" / ".kube"
    home.mkdir(parents=True)
    kubeconfig(home / "config", "h", {"h": "home-ns"})
    assert resolve_namespace(None, None, None) == "home-ns"
    env.setenv("KUBECONFIG", "")
    assert resolve_namespace(None, None, None) == "home-ns"


def test_current_context_not_defined_and_empty_file(env, tmp_path):
    """current-context naming no context: 'default' (as the kubernetes client did); an empty file is an empty
    config (client-go), so the next file still counts."""
    empty = tmp_path / "empty"
    empty.write_text("")
    b = kubeconfig(tmp_path / "b", "ghost", {"dev": "ns-b"})
    env.setenv("KUBECONFIG", os.pathsep.join([str(empty), b]))
    assert resolve_namespace(None, None, None) == "default"
    assert resolve_namespace(None, None, "dev") == "ns-b"


@pytest.mark.parametrize("text", ["contexts: [oops\n", "- a\n- b\n", "contexts: {a: 1}\n", "contexts: [{context: {}}]\n",
                                  "contexts: [{name: x, context: [1]}]\n"])
def test_a_malformed_kubeconfig_is_named_and_namespace_falls_back_to_default(env, tmp_path, text):
    """Bad YAML or the wrong shape: load_kubeconfig names the file; resolve_namespace gives 'default' as it did with
    the kubernetes client (a command that connects reports the file through helm or the client)."""
    bad = tmp_path / "bad"
    bad.write_text(text)
    with pytest.raises(KubeconfigError, match=f"error loading config file '{bad}'"):
        load_kubeconfig(str(bad))
    assert resolve_namespace(None, str(bad), None) == "default"
    assert resolve_namespace(None, str(bad), "anything") == "default"
    assert current_context(str(bad), None) is None                     # the client shows its own error then


def test_the_cluster_client_reads_kubeconfig_as_it_is_now_not_when_kubernetes_was_imported(env, tmp_path):
    """The kubernetes client fixes its default kubeconfig (KUBE_CONFIG_DEFAULT_LOCATION) from $KUBECONFIG when the
    module is first imported. Before: with $KUBECONFIG unset now, the Cluster adapter passed config_file=None and
    loaded that stale file (in the test suite: a stopped fake server's, 'Connection refused' instead of 'no usable
    kubeconfig'). Now it passes ~/.kube/config, kubectl's default, itself."""
    from kubernetes.config import kube_config

    from kubectl_llm.adapters.cluster import Cluster

    stale = kubeconfig(tmp_path / "stale", "a", {"a": "ns"})
    env.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", stale)
    (tmp_path / "home").mkdir()
    with pytest.raises(ClusterUnreachable) as err:
        Cluster()._client()
    assert str(err.value).startswith("no usable kubeconfig"), str(err.value)
    home = kubeconfig(tmp_path / "home" / "config", "b", {"b": "x"})   # ~/.kube/config is read when it exists
    os.makedirs(tmp_path / "home" / ".kube")
    os.replace(home, tmp_path / "home" / ".kube" / "config")
    client = Cluster()._client()
    assert client.configuration.host == "https://127.0.0.1:9"

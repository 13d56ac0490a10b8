"""The gateway chart once per namespace (issue 9, item 4): its GatewayClass is cluster-scoped, so each release
names its own (`<release>-<namespace>`) unless told to share one; a conflict on a cluster-scoped object says who
owns it and how to share it. Against the fake API server with the real helm."""

from __future__ import annotations

import pytest

from tests.fakes.apiserver import FakeApiServer
from tests.test_cli_lifecycle import NS, as_json, failed, fake, kllm  # noqa: F401 - the fixture is used by name


@pytest.mark.parametrize("fake", [{"namespaces": ["team-b", "team-c"]}], indirect=True)
def test_two_namespaces_each_get_the_gateway_chart(fake: FakeApiServer) -> None:
    """Before: the second install failed on the fixed GatewayClass name, with the hint 'pick another --name'."""
    assert as_json("gateway", "install", "-n", NS)["action"] == "installed"
    assert as_json("gateway", "install", "-n", "team-b")["action"] == "installed"
    for ns in (NS, "team-b"):
        cls = fake.get_object("GatewayClass", f"llm-gateway-{ns}")
        assert cls["spec"]["parametersRef"] == {"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy",
                                                "name": "llm-gateway", "namespace": ns}
        gw = fake.get_object("Gateway", "envoy-ai-gateway-nrp", ns)
        assert gw["spec"]["gatewayClassName"] == f"llm-gateway-{ns}"
    assert as_json("gateway", "install", "-n", "team-b")["action"] == "unchanged"

    # Naming another namespace's class: the conflict says whose it is and how to share it.
    stderr = failed("gateway", "install", "-n", "team-c", "--set", f"gatewayClass.name=llm-gateway-{NS}",
                    starts="an object of release 'llm-gateway' already exists outside it")
    assert (f"hint: GatewayClass 'llm-gateway-{NS}' is cluster-wide and belongs to release 'llm-gateway' in "
            f"namespace '{NS}': share it with --set gatewayClass.create=false,gatewayClass.name=llm-gateway-{NS}"
            ) in stderr
    shared = as_json("gateway", "install", "-n", "team-c", "--set",
                     f"gatewayClass.create=false,gatewayClass.name=llm-gateway-{NS}")
    assert shared["action"] == "installed"
    assert fake.get_object("Gateway", "envoy-ai-gateway-nrp", "team-c")["spec"]["gatewayClassName"] == \
        f"llm-gateway-{NS}"
    for ns in ("team-c", "team-b", NS):
        assert "removed" in kllm("gateway", "uninstall", "-n", ns).stdout
    assert fake.objects("llm.nrp-nautilus.io/gateway") == []

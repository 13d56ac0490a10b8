"""The offline validator itself must catch what the API server would reject: these tests break objects on purpose.

Each case starts from a valid rendered object (so the base is known good) and changes one thing.
"""

from __future__ import annotations

import copy

import pytest

from tests.manifest_validation import strictify, validate_objects


@pytest.fixture(scope="module")
def objs(rendered_scenarios) -> dict[str, dict]:
    """One valid object per kind from the qwen3 scenario (it has every llm-model kind)."""
    rendered = rendered_scenarios[("helm", "llm-model", "03-qwen3-handbook-values.yaml")]
    validate_objects(rendered)
    return {o["kind"]: o for o in rendered}


def broken(obj: dict, mutate) -> dict:
    out = copy.deepcopy(obj)
    mutate(out)
    return out


def assert_invalid(obj: dict, *fragments: str) -> None:
    with pytest.raises(AssertionError) as err:
        validate_objects([obj])
    for fragment in fragments:
        assert fragment in str(err.value)


def test_misspelled_field_in_a_custom_resource_fails(objs) -> None:
    def typo(o: dict) -> None:
        ref = o["spec"]["rules"][0]["backendRefs"][0]
        ref["modelNameOverides"] = ref.pop("modelNameOverride")

    assert_invalid(broken(objs["AIGatewayRoute"], typo), "AIGatewayRoute/qwen", "spec.rules.0.backendRefs.0", "modelNameOverides")


def test_the_raw_crd_schema_would_not_have_caught_it(objs) -> None:
    # Why strictify exists: the CRD schema alone allows unknown fields (the API server prunes them silently).
    import jsonschema

    from tests.manifest_validation import _crd_index

    crd = _crd_index()[("aigateway.envoyproxy.io", "AIGatewayRoute")]
    raw = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")["schema"]["openAPIV3Schema"]
    obj = broken(objs["AIGatewayRoute"], lambda o: o["spec"]["rules"][0].update(timeoutz={"request": "1s"}))
    assert list(jsonschema.Draft202012Validator(raw).iter_errors(obj)) == []
    assert_invalid(obj, "timeoutz")


def test_misspelled_field_in_a_deployment_fails(objs) -> None:
    def typo(o: dict) -> None:
        c = o["spec"]["template"]["spec"]["containers"][0]
        c["imagePullPolicyy"] = c.pop("imagePullPolicy")

    assert_invalid(broken(objs["Deployment"], typo), "Deployment/qwen", "imagePullPolicyy")


def test_every_problem_of_every_object_is_listed(objs) -> None:
    route = broken(objs["AIGatewayRoute"], lambda o: o["spec"].update(hostnamez=["a"], llmRequestCostz=[]))
    backend = broken(objs["AIServiceBackend"], lambda o: o["spec"]["schema"].update(name="NotASchema"))
    with pytest.raises(AssertionError) as err:
        validate_objects([route, backend])
    text = str(err.value)
    assert "hostnamez" in text and "llmRequestCostz" in text and "'NotASchema' is not one of" in text


def test_metadata_of_a_custom_resource_is_checked(objs) -> None:
    assert_invalid(broken(objs["Backend"], lambda o: o["metadata"].update(lables={"a": "b"})), "metadata", "lables")
    assert_invalid(broken(objs["Backend"], lambda o: o["metadata"].pop("name")), "metadata.name is required")


def test_crd_limits_enums_patterns_and_formats(objs) -> None:
    # 16 rules: AI Gateway >= v0.7 caps rules at 15 (the generated HTTPRoute adds a catch-all to Gateway API's 16)
    assert_invalid(broken(objs["AIGatewayRoute"], lambda o: o["spec"].update(rules=o["spec"]["rules"] * 16)), "is too long")
    assert_invalid(
        broken(objs["AIGatewayRoute"], lambda o: o["spec"]["rules"][0]["timeouts"].update(request="20 minutes")),
        "does not match",
    )
    assert_invalid(
        broken(objs["AIGatewayRoute"], lambda o: o["spec"]["rules"][0].update(modelsCreatedAt="yesterday")),
        "is not a 'date-time'",
    )
    assert_invalid(broken(objs["BackendSecurityPolicy"], lambda o: o["spec"].update(type="Password")), "'Password' is not one of")
    assert_invalid(
        broken(objs["Backend"], lambda o: o["spec"]["endpoints"][0]["fqdn"].update(port="5000")), "'5000' is not of type 'integer'"
    )


def test_versions_absent_or_not_served_fail(objs) -> None:
    assert_invalid(broken(objs["AIGatewayRoute"], lambda o: o.update(apiVersion="aigateway.envoyproxy.io/v2")), "has no version v2")
    tls_policy = {
        "apiVersion": "gateway.networking.k8s.io/v1alpha3",  # listed in the standard v1.5.1 CRD with served: false
        "kind": "BackendTLSPolicy",
        "metadata": {"name": "x", "namespace": "nrp-llm"},
        "spec": {},
    }
    assert_invalid(tls_policy, "version v1alpha3 is not served")


def test_a_kind_without_any_schema_fails() -> None:
    obj = {"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    assert_invalid(obj, "Widget/w", "no schema anywhere")
    assert_invalid({"metadata": {"name": "x"}}, "apiVersion and kind are required")


def test_core_kind_with_wrong_type_fails(objs) -> None:
    assert_invalid(broken(objs["Service"], lambda o: o["spec"]["ports"][0].update(port="5000")), "Service/qwen")


def test_strictify_keeps_open_nodes_open() -> None:
    schema = {
        "type": "object",
        "properties": {
            "closed": {"type": "object", "properties": {"a": {"type": "string"}}},
            "preserved": {"type": "object", "properties": {"a": {}}, "x-kubernetes-preserve-unknown-fields": True},
            "map": {"type": "object", "additionalProperties": {"type": "string"}},
            "list": {"type": "array", "items": {"type": "object", "properties": {"b": {}}}},
        },
    }
    strict = strictify(schema)
    assert strict["additionalProperties"] is False
    assert strict["properties"]["closed"]["additionalProperties"] is False
    assert "additionalProperties" not in strict["properties"]["preserved"]
    assert strict["properties"]["map"]["additionalProperties"] == {"type": "string"}
    assert strict["properties"]["list"]["items"]["additionalProperties"] is False
    assert "additionalProperties" not in schema  # the input is not modified (the CRD index is cached)

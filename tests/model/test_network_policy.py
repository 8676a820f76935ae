import pytest

from kubernai.model.graph import ObjectGraph
from kubernai.model.network_policy import (
    EGRESS,
    INGRESS,
    any_of,
    describe_selector,
    parse_policy,
    policies_for,
    related_files,
    same_scope,
    selector_verdict,
    selector_wellformed,
)
from kubernai.model.resource import Resource, Source

LABELS = {"app": "vllm", "tier": "gpu"}


def resource(raw, file="a/b.yaml"):
    return Resource(raw, Source(file, 1))


def policy(spec, namespace="ml", file="a/b.yaml"):
    return resource(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "p", "namespace": namespace},
            "spec": spec,
        },
        file,
    )


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param({}, True, id="empty-selects-all"),
        pytest.param({"matchLabels": {"app": "vllm"}}, True, id="match"),
        pytest.param({"matchLabels": {"app": "tgi"}}, False, id="other-value"),
        pytest.param({"matchLabels": {"job": "ft"}}, None, id="absent-key-unknown"),
        pytest.param(
            {"matchLabels": {"app": "tgi", "job": "ft"}}, False, id="one-definite-miss"
        ),
        pytest.param(
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["x"]}]},
            False,
            id="in-miss",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]},
            None,
            id="exists-absent",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]},
            False,
            id="does-not-exist-present",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "x", "operator": "NotIn", "values": ["a"]}]},
            None,
            id="not-in-absent",
        ),
        pytest.param(
            {
                "matchExpressions": [
                    {"key": "app", "operator": "NotIn", "values": ["a"]}
                ]
            },
            True,
            id="not-in-other-value",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]},
            None,
            id="does-not-exist-absent",
        ),
        pytest.param({"matchLabels": {"app": "$APP"}}, None, id="placeholder"),
        pytest.param({"matchLabels": "app=vllm"}, None, id="malformed"),
        pytest.param("app=vllm", None, id="not-a-map"),
    ],
)
def test_selector_verdict(selector, expected):
    assert selector_verdict(selector, LABELS) is expected


def test_selector_wellformed():
    assert selector_wellformed({})
    assert selector_wellformed({"matchExpressions": [{"key": "a", "operator": "In"}]})
    assert not selector_wellformed(None)
    assert not selector_wellformed({"matchExpressions": [{"key": "a"}]})
    assert not selector_wellformed({"matchLabels": ["a"]})


def test_any_of_is_three_valued():
    assert any_of([False, None, True]) is True
    assert any_of([False, None]) is None
    assert any_of([]) is False


def test_policy_types_default_from_rules():
    ingress_only = parse_policy(policy({"podSelector": {}}))
    assert ingress_only.types == {INGRESS}
    both = parse_policy(policy({"podSelector": {}, "egress": [{}]}))
    assert both.types == {INGRESS, EGRESS}
    empty_egress = parse_policy(policy({"podSelector": {}, "egress": []}))
    assert empty_egress.types == {INGRESS}
    written = parse_policy(policy({"podSelector": {}, "policyTypes": [EGRESS]}))
    assert written.types == {EGRESS}
    assert written.types_written


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"podSelector": {}, "policyTypes": ["ingress"]}, id="bad-type"),
        pytest.param({"podSelector": {}, "policyTypes": "Ingress"}, id="types-str"),
        pytest.param({"policyTypes": ["Ingress"]}, id="no-selector"),
        pytest.param({"podSelector": {}, "ingress": {"from": []}}, id="rules-map"),
        pytest.param([], id="spec-list"),
    ],
)
def test_malformed_policies(spec):
    assert parse_policy(policy(spec)).malformed


def test_port_defaults_to_tcp_and_covers():
    parsed = parse_policy(
        policy(
            {
                "podSelector": {},
                "policyTypes": [EGRESS],
                "egress": [
                    {
                        "ports": [
                            {"port": 53},
                            {"protocol": "UDP", "port": 1000, "endPort": 2000},
                            {"protocol": "TCP", "port": "dns"},
                        ]
                    }
                ],
            }
        )
    )
    (rule,) = parsed.rules_for(EGRESS)
    tcp53, udp_range, named = rule.ports
    assert tcp53.protocol == "TCP"
    assert not tcp53.protocol_written
    assert tcp53.covers(53, "UDP") is False
    assert tcp53.covers(53, "TCP") is True
    assert udp_range.covers(1500, "UDP") is True
    assert udp_range.covers_every_port("UDP") is None
    assert named.covers(53, "TCP") is None
    assert named.covers(53, "TCP", "dns") is True
    assert rule.allows_port(53, "UDP") is False
    assert rule.allows_every_port("TCP") is False
    assert rule.allows_every_port("UDP") is None


def test_rule_without_ports_or_peers_allows_everything():
    parsed = parse_policy(policy({"podSelector": {}, "ingress": [{}]}))
    (rule,) = parsed.rules_for(INGRESS)
    assert rule.allows_port(8000, "TCP") is True
    assert rule.allows_every_port("TCP") is True
    assert rule.allows_pods(LABELS, namespace="ml", policy_namespace="ml") is True


def test_peer_matching():
    parsed = parse_policy(
        policy(
            {
                "podSelector": {},
                "ingress": [
                    {
                        "from": [
                            {"podSelector": {"matchLabels": {"app": "tgi"}}},
                            {
                                "namespaceSelector": {
                                    "matchLabels": {
                                        "kubernetes.io/metadata.name": "gateway"
                                    }
                                }
                            },
                        ]
                    },
                    {"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]},
                    {"from": [{"namespaceSelector": {}, "podSelector": {}}]},
                ],
            }
        )
    )
    by_name, by_ip, everywhere = parsed.rules_for(INGRESS)
    args = {"namespace": "ml", "policy_namespace": "ml"}
    assert by_name.allows_pods(LABELS, **args) is False
    assert by_ip.allows_pods(LABELS, **args) is None
    assert everywhere.allows_pods(LABELS, **args) is True
    other = {"namespace": "team-b", "policy_namespace": "ml"}
    assert by_name.allows_pods({"app": "tgi"}, **other) is False


def test_scope_by_namespace_or_folder():
    named = policy({"podSelector": {}}, namespace="ml", file="x/p.yaml")
    far = resource({"kind": "Pod", "metadata": {"namespace": "ml"}}, "y/z/pod.yaml")
    assert same_scope(named, far)
    unnamed = policy({"podSelector": {}}, namespace="", file="x/p.yaml")
    below = resource({"kind": "Pod", "metadata": {}}, "x/apps/pod.yaml")
    beside = resource({"kind": "Pod", "metadata": {}}, "y/pod.yaml")
    assert same_scope(unnamed, below)
    assert not same_scope(unnamed, beside)
    assert related_files("x/apps/a.yaml", "x/b.yaml")
    assert not related_files("x/apps/a.yaml", "x/other/b.yaml")


def test_policies_for_reads_each_policy_once():
    graph = ObjectGraph(
        [
            policy({"podSelector": {}}, namespace="ml"),
            policy({"podSelector": {}}, namespace="other"),
        ]
    )
    pod = resource({"kind": "Pod", "metadata": {"namespace": "ml"}})
    first = policies_for(graph, pod)
    assert len(first) == 1
    assert policies_for(graph, pod)[0] is first[0]


def test_describe_selector():
    assert describe_selector({}) == "{}"
    assert describe_selector({"matchLabels": {"app": "vllm"}}) == "{app: vllm}"

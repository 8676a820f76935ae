"""Pod Security Admission port: cases taken from kubernetes/pod-security-admission
(api/helpers_test.go, policy/check_*_test.go at 8f84a87) plus API-server defaults."""

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubernai.load.files import LoadResult, load_text
from kubernai.model.graph import ObjectGraph
from kubernai.model.pod_security import (
    NEWEST_POLICY_MINOR,
    Level,
    LevelVersion,
    checks_for,
    cluster_minor,
    effective_minor,
    evaluate,
    namespace_policy,
    namespace_policy_of,
    parse_level,
    parse_version,
    rejection_text,
    rejections,
    runs_gpu_operator,
)
from kubernai.model.pod_security_view import forbidden_detail

P = "pod-security.kubernetes.io/"
BASELINE = LevelVersion(Level.BASELINE)
RESTRICTED = LevelVersion(Level.RESTRICTED)


def spec(text: str):
    return yaml.safe_load(text)


def detail(spec_text: str, policy=RESTRICTED, annotations=None, cluster=None):
    return forbidden_detail(
        evaluate(spec(spec_text), annotations or {}, policy, cluster=cluster)
    )


# -- labels ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "minor"),
    [("latest", None), ("v1.0", 0), ("v1.1", 1), ("v1.20", 20), ("v1.10000", 10000)],
)
def test_parse_version_accepts(value, minor):
    assert parse_version(value) == (True, minor)


@pytest.mark.parametrize(
    "value", ["foo", "", "v2.0", "v1", "1.1", "v1.01", "V1.2", "v1.2.3", 1.2, None]
)
def test_parse_version_refuses(value):
    assert parse_version(value) == (False, None)


def test_parse_level_is_case_sensitive():
    assert parse_level("baseline") is Level.BASELINE
    assert parse_level("Baseline") is None
    assert parse_level(None) is None


def labels(**pairs):
    return {
        "other-label": "foo-bar",
        **{P + k.replace("_", "-"): v for k, v in pairs.items()},
    }


@pytest.mark.parametrize(
    ("given", "enforce", "warn", "audit", "errors"),
    [
        (labels(enforce="baseline"), "baseline:latest", "baseline:latest", "privileged:latest", 0),
        (labels(warn="restricted"), "privileged:latest", "restricted:latest", "privileged:latest", 0),
        (labels(audit="baseline"), "privileged:latest", "privileged:latest", "baseline:latest", 0),
        (labels(enforce="baseline", warn="restricted"), "baseline:latest", "restricted:latest", "privileged:latest", 0),
        (labels(enforce="baseline", enforce_version="v1.22"), "baseline:v1.22", "baseline:v1.22", "privileged:latest", 0),
        (labels(enforce="baseline", enforce_version="v1.22", warn_version="latest"), "baseline:v1.22", "baseline:latest", "privileged:latest", 0),
        (labels(enforce="baseline", warn_version="v1.23"), "baseline:latest", "baseline:v1.23", "privileged:latest", 0),
        (labels(enforce="baseline", warn="privileged"), "baseline:latest", "privileged:latest", "privileged:latest", 0),
        (labels(enforce="baseline", warn="foo"), "baseline:latest", "privileged:latest", "privileged:latest", 1),
        (labels(enforce="foo"), "restricted:latest", "privileged:latest", "privileged:latest", 1),
        (labels(audit="foo", audit_version="1.2"), "privileged:latest", "privileged:latest", "privileged:latest", 2),
    ],
)  # fmt: skip
def test_policy_to_evaluate(given, enforce, warn, audit, errors):
    policy = namespace_policy(given)
    assert (str(policy.enforce), str(policy.warn), str(policy.audit)) == (
        enforce,
        warn,
        audit,
    )
    assert len(policy.errors) == errors


def test_label_error_message_is_the_field_error():
    (error,) = namespace_policy({P + "enforce": "Restricted"}).errors
    assert error.message == (
        f'metadata.labels[{P}enforce]: Invalid value: "Restricted": '
        "must be one of privileged, baseline, restricted"
    )
    (error,) = namespace_policy({P + "warn-version": "1.29"}).errors
    assert error.detail == 'must be "latest" or "v1.x"'


def test_enforce_labelled_only_for_a_valid_level():
    assert namespace_policy(labels(enforce="baseline")).enforce_labelled
    assert not namespace_policy(labels(enforce="nope")).enforce_labelled
    assert not namespace_policy(labels(enforce_version="v1.30")).enforce_labelled


def test_namespace_policy_of_unknown_namespace_is_none():
    graph = ObjectGraph([])
    assert namespace_policy_of(graph, "ml") is None
    assert namespace_policy_of(graph, "") is None


@pytest.mark.parametrize(
    ("text", "minor"),
    [("1.31", 31), ("v1.30.2", 30), (" 1.29+ ", 29), ("", None), ("latest", None)],
)
def test_cluster_minor(text, minor):
    assert cluster_minor(text) == minor


def test_effective_minor_clamps_to_the_server():
    assert effective_minor(LevelVersion(Level.BASELINE, 24), 30) == 24
    assert effective_minor(LevelVersion(Level.BASELINE, 40), 30) == 30
    assert effective_minor(LevelVersion(Level.BASELINE), 30) == 30
    assert effective_minor(LevelVersion(Level.BASELINE), None) == NEWEST_POLICY_MINOR


# -- registry -------------------------------------------------------------------


def test_check_order_is_baseline_ids_then_restricted_ids_sorted():
    assert checks_for(Level.BASELINE, NEWEST_POLICY_MINOR) == (
        "appArmorProfile", "capabilities_baseline", "hostNamespaces",
        "hostPathVolumes", "hostPorts", "hostProbesAndHostLifecycle", "privileged",
        "procMount", "seLinuxOptions", "seccompProfile_baseline", "sysctls",
        "windowsHostProcess",
    )  # fmt: skip
    assert checks_for(Level.RESTRICTED, NEWEST_POLICY_MINOR) == (
        "appArmorProfile", "hostNamespaces", "hostPorts",
        "hostProbesAndHostLifecycle", "privileged", "seLinuxOptions", "sysctls",
        "windowsHostProcess", "allowPrivilegeEscalation", "capabilities_restricted",
        "procMount_restricted", "restrictedVolumes", "runAsNonRoot", "runAsUser",
        "seccompProfile_restricted",
    )  # fmt: skip
    assert checks_for(Level.PRIVILEGED, 30) == ()


def test_restricted_overrides_depend_on_the_version():
    old = checks_for(Level.RESTRICTED, 18)
    assert "capabilities_baseline" in old
    assert "seccompProfile_baseline" in old
    assert "allowPrivilegeEscalation" in old
    assert "runAsUser" not in old
    assert "procMount" in checks_for(Level.RESTRICTED, 34)
    assert "hostProbesAndHostLifecycle" not in checks_for(Level.BASELINE, 33)


# -- checks (expected texts from the upstream unit tests) --------------------------


def test_capabilities_restricted_multiple_containers():
    text = detail(
        """
        securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
        containers:
          - {name: a, securityContext: {allowPrivilegeEscalation: false,
             capabilities: {add: [FOO, BAR]}}}
          - {name: b, securityContext: {allowPrivilegeEscalation: false,
             capabilities: {add: [BAR, BAZ]}}}
          - {name: c, securityContext: {allowPrivilegeEscalation: false,
             capabilities: {add: [NET_BIND_SERVICE, CHOWN], drop: [ALL, FOO]}}}
        """
    )
    assert text == (
        'unrestricted capabilities (containers "a", "b" must set '
        'securityContext.capabilities.drop=["ALL"]; containers "a", "b", "c" must '
        'not include "BAR", "BAZ", "CHOWN", "FOO" in securityContext.capabilities.add)'
    )


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        (
            "containers: [{name: a}]",
            'pod or container "a" must set securityContext.runAsNonRoot=true',
        ),
        (
            "{securityContext: {runAsNonRoot: false}, containers: [{name: a}]}",
            "pod must not set securityContext.runAsNonRoot=false",
        ),
        (
            """
            securityContext: {runAsNonRoot: true}
            containers:
              - {name: a}
              - {name: b, securityContext: {}}
              - {name: c, securityContext: {runAsNonRoot: false}}
              - {name: d, securityContext: {runAsNonRoot: false}}
              - {name: e, securityContext: {runAsNonRoot: true}}
            """,
            'containers "c", "d" must not set securityContext.runAsNonRoot=false',
        ),
        (
            """
            containers:
              - {name: a}
              - {name: b, securityContext: {}}
              - {name: d, securityContext: {runAsNonRoot: true}}
            """,
            'pod or containers "a", "b" must set securityContext.runAsNonRoot=true',
        ),
    ],
)
def test_run_as_non_root(pod, expected):
    found = evaluate(spec(pod), {}, RESTRICTED)
    (violation,) = [v for v in found if v.check == "runAsNonRoot"]
    assert violation.reason == "runAsNonRoot != true"
    assert violation.detail == expected


def test_run_as_non_root_relaxed_for_user_namespaces_from_1_35():
    pod = spec("{hostUsers: false, containers: [{name: a}]}")
    newer = [v.check for v in evaluate(pod, {}, RESTRICTED)]
    older = [v.check for v in evaluate(pod, {}, LevelVersion(Level.RESTRICTED, 34))]
    assert "runAsNonRoot" not in newer
    assert "runAsNonRoot" in older


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        (
            "{securityContext: {seccompProfile: {type: Unconfined}}, containers: [{name: a}]}",
            'pod must not set securityContext.seccompProfile.type to "Unconfined"',
        ),
        (
            """
            securityContext: {seccompProfile: {type: RuntimeDefault}}
            containers:
              - {name: a}
              - {name: c, securityContext: {seccompProfile: {type: Unconfined}}}
              - {name: d, securityContext: {seccompProfile: {type: Unconfined}}}
              - {name: e, securityContext: {seccompProfile: {type: RuntimeDefault}}}
            """,
            'containers "c", "d" must not set securityContext.seccompProfile.type to '
            '"Unconfined"',
        ),
        (
            """
            containers:
              - {name: a}
              - {name: b, securityContext: {}}
              - {name: d, securityContext: {seccompProfile: {type: RuntimeDefault}}}
            """,
            'pod or containers "a", "b" must set securityContext.seccompProfile.type '
            'to "RuntimeDefault" or "Localhost"',
        ),
    ],
)
def test_seccomp_restricted(pod, expected):
    found = evaluate(spec(pod), {}, RESTRICTED)
    (violation,) = [v for v in found if v.reason == "seccompProfile"]
    assert violation.detail == expected


def test_windows_pods_skip_three_restricted_checks_from_1_25():
    pod = spec("{os: {name: windows}, containers: [{name: a}]}")
    checks = [v.check for v in evaluate(pod, {}, RESTRICTED)]
    assert checks == ["runAsNonRoot"]
    old = [v.check for v in evaluate(pod, {}, LevelVersion(Level.RESTRICTED, 24))]
    assert "allowPrivilegeEscalation" in old


def test_se_linux_options():
    text = detail(
        """
        securityContext: {seLinuxOptions: {type: foo, user: bar, role: baz}}
        containers:
          - {name: a, securityContext: {seLinuxOptions: {type: container_t}}}
          - {name: d, securityContext: {seLinuxOptions: {type: container_engine_t}}}
          - {name: e, securityContext: {seLinuxOptions: {type: bar}}}
          - {name: f, securityContext: {seLinuxOptions: {user: bar}}}
          - {name: g, securityContext: {seLinuxOptions: {role: baz}}}
        """,
        BASELINE,
    )
    assert text == (
        'seLinuxOptions (pod and containers "e", "f", "g" set forbidden '
        'securityContext.seLinuxOptions: types "bar", "foo"; user may not be set; '
        "role may not be set)"
    )
    old = detail(
        "containers: [{name: d, securityContext: {seLinuxOptions: "
        "{type: container_engine_t}}}]",
        LevelVersion(Level.BASELINE, 30),
    )
    assert 'type "container_engine_t"' in old


def test_app_armor_annotations_and_fields():
    annotations = {
        "container.apparmor.security.beta.kubernetes.io/": "bogus",
        "container.apparmor.security.beta.kubernetes.io/a": "",
        "container.apparmor.security.beta.kubernetes.io/b": "runtime/default",
        "container.apparmor.security.beta.kubernetes.io/c": "localhost/",
        "container.apparmor.security.beta.kubernetes.io/d": "localhost/foo",
        "container.apparmor.security.beta.kubernetes.io/e": "unconfined",
        "container.apparmor.security.beta.kubernetes.io/f": "unknown",
    }
    text = detail("{}", BASELINE, annotations)
    assert text == (
        "forbidden AppArmor profiles (annotations must not set AppArmor profile type "
        'to "container.apparmor.security.beta.kubernetes.io/="bogus"", '
        '"container.apparmor.security.beta.kubernetes.io/e="unconfined"", '
        '"container.apparmor.security.beta.kubernetes.io/f="unknown"")'
    )
    text = detail(
        "{securityContext: {appArmorProfile: {type: RuntimeDefault}}, initContainers: "
        "[{name: bar, securityContext: {appArmorProfile: {type: Unconfined}}}]}",
        BASELINE,
    )
    assert text == (
        'forbidden AppArmor profile (container "bar" must not set AppArmor profile '
        'type to "Unconfined")'
    )


def test_host_ports_sorted_as_strings():
    text = detail(
        """
        containers:
          - {name: a, ports: [{hostPort: 0}]}
          - {name: b, ports: [{hostPort: 0}, {hostPort: 10}, {hostPort: 20}]}
          - {name: c, ports: [{hostPort: 0}, {hostPort: 10}, {hostPort: 30}]}
        """,
        BASELINE,
    )
    assert text == 'hostPort (containers "b", "c" use hostPorts 10, 20, 30)'


def test_host_network_defaults_host_ports_from_container_ports():
    text = detail(
        "{hostNetwork: true, containers: [{name: manager, ports: [{containerPort: 8443},"
        " {containerPort: 8888}, {containerPort: 9090}]}]}",
        LevelVersion(Level.RESTRICTED, 24),
    )
    # the gatekeeper report (open-policy-agent/gatekeeper#2633), baseline part
    assert text.startswith(
        "host namespaces (hostNetwork=true), hostPort (container "
        '"manager" uses hostPorts 8443, 8888, 9090)'
    )


def test_probe_hosts_from_1_34():
    pod = """
    containers:
      - name: a
        livenessProbe: {httpGet: {host: 127.0.0.1, port: 80}}
        readinessProbe: {tcpSocket: {host: "::1", port: 80}}
        startupProbe: {httpGet: {host: localhost, port: 80}}
    """
    assert detail(pod, BASELINE) == (
        'probe or lifecycle host (container "a" uses probe or lifecycle hosts '
        '"127.0.0.1", "::1", "localhost")'
    )
    assert detail(pod, LevelVersion(Level.BASELINE, 33)) == ""


@pytest.mark.parametrize(
    ("minor", "expected"),
    [
        (26, "forbidden sysctls (net.ipv4.ip_local_reserved_ports, a)"),
        (27, "forbidden sysctls (a)"),
    ],
)
def test_sysctls_by_version(minor, expected):
    pod = (
        "securityContext: {sysctls: [{name: net.ipv4.ip_local_reserved_ports}, "
        "{name: a}, {name: kernel.shm_rmid_forced}]}"
    )
    assert detail(pod, LevelVersion(Level.BASELINE, minor)) == expected


def test_restricted_volumes_and_defaulted_empty_dir():
    text = detail(
        """
        securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
        volumes:
          - {name: a1, emptyDir: {}}
          - {name: a2, secret: {secretName: s}}
          - {name: a9, image: {reference: x}}
          - {name: b1, hostPath: {path: /}}
          - {name: b5, nfs: {server: s, path: /}}
          - {name: b21, storageos: {}}
          - {name: c1}
          - {name: c2, hostPath: null}
        """
    )
    assert text == (
        'restricted volume types (volumes "b1", "b5", "b21" use restricted volume '
        'types "hostPath", "nfs", "storageos")'
    )
    assert detail("volumes: [{name: x, hostPath: {path: /}}]", BASELINE) == (
        'hostPath volumes (volume "x")'
    )


def test_privileged_and_the_k3k_report():
    text = detail(
        "containers: [{name: sec-ctx-demo, image: busybox, "
        "securityContext: {privileged: true}}]"
    )
    # rancher/k3k#294: the message the API server returned
    assert text == (
        'privileged (container "sec-ctx-demo" must not set '
        "securityContext.privileged=true), allowPrivilegeEscalation != false "
        '(container "sec-ctx-demo" must set '
        "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities "
        '(container "sec-ctx-demo" must set securityContext.capabilities.drop=["ALL"]),'
        ' runAsNonRoot != true (pod or container "sec-ctx-demo" must set '
        "securityContext.runAsNonRoot=true), seccompProfile (pod or container "
        '"sec-ctx-demo" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")'
    )


def test_run_as_user_zero_and_the_valkey_report():
    text = detail(
        "initContainers: [{name: volume-permissions, securityContext: {runAsUser: 0}}]"
    )
    # hyperspike/valkey-operator#260
    assert text == (
        'allowPrivilegeEscalation != false (container "volume-permissions" must set '
        "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities "
        '(container "volume-permissions" must set '
        'securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
        'container "volume-permissions" must set securityContext.runAsNonRoot=true), '
        'runAsUser=0 (container "volume-permissions" must not set runAsUser=0), '
        'seccompProfile (pod or container "volume-permissions" must set '
        'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
    )


def test_seccomp_annotations_before_1_19():
    annotations = {
        "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
        "container.seccomp.security.alpha.kubernetes.io/a": "runtime/default",
    }
    text = detail(
        "containers: [{name: a}]", LevelVersion(Level.BASELINE, 18), annotations
    )
    assert text == (
        "seccompProfile (forbidden annotation "
        'seccomp.security.alpha.kubernetes.io/pod="unconfined")'
    )
    assert detail("containers: [{name: a}]", BASELINE, annotations) == ""


def test_bools_and_numbers_of_the_wrong_type_do_not_count():
    pod = """
    hostNetwork: "true"
    securityContext: {runAsUser: false}
    containers:
      - name: a
        securityContext: {privileged: "true", runAsUser: "0"}
        ports: [{hostPort: "80"}]
    """
    assert detail(pod, BASELINE) == ""
    assert "runAsUser=0" not in detail(pod)


@pytest.mark.parametrize(
    "pod",
    [
        "null",
        "[]",
        "{containers: oops, volumes: 1, securityContext: [x]}",
        "{containers: [null, 1, {securityContext: oops, ports: [null]}]}",
        "{initContainers: [{securityContext: {capabilities: {add: [1, null], drop: x}}}]}",
        "{securityContext: {sysctls: [null, {name: 1}], seLinuxOptions: []}}",
    ],
)
def test_malformed_specs_never_raise(pod):
    value = spec(pod)
    evaluate(value if isinstance(value, dict) else {}, {}, RESTRICTED)


# -- rejections ------------------------------------------------------------------


def graph_of(text: str) -> ObjectGraph:
    loaded = LoadResult()
    load_text(text, "t.yaml", result=loaded)
    return ObjectGraph(loaded.resources)


def test_rejections_read_the_namespace_and_memoise():
    graph = graph_of(
        """
apiVersion: v1
kind: Namespace
metadata: {name: ml, labels: {pod-security.kubernetes.io/enforce: baseline}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: j, namespace: ml}
spec:
  template:
    spec:
      containers: [{name: c, securityContext: {privileged: true}}]
"""
    )
    job = graph.of_kind("Job")[0]
    (found,) = rejections(job, graph)
    assert found.fails_baseline
    assert str(found.enforce) == "baseline:latest"
    assert rejection_text(job, found) == (
        'namespace "ml" enforces Pod Security baseline:latest '
        "(pod-security.kubernetes.io/enforce=baseline), so the Job gets no pods "
        '(FailedCreate: pods ... is forbidden: violates PodSecurity "baseline:latest":'
        ' privileged (container "c" must not set securityContext.privileged=true))'
    )
    assert list(rejections(job, graph)) == [found]


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nvcr.io/nvidia/gpu-operator:v25.3.0", True),
        ("nvcr.io/nvidia/gpu-operator@sha256:abc", True),
        ("registry.local:5000/nvidia/gpu-operator", True),
        ("nvcr.io/nvidia/gpu-operator-validator:v25.3.0", False),
        ("ghcr.io/example/gpu-operator:1.0", False),
        ("", False),
    ],
)
def test_runs_gpu_operator(image, expected):
    assert runs_gpu_operator(image) is expected


# -- never raises ------------------------------------------------------------------

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-1, 70000), st.text(max_size=6),
    st.sampled_from(["ALL", "RuntimeDefault", "Unconfined", "windows", "Default"]),
)  # fmt: skip
_keys = st.sampled_from(
    [
        "containers", "initContainers", "ephemeralContainers", "securityContext",
        "privileged", "capabilities", "add", "drop", "runAsNonRoot", "runAsUser",
        "seccompProfile", "appArmorProfile", "type", "volumes", "hostPath", "nfs",
        "name", "ports", "hostPort", "containerPort", "hostNetwork", "hostPID",
        "sysctls", "seLinuxOptions", "user", "role", "procMount", "hostUsers", "os",
        "windowsOptions", "hostProcess", "livenessProbe", "httpGet", "host",
        "lifecycle", "preStop", "allowPrivilegeEscalation",
    ]
)  # fmt: skip
_trees = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(_keys, children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(_keys, _trees, max_size=6),
    st.dictionaries(st.text(max_size=60), _scalars, max_size=3),
    st.sampled_from([Level.BASELINE, Level.RESTRICTED]),
    st.integers(0, 40),
)
def test_evaluate_is_total(pod, annotations, level, minor):
    found = evaluate(pod, annotations, LevelVersion(level, minor))
    for violation in found:
        assert violation.reason
        assert all(isinstance(step, (str, int)) for step in violation.path)

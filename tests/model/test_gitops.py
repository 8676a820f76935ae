from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubernai.model.gitops import (
    argocd_setting,
    file_under,
    format_duration,
    is_flux_interval,
    parse_argo_duration,
    parse_go_duration,
    path_segments,
    reconcilers,
    sync_policy,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, Source


def resource(raw, file="case.yaml"):
    return Resource(raw, Source(file=file, line=1))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("0", Fraction(0), id="bare-zero"),
        pytest.param("-0", Fraction(0), id="signed-zero"),
        pytest.param("180s", Fraction(180), id="seconds"),
        pytest.param("3m", Fraction(180), id="minutes"),
        pytest.param("1h30m", Fraction(5400), id="compound"),
        pytest.param("1.5m", Fraction(90), id="fraction"),
        pytest.param(".5s", Fraction(1, 2), id="leading-dot"),
        pytest.param("1.s", Fraction(1), id="trailing-dot"),
        pytest.param("500ms", Fraction(1, 2), id="millis"),
        pytest.param("10us", Fraction(1, 100000), id="micros"),
        pytest.param("10\u00b5s", Fraction(1, 100000), id="micro-sign"),
        pytest.param("10\u03bcs", Fraction(1, 100000), id="greek-mu"),
        pytest.param("1ns", Fraction(1, 10**9), id="nanos"),
        pytest.param("-1h", Fraction(-3600), id="negative"),
        pytest.param("+2m", Fraction(120), id="plus"),
        pytest.param("1h1h", Fraction(7200), id="repeated-unit"),
    ],
)
def test_parse_go_duration(text, seconds):
    assert parse_go_duration(text) == seconds


@pytest.mark.parametrize(
    "value",
    [
        "",
        "180",
        "s",
        ".",
        ".s",
        "1d",
        "3 m",
        " 3m",
        "3m ",
        "5min",
        "1h30",
        "--1s",
        "+",
        "1e3s",
        None,
        180,
        1.5,
        ["3m"],
        "9" * 100 + "s",
    ],
)
def test_parse_go_duration_rejects(value):
    assert parse_go_duration(value) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("120s", Fraction(120), id="go"),
        pytest.param("1d", Fraction(86400), id="days"),
        pytest.param("2h", Fraction(7200), id="hours"),
        pytest.param("0", Fraction(0), id="zero"),
        pytest.param("-1s", None, id="below-minimum"),
        pytest.param("180", None, id="no-unit"),
        pytest.param("1.5d", None, id="fractional-days"),
        pytest.param("1d2h", None, id="days-compound"),
    ],
)
def test_parse_argo_duration(text, seconds):
    assert parse_argo_duration(text) == seconds


@given(st.integers(min_value=0, max_value=10**6))
def test_go_seconds_round_trip(seconds):
    assert parse_go_duration(f"{seconds}s") == seconds
    assert parse_go_duration(format_duration(Fraction(seconds))) == seconds


@given(st.text(max_size=12))
def test_parse_go_duration_never_raises(text):
    parse_go_duration(text)
    parse_argo_duration(text)
    is_flux_interval(text)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("10m", True),
        ("10m0s", True),
        ("1.5h", True),
        ("500ms", True),
        ("0s", True),
        ("1d", False),
        ("0", False),
        ("300", False),
        (".5h", False),
        ("10us", False),
        ("-1m", False),
        ("10 m", False),
        ("", False),
        (600, False),
        (None, False),
    ],
)
def test_is_flux_interval(value, valid):
    assert is_flux_interval(value) is valid


def test_format_duration():
    assert format_duration(Fraction(90)) == "90s"
    assert format_duration(Fraction(1, 2)) == "0.5s"


def test_argocd_setting_reads_values_and_skips_empty_and_templated():
    cm = resource(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "argocd-cm"},
            "data": {
                "timeout.reconciliation": "15s",
                "timeout.reconciliation.jitter": "",
                "timeout.hard.reconciliation": "{{ .Values.hard }}",
            },
        }
    )
    setting = argocd_setting(cm, "timeout.reconciliation")
    assert setting is not None
    assert setting.seconds == 15
    assert setting.path == ("data", "timeout.reconciliation")
    assert argocd_setting(cm, "timeout.reconciliation.jitter") is None
    assert argocd_setting(cm, "timeout.hard.reconciliation") is None
    assert argocd_setting(cm, "missing") is None


@pytest.mark.parametrize(
    ("policy", "auto_sync", "self_heal"),
    [
        pytest.param({}, False, False, id="none"),
        pytest.param({"automated": None}, False, False, id="null"),
        pytest.param({"automated": {}}, True, False, id="empty-map"),
        pytest.param({"automated": {"selfHeal": True}}, True, True, id="self-heal"),
        pytest.param(
            {"automated": {"selfHeal": True, "enabled": False}},
            False,
            False,
            id="disabled",
        ),
        pytest.param(
            {"automated": {"selfHeal": "true"}}, True, False, id="string-true"
        ),
        pytest.param({"automated": ["selfHeal"]}, False, False, id="list"),
    ],
)
def test_sync_policy(policy, auto_sync, self_heal):
    app = resource(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "spec": {"syncPolicy": policy},
        }
    )
    found = sync_policy(app, ("spec",))
    assert (found.auto_sync, found.self_heal) == (auto_sync, self_heal)


def test_sync_policy_options_keep_strings_with_their_index():
    app = resource(
        {
            "kind": "Application",
            "spec": {"syncPolicy": {"syncOptions": [None, "A=true", 3, "B=false"]}},
        }
    )
    assert sync_policy(app, ("spec",)).options == ((1, "A=true"), (3, "B=false"))


@pytest.mark.parametrize(
    ("value", "segments"),
    [
        ("apps/vllm", ("apps", "vllm")),
        ("./apps/vllm/", ("apps", "vllm")),
        ("apps\\vllm", ("apps", "vllm")),
        (".", ()),
        ("", ()),
        ("../shared", ()),
        ("{{path}}", ()),
        ("{{.path.path}}", ()),
        ("$APP", ()),
        (None, ()),
        (["apps"], ()),
    ],
)
def test_path_segments(value, segments):
    assert path_segments(value) == segments


@pytest.mark.parametrize(
    ("file", "segments", "under"),
    [
        ("apps/vllm/deploy.yaml", ("apps", "vllm"), True),
        ("../repo/apps/vllm/base/deploy.yaml", ("apps", "vllm"), True),
        ("apps/vllm-2/deploy.yaml", ("apps", "vllm"), False),
        ("vllm/apps/deploy.yaml", ("apps", "vllm"), False),
        ("apps/deploy.yaml", ("apps", "vllm"), False),
        ("deploy.yaml", ("apps",), False),
        ("C:\\repo\\apps\\vllm\\deploy.yaml", ("apps", "vllm"), True),
    ],
)
def test_file_under(file, segments, under):
    assert file_under(file, segments) is under


def test_reconcilers_keep_self_healing_apps_and_active_flux_kustomizations():
    objects = [
        resource(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": "heal"},
                "spec": {
                    "source": {"path": "apps/a"},
                    "destination": {"namespace": "ns"},
                    "syncPolicy": {"automated": {"selfHeal": True}},
                },
            }
        ),
        resource(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": "manual"},
                "spec": {"source": {"path": "apps/b"}},
            }
        ),
        resource(
            {
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": "flux"},
                "spec": {"path": "./apps/c", "targetNamespace": "t"},
            }
        ),
        resource(
            {
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": "suspended"},
                "spec": {"path": "./apps/d", "suspend": True},
            }
        ),
        resource(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "metadata": {"name": "file"},
            }
        ),
    ]
    found = reconcilers(ObjectGraph(objects))
    assert [(r.resource.name, r.folders, r.namespace, r.flux) for r in found] == [
        ("heal", (("apps", "a"),), "ns", False),
        ("flux", (("apps", "c"),), "t", True),
    ]
    workload = resource(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"}},
        file="repo/apps/a/deploy.yaml",
    )
    assert found[0].manages(workload)
    assert not found[1].manages(workload)

from __future__ import annotations

from fractions import Fraction

import pytest

from kubernai.load.files import LoadResult, load_text
from kubernai.model.graph import ObjectGraph
from kubernai.model.ingress import (
    Controller,
    alb_attributes,
    format_seconds,
    gateway_duration,
    gce_backend_config_name,
    go_duration,
    ingress_class,
    ingress_controller,
    nginx_global,
    nginx_seconds,
    whole_seconds,
)
from kubernai.model.resource import Resource, Source, iter_maps
from kubernai.model.route_backends import (
    ingress_llm_backends,
    iter_route_rules,
    route_rule_llm_backends,
    virtual_service_llm_backends,
)

BACKENDS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: vllm, namespace: serve}
spec:
  template:
    metadata: {labels: {app: vllm}}
    spec:
      containers: [{name: vllm, image: "vllm/vllm-openai:v0.10.1"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: serve}
spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
---
apiVersion: v1
kind: Service
metadata: {name: vllm, namespace: serve}
spec: {selector: {app: vllm}, ports: [{name: http, port: 8000}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: serve}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: {name: pool, namespace: serve}
spec: {selector: {matchLabels: {app: vllm}}}
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferencePool
metadata: {name: alpha, namespace: serve}
spec: {selector: {app: vllm}}
"""


def graph_of(text: str) -> ObjectGraph:
    loaded = LoadResult()
    load_text(text, "t.yaml", result=loaded)
    return ObjectGraph(loaded.resources)


def resource(raw: dict) -> Resource:
    return Resource(raw, Source("t.yaml", 1))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("60", 60),
        ("+3600", 3600),
        ("-1", -1),
        ("3600s", None),
        ("1.5", None),
        (" 60", None),
        ("", None),
        (60, None),
        (None, None),
    ],
)
def test_nginx_seconds_reads_like_atoi(value, expected):
    assert nginx_seconds(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10s", Fraction(10)),
        ("1h30m", Fraction(5400)),
        ("500ms", Fraction(1, 2)),
        ("0s", Fraction(0)),
        ("99999ms", Fraction(99999, 1000)),
        ("100000s", None),
        ("600", None),
        ("1.5m", None),
        ("1d", None),
        ("1h1m1s1ms1h", None),
        (600, None),
        (None, None),
    ],
)
def test_gateway_duration(value, expected):
    assert gateway_duration(value) == expected


def test_format_seconds():
    assert format_seconds(Fraction(90)) == "90 s"
    assert format_seconds(Fraction(1, 2)) == "0.500 s"


def test_alb_attributes():
    assert alb_attributes(
        "routing.http2.enabled=true, idle_timeout.timeout_seconds = 600,bad,=x"
    ) == {"routing.http2.enabled": "true", "idle_timeout.timeout_seconds": "600"}
    assert alb_attributes(["idle_timeout.timeout_seconds=600"]) == {}
    assert whole_seconds(" 600 ") == 600
    assert whole_seconds("600s") is None


def test_ingress_class_prefers_the_field():
    both = resource(
        {
            "metadata": {"annotations": {"kubernetes.io/ingress.class": "alb"}},
            "spec": {"ingressClassName": "nginx"},
        }
    )
    assert ingress_class(both) == "nginx"
    assert ingress_class(resource({"spec": "x"})) == ""


@pytest.mark.parametrize(
    ("annotations", "class_name", "expected"),
    [
        ({}, "nginx", Controller.INGRESS_NGINX),
        ({}, "nginx-internal", Controller.INGRESS_NGINX),
        ({"nginx.org/proxy-read-timeout": "60s"}, "nginx", Controller.UNKNOWN),
        ({}, "alb", Controller.ALB),
        ({"kubernetes.io/ingress.class": "gce"}, None, Controller.GCE),
        ({"kubernetes.io/ingress.class": "gce-internal"}, None, Controller.GCE),
        ({}, "gce", Controller.UNKNOWN),
        (
            {"nginx.ingress.kubernetes.io/rewrite-target": "/"},
            None,
            Controller.INGRESS_NGINX,
        ),
        ({}, None, Controller.UNKNOWN),
        ({}, "traefik", Controller.UNKNOWN),
    ],
)
def test_ingress_controller_from_names(annotations, class_name, expected):
    spec = {"ingressClassName": class_name} if class_name else {}
    ingress = resource({"metadata": {"annotations": annotations}, "spec": spec})
    assert ingress_controller(ingress, ObjectGraph([])) is expected


def test_ingress_controller_from_ingress_class_object():
    graph = graph_of(
        """\
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: public}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: nginx.org/ingress-controller}
"""
    )
    public = resource({"spec": {"ingressClassName": "public"}})
    nginx = resource({"spec": {"ingressClassName": "nginx"}})
    assert ingress_controller(public, graph) is Controller.INGRESS_NGINX
    assert ingress_controller(nginx, graph) is Controller.UNKNOWN


def test_nginx_global_reads_the_controller_configmap():
    assert nginx_global(ObjectGraph([]), "proxy-read-timeout").value == "60"
    assert nginx_global(ObjectGraph([]), "proxy-read-timeout").source == ""
    graph = graph_of(
        """\
apiVersion: v1
kind: ConfigMap
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
data: {proxy-read-timeout: "600"}
"""
    )
    setting = nginx_global(graph, "proxy-read-timeout")
    assert setting.value == "600"
    assert setting.source == "ConfigMap ingress-nginx/ingress-nginx-controller"
    assert nginx_global(graph, "proxy-send-timeout").value == "60"
    assert nginx_global(graph, "proxy-buffering").value is None


def test_nginx_global_disagreeing_configmaps_are_unknown():
    graph = graph_of(
        """\
apiVersion: v1
kind: ConfigMap
metadata: {name: ingress-nginx-controller, namespace: a}
data: {proxy-read-timeout: "600"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: nginx-configuration, namespace: b}
"""
    )
    assert nginx_global(graph, "proxy-read-timeout").value is None


def test_ingress_llm_backends_follow_service_to_server():
    graph = graph_of(
        BACKENDS
        + """\
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: api, namespace: serve}
spec:
  defaultBackend: {service: {name: web, port: {number: 80}}}
  rules:
    - http:
        paths:
          - backend: {service: {name: vllm, port: {number: 8000}}}
          - backend: {service: {name: vllm, port: {number: 8000}}}
          - backend: {service: {name: vllm, port: {name: http}}}
          - backend: {service: {name: missing, port: {number: 1}}}
"""
    )
    (ingress,) = graph.of_kind("Ingress")
    backends = ingress_llm_backends(ingress, graph)
    assert [(b.target.name, b.port, b.server) for b in backends] == [
        ("vllm", 8000, "vLLM"),
        ("vllm", "http", "vLLM"),
    ]
    assert backends[0].path == (
        "spec",
        "rules",
        0,
        "http",
        "paths",
        0,
        "backend",
        "service",
        "name",
    )
    assert backends[0].describe() == "Service vllm (vLLM in Deployment vllm)"


def test_route_rule_backends_follow_inference_pools():
    graph = graph_of(
        BACKENDS
        + """\
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: serve}
spec:
  rules:
    - backendRefs:
        - {group: inference.networking.k8s.io, kind: InferencePool, name: pool}
        - {group: inference.networking.x-k8s.io, kind: InferencePool, name: alpha}
        - {name: web, port: 80}
        - {name: vllm, namespace: other, port: 8000}
        - {group: example.com, kind: Backend, name: vllm}
"""
    )
    (route,) = graph.of_kind("HTTPRoute")
    ((index, rule),) = list(iter_route_rules(route))
    backends = route_rule_llm_backends(route, index, rule, graph)
    assert [b.target.name for b in backends] == ["pool", "alpha"]


def test_gce_backend_config_name():
    def service(annotation):
        return resource(
            {
                "kind": "Service",
                "metadata": {"annotations": annotation},
                "spec": {"ports": [{"name": "http", "port": 8000}]},
            }
        )

    key = "cloud.google.com/backend-config"
    assert gce_backend_config_name(service({}), 8000) == (None, True)
    assert gce_backend_config_name(service({key: '{"default": "d"}'}), 8000) == (
        "d",
        True,
    )
    by_name = service({key: '{"default": "d", "ports": {"http": "n", "8000": "p"}}'})
    assert gce_backend_config_name(by_name, 8000) == ("n", True)
    by_number = service({key: '{"ports": {"8000": "p"}}'})
    assert gce_backend_config_name(by_number, "http") == ("p", True)
    assert gce_backend_config_name(by_number, 9000) == (None, True)
    assert gce_backend_config_name(service({key: "{oops"}), 8000) == (None, False)
    assert gce_backend_config_name(service({key: "[1]"}), 8000) == (None, False)
    beta = service({"beta.cloud.google.com/backend-config": '{"default": "b"}'})
    assert gce_backend_config_name(beta, None) == ("b", True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30s", Fraction(30)),
        ("1m30s", Fraction(90)),
        ("0.5s", Fraction(1, 2)),
        ("1500ms", Fraction(3, 2)),
        ("5 s", None),
        ("30", None),
        (30, None),
    ],
)
def test_go_duration(value, expected):
    assert go_duration(value) == expected


def test_virtual_service_hosts_resolve_to_services():
    graph = graph_of(
        BACKENDS
        + """\
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: mesh}
spec:
  http:
    - route:
        - destination: {host: vllm}
        - destination: {host: vllm.serve}
        - destination: {host: vllm.serve.svc}
        - destination: {host: vllm.serve.svc.cluster.local, port: {number: 8000}}
        - destination: {host: vllm.serve.example.com}
        - destination: {host: web.serve}
"""
    )
    (service,) = graph.of_kind("VirtualService")
    (http,) = [h for _, h in iter_maps(service.raw, "spec", "http")]
    backends = virtual_service_llm_backends(service, 0, http, graph)
    assert [(b.target.namespace, b.path[4], b.port) for b in backends] == [
        ("serve", 1, None),
        ("serve", 2, None),
        ("serve", 3, 8000),
    ]


def test_indexed_selection_matches_the_graph_relation():
    from kubernai.model.route_backends import _selected

    graph = graph_of(
        BACKENDS
        + """\
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: numbered, namespace: serve}
spec:
  template:
    metadata: {labels: {app: vllm, shard: 2, canary: true}}
    spec: {containers: [{name: c}]}
"""
    )
    for selector in (
        {"app": "vllm"},
        {"app": "vllm", "shard": 2},
        {"shard": "2"},
        {"canary": True},
        {"app": "web"},
        {"app": "none"},
        {},
        ["app"],
    ):
        expected = graph.workloads_selected(selector, "serve", plain_map=True)
        assert tuple(_selected(selector, "serve", graph)) == expected, selector


def test_triton_counts_only_with_an_llm_backend():
    graph = graph_of(
        """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: vision}
spec:
  template:
    metadata: {labels: {app: vision}}
    spec:
      containers:
        - {name: t, image: "nvcr.io/nvidia/tritonserver:25.06-py3"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: llm}
spec:
  template:
    metadata: {labels: {app: llm}}
    spec:
      containers:
        - name: t
          image: "nvcr.io/nvidia/tritonserver:25.06-trtllm-python-py3"
---
apiVersion: v1
kind: Service
metadata: {name: vision}
spec: {selector: {app: vision}}
---
apiVersion: v1
kind: Service
metadata: {name: llm}
spec: {selector: {app: llm}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: both}
spec:
  rules:
    - http:
        paths:
          - backend: {service: {name: vision, port: {number: 8000}}}
          - backend: {service: {name: llm, port: {number: 8000}}}
"""
    )
    (ingress,) = graph.of_kind("Ingress")
    backends = ingress_llm_backends(ingress, graph)
    assert [(b.target.name, b.server) for b in backends] == [("llm", "Triton")]

from __future__ import annotations

from kubernai.load.files import LoadResult, load_text
from kubernai.model.graph import ObjectGraph

OBJECTS = """\
apiVersion: v1
kind: Namespace
metadata: {name: serve, labels: {pod-security.kubernetes.io/enforce: baseline}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: vllm, namespace: serve}
spec:
  selector: {matchLabels: {app: vllm}}
  template:
    metadata: {labels: {app: vllm, tier: gpu}}
    spec:
      containers: [{name: vllm}]
      volumes: [{name: cache, persistentVolumeClaim: {claimName: hf-cache}}, {name: gone, persistentVolumeClaim: {claimName: elsewhere}}]
---
apiVersion: v1
kind: Service
metadata: {name: vllm, namespace: serve}
spec: {selector: {app: vllm}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: hf-cache, namespace: serve}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: vllm, namespace: serve}
spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: vllm}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: api, namespace: serve}
spec:
  rules:
    - http: {paths: [{path: /, backend: {service: {name: vllm, port: {number: 80}}}}, {path: /x, backend: {service: {name: missing}}}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: vllm, namespace: serve}
spec: {selector: {matchExpressions: [{key: tier, operator: In, values: [gpu]}]}}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: q, namespace: serve}
"""


def graph() -> ObjectGraph:
    loaded = LoadResult()
    load_text(OBJECTS, "objects.yaml", result=loaded)
    return ObjectGraph(loaded.resources)


def test_relations_resolve_within_the_input():
    g = graph()
    deployment = g.get("Deployment", "serve", "vllm")
    service = g.get("Service", "serve", "vllm")
    assert deployment is not None
    assert service is not None
    assert g.service_targets(service) == (deployment,)
    assert [h.kind for h in g.scalers_of(deployment)] == ["HorizontalPodAutoscaler"]
    assert [p.name for p in g.claims_of(deployment)] == ["hf-cache"]
    ingress = g.get("Ingress", "serve", "api")
    assert g.route_services(ingress) == (service,)
    assert [p.kind for p in g.disruption_budgets(deployment)] == ["PodDisruptionBudget"]
    assert [q.name for q in g.quotas("serve")] == ["q"]
    assert g.namespace_labels("serve") == {
        "pod-security.kubernetes.io/enforce": "baseline"
    }


def test_absent_objects_are_unknown_not_missing():
    g = graph()
    assert g.get("PriorityClass", "", "high") is None
    assert g.priority_class("high") is None
    assert g.namespace_labels("elsewhere") is None
    assert g.quotas("elsewhere") == ()
    assert g.limit_ranges("serve") == ()

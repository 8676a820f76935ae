"""CLU044 spread-constraint-without-label-selector."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import POD_TOPOLOGY
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.topology import has_topology_terms, topology_terms
from kubernai.rules.base import Finding, Rule, Severity


class SpreadConstraintWithoutLabelSelector(Rule):
    """Topology spread constraint without a labelSelector spreads nothing.

    ## Mechanism
    A spread constraint counts, per topology domain, the pods that its
    `labelSelector` selects. The scheduler turns a missing selector into
    `labels.Nothing()` (apimachinery `LabelSelectorAsSelector(nil)`), so it
    counts no pods, not even the incoming one: every domain has zero
    matching pods, the skew is always 0 and the constraint never moves a
    pod. The author meant to spread the workload's pods over hosts or zones;
    they land wherever the other plugins put them. (A `DoNotSchedule`
    constraint without a selector still rejects nodes that lack the
    `topologyKey` label.) An empty selector `{}` is different: it selects
    every pod of the namespace. `matchLabelKeys` cannot stand in for the
    selector: the API server rejects it without `labelSelector` (CLU045).

    ## Example
    ```yaml
    apiVersion: leaderworkerset.x-k8s.io/v1
    kind: LeaderWorkerSet
    metadata:
      name: llama-405b
    spec:
      replicas: 2
      leaderWorkerTemplate:
        size: 2
        workerTemplate:
          spec:
            topologySpreadConstraints:
              - maxSkew: 1
                topologyKey: topology.kubernetes.io/zone
                whenUnsatisfiable: ScheduleAnyway
            containers:
              - name: vllm
                image: vllm/vllm-openai:v0.6.3
                resources:
                  limits: {nvidia.com/gpu: 8}
    ```

    ## Use instead
    ```yaml
    apiVersion: leaderworkerset.x-k8s.io/v1
    kind: LeaderWorkerSet
    metadata:
      name: llama-405b
    spec:
      replicas: 2
      leaderWorkerTemplate:
        size: 2
        workerTemplate:
          spec:
            topologySpreadConstraints:
              - maxSkew: 1
                topologyKey: topology.kubernetes.io/zone
                whenUnsatisfiable: ScheduleAnyway
                labelSelector:
                  matchLabels:
                    leaderworkerset.sigs.k8s.io/name: llama-405b
            containers:
              - name: vllm
                image: vllm/vllm-openai:v0.6.3
                resources:
                  limits: {nvidia.com/gpu: 8}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/#spread-constraint-definition
    - kubernetes pkg/scheduler/framework/plugins/podtopologyspread/common.go
    - apimachinery pkg/apis/meta/v1/helpers.go (LabelSelectorAsSelector)
    """

    code = "CLU044"
    name = "spread-constraint-without-label-selector"
    severity = Severity.WARNING
    mechanism = "pod-affinity-for-distributed-training"
    workloads_only = True
    requires = frozenset({POD_TOPOLOGY})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            if not has_topology_terms(template):
                continue
            for term in topology_terms(template):
                if not term.spread or term.selector is not None:
                    continue
                if term.raw.get("matchLabelKeys"):
                    continue  # rejected by the API server; CLU045 reports it
                role = f" ({template.role})" if template.role else ""
                key = f" on {term.key}" if term.key else ""
                yield self.finding(
                    resource,
                    f"pod template{role}: {term.label}{key} has no labelSelector: "
                    "it counts no pods, so it never spreads anything",
                    path=term.path,
                )

"""SRV034 scale-to-zero-with-cpu-triggers."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.autoscaling import SCALED_OBJECT, keda_min_replicas, metrics
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource, get_path
from kubernai.rules.base import Finding, Rule, Severity


class ScaleToZeroWithCpuTriggers(Rule):
    """KEDA ScaledObject may scale to zero but has only cpu and memory triggers.

    ## Mechanism
    CPU and memory are measured on the target's own pods, so at zero pods
    there is nothing to measure and nothing can bring the workload back.
    KEDA therefore lets a cpu or memory trigger take part in scaling to
    zero only next to a trigger of another kind (a queue, a Prometheus
    query, a cron window) that activates it. Since KEDA 2.11 the admission
    webhook refuses a ScaledObject whose triggers are all cpu or memory and
    whose `minReplicaCount` is 0, and 0 is the default when the field is
    left out: `admission webhook "vscaledobject.kb.io" denied the request:
    scaledobject has only cpu/memory triggers AND minReplica is 0 (scale to
    zero doesn't work in this case)`; older releases accept it and never
    go below one pod. Set `minReplicaCount: 1` (or more), or add a trigger
    on the server's queue, which for an inference server is the better
    signal anyway.

    ## Example
    ```yaml
    apiVersion: keda.sh/v1alpha1
    kind: ScaledObject
    metadata:
      name: tgi
    spec:
      scaleTargetRef: {name: tgi}
      maxReplicaCount: 4
      triggers:
        - type: cpu
          metricType: Utilization
          metadata: {value: "70"}
    ```

    ## Use instead
    ```yaml
    apiVersion: keda.sh/v1alpha1
    kind: ScaledObject
    metadata:
      name: tgi
    spec:
      scaleTargetRef: {name: tgi}
      minReplicaCount: 1
      maxReplicaCount: 4
      triggers:
        - type: prometheus
          metadata:
            serverAddress: http://prometheus.monitoring:9090
            query: sum(tgi_queue_size{service="tgi"})
            threshold: "8"
    ```

    ## References
    - kedacore/keda `apis/keda/v1alpha1/scaledobject_webhook.go`
      (`verifyCPUMemoryScalers`)
    - https://github.com/kedacore/keda/pull/4346 (KEDA 2.11 CHANGELOG: "Add
      support for scale to zero if there are multiple triggers")
    - https://keda.sh/docs/latest/scalers/cpu/
    - https://keda.sh/docs/latest/reference/scaledobject-spec/#minreplicacount
    """

    code = "SRV034"
    name = "scale-to-zero-with-cpu-triggers"
    severity = Severity.ERROR
    mechanism = "hpa-for-token-throughput"
    kinds = frozenset({SCALED_OBJECT})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        found = metrics(resource)
        if not found or not all(m.source in ("cpu", "memory") for m in found):
            return
        if keda_min_replicas(resource) != 0:
            return
        path: Path = ("spec", "minReplicaCount")
        explicit = get_path(resource.raw, *path) is not None
        kinds = " or ".join(sorted({m.source for m in found}))
        yield self.finding(
            resource,
            f"every trigger is {kinds} and minReplicaCount is 0"
            f"{'' if explicit else ' (the default)'}",
            path=path if explicit else ("spec", "triggers"),
        )

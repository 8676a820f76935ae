"""TRN042 elastic-policy-without-worker."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kubernai.model.elastic import ELASTIC_POLICY, elastic_policy
from kubernai.model.graph import ObjectGraph
from kubernai.model.pytorchjob import WORKER, replica_specs
from kubernai.model.resource import Resource, get_path
from kubernai.rules.base import Finding, Rule, Severity


class ElasticPolicyWithoutWorker(Rule):
    """PyTorchJob with an `elasticPolicy` but no `Worker` replica spec.

    ## Mechanism
    Elastic training in a PyTorchJob scales the `Worker` replicas: the
    rendezvous endpoint defaults to `<job>-worker-0`, its port to the
    Worker's `pytorchjob-port`, the node range to the Worker replicas, and
    the HorizontalPodAutoscaler resizes Workers. The validating webhook of
    the training operator (v1.9) therefore refuses an elastic job without
    one: `spec.pytorchReplicaSpecs[Worker]: Required value: must be
    configured if elastic policy is used`. Older operators accept the job
    and then fail in the controller while building its pods, which read the
    defaults and the rendezvous port from the Worker spec.
    The key is compared exactly, so `worker` in lower case does not count.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: bert-elastic
    spec:
      elasticPolicy:
        minReplicas: 1
        maxReplicas: 4
        maxRestarts: 10
      pytorchReplicaSpecs:
        Master:
          replicas: 1
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/bert:1.0
                  command: [torchrun, train.py]
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: bert-elastic
    spec:
      elasticPolicy:
        minReplicas: 1
        maxReplicas: 4
        maxRestarts: 10
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/bert:1.0
                  command: [torchrun, train.py]
    ```

    ## References
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/webhooks/pytorch/pytorchjob_webhook.go
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/elastic.go
    - https://www.kubeflow.org/docs/components/trainer/legacy-v1/user-guides/pytorch/
    """

    code = "TRN042"
    name = "elastic-policy-without-worker"
    severity = Severity.ERROR
    mechanism = "torch-elastic-fault-tolerance"
    kinds = frozenset({"PyTorchJob"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if elastic_policy(resource) is None:
            return
        if not isinstance(
            get_path(resource.raw, "spec", "pytorchReplicaSpecs"), Mapping
        ):
            return
        types = [spec.type for spec in replica_specs(resource)]
        if WORKER in types:
            return
        near = next((t for t in types if t.lower() == WORKER.lower()), None)
        if near is not None:
            detail = f"the replica type is written {near!r}; the key is case-sensitive"
        elif types:
            detail = "replica types: " + ", ".join(types)
        else:
            detail = "no replica types"
        yield self.finding(
            resource,
            f"spec.elasticPolicy is set but spec.pytorchReplicaSpecs has no Worker "
            f"({detail}): the training operator refuses the job (must be "
            "configured if elastic policy is used)",
            path=ELASTIC_POLICY,
        )

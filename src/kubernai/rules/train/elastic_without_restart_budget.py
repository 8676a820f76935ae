"""TRN041 elastic-without-restart-budget."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.elastic import (
    DEFAULT,
    ELASTIC_POLICY,
    OPERATOR,
    STATIC,
    Rendezvous,
    as_int,
    elastic_policy,
    job_rendezvous,
)
from kubernai.model.features import LAUNCHER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource
from kubernai.rules.base import Finding, Rule, Severity


class ElasticWithoutRestartBudget(Rule):
    """Elastic torchrun job with no restart budget (`--max-restarts` 0).

    ## Mechanism
    torchrun's agent restarts the whole worker group in place when a
    worker process fails or a node joins or leaves, up to `--max-restarts`
    times (`PET_MAX_RESTARTS`). The default is **0**: the first failing
    worker process makes the agent stop its workers and exit non-zero, so
    the elastic machinery (re-rendezvous, new `RANK`/`WORLD_SIZE`, resume
    from the last checkpoint) never runs. What is left is the pod's own
    restart policy: with `restartPolicy: Never` the pod, and usually the
    job, fails; with `OnFailure` the kubelet restarts the container with
    crash-loop back-off, which counts against the job's `backoffLimit`.

    For a PyTorchJob with `spec.elasticPolicy`, the operator passes
    `PET_MAX_RESTARTS` only when `elasticPolicy.maxRestarts` is set. This
    rule looks at elastic launches only: a PyTorchJob with an
    `elasticPolicy`, or torchrun with a node range (`--nnodes 2:4`) on a
    dynamic rendezvous backend. Fixed-size jobs are left alone.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-elastic
    spec:
      elasticPolicy:
        rdzvBackend: c10d
        minReplicas: 2
        maxReplicas: 4
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/llama:1.0
                  command: [torchrun, --nproc-per-node=8, train.py]
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-elastic
    spec:
      elasticPolicy:
        rdzvBackend: c10d
        minReplicas: 2
        maxReplicas: 4
        maxRestarts: 10
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/llama:1.0
                  command: [torchrun, --nproc-per-node=8, train.py]
    ```

    ## References
    - https://docs.pytorch.org/docs/stable/elastic/run.html
    - https://github.com/pytorch/pytorch/blob/main/torch/distributed/run.py
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/elastic.go
    """

    code = "TRN041"
    name = "elastic-without-restart-budget"
    severity = Severity.WARNING
    mechanism = "torch-elastic-fault-tolerance"
    workloads_only = True
    requires = frozenset({LAUNCHER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        policy = elastic_policy(resource)
        reported: set[Path] = set()
        for found in job_rendezvous(resource):
            if policy is None and not _elastic_launch(found):
                continue
            setting = found["--max-restarts"]
            if not setting.known or setting.value is None:
                continue
            restarts = as_int(setting.value)
            if restarts is None or restarts > 0:
                continue
            label = found.container.label
            if setting.origin == DEFAULT and policy is not None:
                path: Path = ELASTIC_POLICY
                text = (
                    "elasticPolicy.maxRestarts is not set, so torchrun in "
                    f"{label} runs with --max-restarts=0 (its default)"
                )
            elif setting.origin == DEFAULT:
                path = found["--nnodes"].path
                text = (
                    f"{found['--nnodes'].describe()} makes {label} elastic, but "
                    "--max-restarts=0 (torchrun's default)"
                )
            elif setting.origin == OPERATOR:
                path = setting.path
                text = (
                    f"elasticPolicy.maxRestarts={setting.value} for torchrun in {label}"
                )
            else:
                path = setting.path
                text = f"{setting.describe()} in {label}"
            if path in reported:
                continue
            reported.add(path)
            yield self.finding(
                resource,
                f"{text}: the first failing worker stops this pod's torchrun agent "
                "instead of restarting the worker group in place",
                path=path,
            )


def _elastic_launch(found: Rendezvous) -> bool:
    """Whether torchrun runs with a node range on a dynamic rendezvous backend."""
    node_range = found.node_range()
    if node_range is None or node_range[0] >= node_range[1]:
        return False
    backend = found.backend
    return backend is not None and backend != STATIC

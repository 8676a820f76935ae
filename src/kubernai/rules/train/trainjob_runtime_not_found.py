"""TRN077 trainjob-runtime-not-found."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.pytorchjob import (
    RUNTIME_KINDS,
    TRAINER_GROUP,
    builtin_runtimes,
    find_runtime,
    is_trainjob,
    runtime_ref,
)
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class TrainjobRuntimeNotFound(Rule):
    """TrainJob refers to a training runtime that does not exist.

    ## Mechanism
    A TrainJob takes its pod template, ML policy and gang-scheduling policy
    from the runtime in `spec.runtimeRef`: a `ClusterTrainingRuntime`
    unless `kind` says `TrainingRuntime` (which must then be in the
    TrainJob's namespace). The TrainJob webhook looks the runtime up when
    the job is created and refuses the job when it is missing:
    `spec.RuntimeRef: Invalid value: ...: clustertrainingruntimes.trainer.kubeflow.org
    "torch-distibuted" not found: specified clusterTrainingRuntime must be
    created before the TrainJob is created`. A `kind` or `apiGroup` other
    than those two runtime kinds of `trainer.kubeflow.org` is refused as
    `unsupported runtime`. The name is only judged when the input holds
    runtimes of that kind (in that namespace for a TrainingRuntime), since
    others may exist in the cluster; the names of the runtimes Trainer
    ships (`torch-distributed`, `deepspeed-distributed`, ...) are taken as
    installed.

    ## Example
    ```yaml
    apiVersion: trainer.kubeflow.org/v1alpha1
    kind: ClusterTrainingRuntime
    metadata:
      name: torch-distributed-volcano
    spec:
      mlPolicy:
        numNodes: 1
        torch: {}
      podGroupPolicy:
        volcano: {}
      template:
        spec:
          replicatedJobs:
            - name: node
              template:
                metadata:
                  labels:
                    trainer.kubeflow.org/trainjob-ancestor-step: trainer
                spec:
                  template:
                    spec:
                      containers:
                        - name: node
                          image: pytorch/pytorch:2.7.1-cuda12.8-cudnn9-runtime
    ---
    apiVersion: trainer.kubeflow.org/v1alpha1
    kind: TrainJob
    metadata:
      name: volcano-example
    spec:
      runtimeRef:
        name: torch-distributed-volacno
      trainer:
        numNodes: 4
    ```

    ## Use instead
    ```yaml
    apiVersion: trainer.kubeflow.org/v1alpha1
    kind: ClusterTrainingRuntime
    metadata:
      name: torch-distributed-volcano
    spec:
      mlPolicy:
        numNodes: 1
        torch: {}
      podGroupPolicy:
        volcano: {}
      template:
        spec:
          replicatedJobs:
            - name: node
              template:
                metadata:
                  labels:
                    trainer.kubeflow.org/trainjob-ancestor-step: trainer
                spec:
                  template:
                    spec:
                      containers:
                        - name: node
                          image: pytorch/pytorch:2.7.1-cuda12.8-cudnn9-runtime
    ---
    apiVersion: trainer.kubeflow.org/v1alpha1
    kind: TrainJob
    metadata:
      name: volcano-example
    spec:
      runtimeRef:
        name: torch-distributed-volcano
      trainer:
        numNodes: 4
    ```

    ## References
    - https://github.com/kubeflow/trainer/blob/v2.3.0/pkg/webhooks/trainjob_webhook.go
    - https://github.com/kubeflow/trainer/blob/v2.3.0/pkg/runtime/core/clustertrainingruntime.go
    - https://github.com/kubeflow/trainer/blob/v2.3.0/pkg/runtime/core/trainingruntime.go
    - https://github.com/kubeflow/trainer/blob/v2.3.0/pkg/apis/trainer/v1alpha1/trainjob_types.go
    """

    code = "TRN077"
    name = "trainjob-runtime-not-found"
    severity = Severity.ERROR
    mechanism = "training-operator-pytorchjob"
    kinds = frozenset({"TrainJob"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_trainjob(resource):
            return
        ref = runtime_ref(resource)
        if ref is None:
            return
        if ref.kind not in RUNTIME_KINDS or ref.api_group != TRAINER_GROUP:
            yield self.finding(
                resource,
                f"spec.runtimeRef names {ref.kind}.{ref.api_group}, which is not a "
                "Trainer runtime kind (ClusterTrainingRuntime or TrainingRuntime of "
                f"{TRAINER_GROUP}): the webhook refuses the job (unsupported runtime)",
                path=ref.path,
            )
            return
        if find_runtime(resource, ref, graph) is not None:
            return
        if ref.kind == RUNTIME_KINDS[0] and ref.name in builtin_runtimes():
            return  # shipped with Trainer: assumed installed
        namespace = None if ref.kind == RUNTIME_KINDS[0] else resource.namespace
        candidates = [
            r.name
            for r in graph.of_kind(ref.kind, namespace)
            if r.group == TRAINER_GROUP and r.name
        ]
        if not candidates:
            return  # no runtime of that kind in the input: unknown
        where = (
            "" if namespace is None else f" in namespace {namespace or '(default)'!r}"
        )
        close = difflib.get_close_matches(ref.name, candidates, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = sorted(set(candidates))
        shown = ", ".join(known[:5]) + (", ..." if len(known) > 5 else "")
        yield self.finding(
            resource,
            f"spec.runtimeRef names {ref.kind} {ref.name!r}, which is not among the "
            f"{ref.kind}s in the input{where} ({shown}){hint}: the webhook refuses "
            f"the job until it exists ({ref.kind[0].lower()}{ref.kind[1:]} must be "
            "created before the TrainJob is created)",
            path=(*ref.path, "name"),
        )

"""TRN076 trainjob-reserved-env."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.pytorchjob import (
    is_trainjob,
    reserved_env,
    runtime_ref,
    trainjob_policy,
)
from kubernai.model.resource import Resource, get_str, iter_maps
from kubernai.rules.base import Finding, Rule, Severity


class TrainjobReservedEnv(Rule):
    """TrainJob sets an environment variable that its runtime's ML policy reserves.

    ## Mechanism
    Kubeflow Trainer's ML-policy plugins write the distributed-launch
    variables into the trainer container themselves. For a runtime with
    `mlPolicy.torch`, the torch plugin sets `PET_NNODES` (from `numNodes`),
    `PET_NPROC_PER_NODE` (from `numProcPerNode`, else `auto`),
    `PET_NODE_RANK` (the Job completion index), `PET_MASTER_ADDR`
    (`<trainjob>-node-0-0.<trainjob>`) and `PET_MASTER_PORT` (29500), and
    the TrainJob webhook refuses a `spec.trainer.env` that names any of
    them: `spec.trainer.env: Invalid value: ...: must not have reserved
    envs, invalid envs configured: [PET_NNODES]` (v2.0.0 and later). The MPI
    plugin reserves the OpenMPI hostfile, rsh and slots variables
    (`OMPI_MCA_orte_default_hostfile`, `OMPI_MCA_plm_rsh_args`,
    `OMPI_MCA_orte_keep_fqdn_hostnames`, `OMPI_MCA_orte_set_default_slots`;
    v2.3.0 and later) with the same message, and the XGBoost plugin the
    `DMLC_*` tracker variables (`DMLC_TRACKER_URI is reserved for the
    XGBoost runtime`; v2.2.0 and later). Set the node and process counts
    through `numNodes` and `numProcPerNode` instead. The policy is read
    from the runtime when it is in the input, else from the runtimes that
    Trainer ships under the referenced name (`torch-distributed`,
    `deepspeed-distributed`, ...).

    ## Example
    ```yaml
    apiVersion: trainer.kubeflow.org/v1alpha1
    kind: TrainJob
    metadata:
      name: qwen-sft
    spec:
      runtimeRef:
        name: torch-distributed
      trainer:
        numNodes: 2
        image: ghcr.io/acme/qwen-sft:0.2
        command: ["torchrun", "train.py"]
        env:
          - name: PET_NPROC_PER_NODE
            value: "8"
        resourcesPerNode:
          limits:
            nvidia.com/gpu: 8
    ```

    ## Use instead
    ```yaml
    apiVersion: trainer.kubeflow.org/v1alpha1
    kind: TrainJob
    metadata:
      name: qwen-sft
    spec:
      runtimeRef:
        name: torch-distributed
      trainer:
        numNodes: 2
        numProcPerNode: 8
        image: ghcr.io/acme/qwen-sft:0.2
        command: ["torchrun", "train.py"]
        resourcesPerNode:
          limits:
            nvidia.com/gpu: 8
    ```

    ## References
    - https://github.com/kubeflow/trainer/blob/v2.3.0/pkg/runtime/framework/plugins/torch/torch.go
    - https://github.com/kubeflow/trainer/blob/v2.3.0/pkg/runtime/framework/plugins/mpi/mpi.go
    - https://github.com/kubeflow/trainer/blob/v2.3.0/pkg/runtime/framework/plugins/xgboost/xgboost.go
    - https://github.com/kubeflow/trainer/blob/v2.3.0/pkg/constants/constants.go
    """

    code = "TRN076"
    name = "trainjob-reserved-env"
    severity = Severity.ERROR
    mechanism = "training-operator-pytorchjob"
    kinds = frozenset({"TrainJob"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_trainjob(resource):
            return
        entries = [
            (index, get_str(item, "name"))
            for index, item in iter_maps(resource.raw, "spec", "trainer", "env")
        ]
        if not entries:
            return
        known = trainjob_policy(resource, graph)
        if known is None:
            return
        policy, runtime = known
        reserved = reserved_env(policy)
        if reserved is None:
            return
        clashing = [(i, n) for i, n in entries if n in reserved.names]
        if not clashing:
            return
        ref = runtime_ref(resource)
        source = (
            f"{runtime.kind} {runtime.name!r}"
            if runtime is not None
            else f"the built-in ClusterTrainingRuntime {ref.name if ref else ''!r}"
        )
        listed = "[" + " ".join(sorted({n for _, n in clashing})) + "]"
        for index, name in clashing:
            refusal = reserved.message.format(names=listed, name=name)
            yield self.finding(
                resource,
                f"spec.trainer.env sets {name}, which the {policy} plugin of "
                f"{source} sets itself: the TrainJob webhook (Trainer "
                f"v{reserved.since}+) refuses the job ({refusal})",
                path=("spec", "trainer", "env", index, "name"),
            )

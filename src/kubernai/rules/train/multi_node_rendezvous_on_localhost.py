"""TRN044 multi-node-rendezvous-on-localhost."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.elastic import (
    DEFAULT,
    STATIC,
    Rendezvous,
    Setting,
    hostname_of,
    is_loopback,
    job_rendezvous,
)
from kubernai.model.features import LAUNCHER
from kubernai.model.graph import ObjectGraph
from kubernai.model.pytorchjob import is_pytorchjob
from kubernai.model.resource import Path, Resource
from kubernai.rules.base import Finding, Rule, Severity


class MultiNodeRendezvousOnLocalhost(Rule):
    """Multi-node torchrun whose rendezvous address is the pod's own loopback.

    ## Mechanism
    Every node of a torchrun job must meet at one address. With the default
    `static` backend that address is `--master-addr:--master-port`, whose
    defaults are `127.0.0.1:29500`; with `c10d` or etcd it is
    `--rdzv-endpoint`, and an empty endpoint means `localhost`;
    `--standalone` forces `localhost:0`. In a pod, localhost is the pod
    itself, so each node waits on its own loopback: a fixed-size job waits
    until the rendezvous times out, an elastic one (`--nnodes 1:4`) quietly
    trains as several independent one-node jobs.

    Operators can supply the address: the Kubeflow training operator sets
    `PET_MASTER_ADDR` when a PyTorchJob has a `Master` replica and
    `PET_RDZV_ENDPOINT` when it has an `elasticPolicy`; Kubeflow Trainer sets
    `PET_MASTER_ADDR` for torch runtimes. A Worker-only PyTorchJob without
    an elastic policy gets neither. Plain `MASTER_ADDR` (set by Volcano's
    pytorch plugin, JobSet recipes and many scripts) is read by the training
    process, not by torchrun: pass it as `--master-addr=$(MASTER_ADDR)`.

    ## Example
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: ddp
    spec:
      completionMode: Indexed
      completions: 2
      parallelism: 2
      template:
        spec:
          subdomain: ddp
          restartPolicy: Never
          containers:
            - name: trainer
              image: ghcr.io/acme/ddp:1.0
              env:
                - name: MASTER_ADDR
                  value: ddp-0.ddp
              command:
                - torchrun
                - --nnodes=2
                - --nproc-per-node=8
                - --node-rank=$(JOB_COMPLETION_INDEX)
                - train.py
    ```

    ## Use instead
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: ddp
    spec:
      completionMode: Indexed
      completions: 2
      parallelism: 2
      template:
        spec:
          subdomain: ddp
          restartPolicy: Never
          containers:
            - name: trainer
              image: ghcr.io/acme/ddp:1.0
              env:
                - name: MASTER_ADDR
                  value: ddp-0.ddp
              command:
                - torchrun
                - --nnodes=2
                - --nproc-per-node=8
                - --node-rank=$(JOB_COMPLETION_INDEX)
                - --master-addr=$(MASTER_ADDR)
                - --master-port=29500
                - train.py
    ```

    ## References
    - https://github.com/pytorch/pytorch/blob/main/torch/distributed/run.py
    - https://github.com/pytorch/pytorch/blob/main/torch/distributed/elastic/rendezvous/utils.py
    - https://docs.pytorch.org/docs/stable/elastic/run.html
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/envvar.go
    """

    code = "TRN044"
    name = "multi-node-rendezvous-on-localhost"
    severity = Severity.ERROR
    mechanism = "torch-elastic-fault-tolerance"
    workloads_only = True
    requires = frozenset({LAUNCHER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        reported: set[Path] = set()
        for found in job_rendezvous(resource):
            node_range = found.node_range()
            if node_range is None or node_range[1] <= 1:
                continue
            located = _address(found)
            if located is None:
                continue
            backend, address, cause = located
            if not is_loopback(hostname_of(address)):
                continue
            nnodes = found["--nnodes"]
            path = cause.path if cause.origin != DEFAULT else nnodes.path
            if path in reported:
                continue
            reported.add(path)
            hint = ""
            if is_pytorchjob(resource) and cause.origin == DEFAULT:
                hint = (
                    " (the operator sets PET_MASTER_ADDR only for a job with a "
                    "Master replica, PET_RDZV_ENDPOINT only with an elasticPolicy)"
                )
            yield self.finding(
                resource,
                f"{nnodes.describe()} in {found.container.label}, but the "
                f"{backend} rendezvous is at {address} ({cause.describe()}): each "
                f"pod meets only itself, so the nodes never form one group{hint}",
                path=path,
            )


def _address(found: Rendezvous) -> tuple[str, str, Setting] | None:
    """The backend, the address the nodes meet at and the setting behind it."""
    standalone = found.standalone
    if standalone is None:
        return None
    if standalone:
        return "standalone c10d", "localhost:0", found["--standalone"]
    backend = found.backend
    if backend is None:
        return None
    endpoint = found["--rdzv-endpoint"]
    if endpoint.is_set and not endpoint.known:
        return None
    if backend != STATIC:
        text = endpoint.value if endpoint.value else ""
        if not text.strip():
            return backend, "localhost", endpoint
        return backend, text, endpoint
    if endpoint.value and endpoint.value.strip():
        return backend, endpoint.value, endpoint
    master = found["--master-addr"]
    if not master.known or master.value is None:
        return None
    port = found["--master-port"]
    port_text = port.value if port.known and port.value else "?"
    return backend, f"{master.value}:{port_text}", master

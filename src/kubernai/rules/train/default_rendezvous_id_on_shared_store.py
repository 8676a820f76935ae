"""TRN046 default-rendezvous-id-on-shared-store."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.elastic import (
    C10D,
    DEFAULT,
    ETCD_BACKENDS,
    Rendezvous,
    hostname_of,
    is_loopback,
    job_rendezvous,
    port_of,
)
from kubernai.model.features import LAUNCHER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource
from kubernai.rules.base import Finding, Rule, Severity


class DefaultRendezvousIdOnSharedStore(Rule):
    """torchrun keeps the default rendezvous id `none` on a store other jobs can reach.

    ## Mechanism
    The rendezvous id (`--rdzv-id`, `PET_RDZV_ID`, `elasticPolicy.rdzvId`)
    names the group in the rendezvous store; torchrun's default is the
    literal `none`. That is harmless when the store lives and dies with the
    job (c10d hosted by one of the job's own pods), but not when it is
    shared. An etcd server outlives jobs and usually serves several: every
    job that leaves the id unset keeps its state under the same etcd key
    (`/torchelastic/p2p/run_none` for `etcd`, `/torch/elastic/rendezvous/none`
    for `etcd-v2`), so two such jobs running at the same
    time join one group (wrong world size, mixed ranks), and a job started
    after another one finished can find that rendezvous closed. The same
    happens with `c10d` on `hostNetwork` pods and a fixed localhost port:
    the second pod on a node finds the port taken, connects to the first
    pod's store as a client and joins its group (PyTorch's docs warn that
    stacked jobs on one host can be "merged as a single job").

    Only these shared stores are reported; a c10d endpoint on one of the
    job's own pods is left alone.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: imagenet-a
    spec:
      elasticPolicy:
        rdzvBackend: etcd
        rdzvHost: etcd
        rdzvPort: 2379
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
                  image: ghcr.io/acme/imagenet:1.0
                  command: [torchrun, --nproc-per-node=1, main.py]
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: imagenet-a
    spec:
      elasticPolicy:
        rdzvBackend: etcd
        rdzvHost: etcd
        rdzvPort: 2379
        rdzvId: imagenet-a
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
                  image: ghcr.io/acme/imagenet:1.0
                  command: [torchrun, --nproc-per-node=1, main.py]
    ```

    ## References
    - https://docs.pytorch.org/docs/stable/elastic/run.html
    - https://github.com/pytorch/pytorch/blob/main/torch/distributed/elastic/rendezvous/etcd_rendezvous.py
    - https://github.com/pytorch/pytorch/blob/main/torch/distributed/elastic/rendezvous/etcd_rendezvous_backend.py
    - https://github.com/pytorch/pytorch/blob/main/torch/distributed/elastic/rendezvous/c10d_rendezvous_backend.py
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/elastic.go
    """

    code = "TRN046"
    name = "default-rendezvous-id-on-shared-store"
    severity = Severity.WARNING
    mechanism = "torch-elastic-fault-tolerance"
    workloads_only = True
    requires = frozenset({LAUNCHER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        reported: set[Path] = set()
        for found in job_rendezvous(resource):
            if found.standalone is not False:
                continue
            if found["--rdzv-id"].origin != DEFAULT:
                continue
            message_path = _shared_store(found)
            if message_path is None:
                continue
            message, path = message_path
            if path in reported:
                continue
            reported.add(path)
            yield self.finding(resource, message, path=path)


_ETCD_KEYS = {
    "etcd": "/torchelastic/p2p/run_none",
    "etcd-v2": "/torch/elastic/rendezvous/none",
}


def _shared_store(found: Rendezvous) -> tuple[str, Path] | None:
    backend = found.backend
    endpoint = found["--rdzv-endpoint"]
    label = found.container.label
    if backend in ETCD_BACKENDS:
        where = f" at {endpoint.value}" if endpoint.known and endpoint.value else ""
        setting = found["--rdzv-backend"]
        key = _ETCD_KEYS.get(backend, "")
        return (
            f"{setting.describe()} in {label} without a rendezvous id: every job "
            f"on that etcd{where} that leaves it unset uses the id 'none' "
            f"(torchrun's default) and shares the key {key}",
            setting.path,
        )
    if backend != C10D or found.template.spec.get("hostNetwork") is not True:
        return None
    if not endpoint.known or endpoint.value is None:
        return None
    port = port_of(endpoint.value)
    if not is_loopback(hostname_of(endpoint.value)) or port in ("", "0"):
        return None
    node_range = found.node_range()
    if node_range is None or node_range[1] != 1:
        return None  # several nodes on localhost: see TRN044
    return (
        f"{endpoint.describe()} on hostNetwork in {label} without a rendezvous "
        f"id: another job on the same node using port {port} joins the same "
        "rendezvous (id 'none', torchrun's default)",
        endpoint.path,
    )

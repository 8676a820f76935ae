"""TRN043 etcd-rendezvous-without-endpoint."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.elastic import (
    COMMAND_LINE,
    ELASTIC_POLICY,
    ETCD_BACKENDS,
    as_int,
    elastic_policy,
    endpoint_service,
    job_rendezvous,
    service_ports,
    worker_port,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity


class EtcdRendezvousWithoutEndpoint(Rule):
    """Elastic PyTorchJob on an etcd rendezvous that does not point at an etcd server.

    ## Mechanism
    With `elasticPolicy.rdzvBackend: etcd` (or `etcd-v2`) torchrun keeps
    the rendezvous in an etcd server (v2 API, `--enable-v2`) that nobody
    starts for you. The operator builds `PET_RDZV_ENDPOINT` from
    `rdzvHost:rdzvPort`; left out, the host defaults to `<job>-worker-0`
    (the first training pod) and the port to the Worker's
    `pytorchjob-port` (23456 by default), where no etcd listens, so every
    agent fails to reach the store and the job never starts training. Only
    `c10d` hosts its store inside the job.

    The rule fires when `rdzvHost` is missing, when `rdzvPort` is missing
    (the Worker port is not etcd's client port, 2379 by default) unless the
    Service named by `rdzvHost` is in the input and exposes that port, and
    when that Service is in the input but does not expose `rdzvPort`.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: gpt-elastic
    spec:
      elasticPolicy:
        rdzvBackend: etcd
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
                  image: ghcr.io/acme/gpt:1.0
                  command: [torchrun, train.py]
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Service
    metadata:
      name: etcd
    spec:
      selector: {app: etcd}
      ports:
        - name: client
          port: 2379
    ---
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: gpt-elastic
    spec:
      elasticPolicy:
        rdzvBackend: etcd
        rdzvHost: etcd
        rdzvPort: 2379
        rdzvId: gpt-elastic
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
                  image: ghcr.io/acme/gpt:1.0
                  command: [torchrun, train.py]
    ```

    ## References
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/elastic.go
    - https://docs.pytorch.org/docs/stable/elastic/run.html
    - https://docs.pytorch.org/docs/stable/elastic/rendezvous.html
    - https://github.com/kubeflow/training-operator/tree/release-1.9/examples/pytorch/elastic/etcd.yaml
    """

    code = "TRN043"
    name = "etcd-rendezvous-without-endpoint"
    severity = Severity.ERROR
    mechanism = "torch-elastic-fault-tolerance"
    kinds = frozenset({"PyTorchJob"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        policy = elastic_policy(resource)
        if policy is None:
            return
        backend = policy.get("rdzvBackend")
        if not isinstance(backend, str) or backend not in ETCD_BACKENDS:
            return
        found = list(job_rendezvous(resource))
        if found and all(
            r["--rdzv-endpoint"].origin == COMMAND_LINE
            or r["--rdzv-backend"].origin == COMMAND_LINE
            for r in found
        ):
            return  # every torchrun overrides the operator's endpoint
        host, port = policy.get("rdzvHost"), policy.get("rdzvPort")
        if host is None:
            name = resource.name if not is_placeholder(resource.name) else "<job>"
            shown_port = worker_port(resource) or "its pytorchjob-port"
            yield self.finding(
                resource,
                f"rdzvBackend={backend} without rdzvHost: the operator points "
                f"PET_RDZV_ENDPOINT at {name}-worker-0:{shown_port}, the first "
                "Worker pod, where no etcd server runs",
                path=(*ELASTIC_POLICY, "rdzvBackend"),
            )
            return
        if not isinstance(host, str) or is_placeholder(host):
            return
        service = endpoint_service(resource, host, graph)
        exposed = service_ports(service) if service is not None else []
        if port is None:
            default_port = worker_port(resource)
            if default_port is None:
                return
            number = as_int(default_port)
            if service is not None and number in exposed:
                return
            yield self.finding(
                resource,
                f"rdzvBackend={backend}, rdzvHost={host} without rdzvPort: the "
                f"operator takes the port from the Worker's pytorchjob-port "
                f"({default_port}), not an etcd client port (2379 by default)",
                path=(*ELASTIC_POLICY, "rdzvHost"),
            )
            return
        number = as_int(port)
        if service is None or not exposed or number is None or number in exposed:
            return
        shown = ", ".join(str(p) for p in exposed)
        yield self.finding(
            resource,
            f"rdzvPort={number} but Service {service.name!r} exposes port(s) "
            f"{shown}: the etcd rendezvous endpoint {host}:{number} is not served",
            path=(*ELASTIC_POLICY, "rdzvPort"),
        )

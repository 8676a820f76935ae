"""OPS050 dcgm-exporter-without-pod-mapping."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.dcgm import exporters, mount_of, parse_bool
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_str
from kubernai.rules.base import Finding, Rule, Severity


class DcgmExporterWithoutPodMapping(Rule):
    """DCGM exporter that cannot label GPU metrics with the pod using the GPU.

    ## Mechanism
    dcgm-exporter attributes each GPU's metrics to the pod that holds the
    GPU only in Kubernetes mode: `--kubernetes` (`-k`) or
    `DCGM_EXPORTER_KUBERNETES=true`, which defaults to false. In that mode it
    asks the kubelet's pod-resources API, over the socket
    `/var/lib/kubelet/pod-resources/kubelet.sock` (flag
    `--pod-resources-kubelet-socket`), which GPUs each pod was given, and adds
    `pod`, `namespace` and `container` labels to the GPU's series. When the
    socket is not in the container the exporter does not fail: it skips the
    mapping on every scrape ("No Kubelet socket, ignoring" in 2.x releases)
    and exports the metrics without those labels. Either way nothing in
    Prometheus says which workload or tenant is using, wasting or breaking a
    GPU, and per-namespace dashboards and idle-GPU alerts come out empty.
    NVIDIA's manifest, Helm chart and the GPU Operator set the variable and
    mount the host's pod-resources directory; hand-written DaemonSets often
    lose one of the two.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: DaemonSet
    metadata:
      name: dcgm-exporter
      namespace: monitoring
    spec:
      selector:
        matchLabels: {app: dcgm-exporter}
      template:
        metadata:
          labels: {app: dcgm-exporter}
        spec:
          containers:
            - name: dcgm-exporter
              image: nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless
              ports:
                - {name: metrics, containerPort: 9400}
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: DaemonSet
    metadata:
      name: dcgm-exporter
      namespace: monitoring
    spec:
      selector:
        matchLabels: {app: dcgm-exporter}
      template:
        metadata:
          labels: {app: dcgm-exporter}
        spec:
          containers:
            - name: dcgm-exporter
              image: nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless
              env:
                - {name: DCGM_EXPORTER_KUBERNETES, value: "true"}
              ports:
                - {name: metrics, containerPort: 9400}
              volumeMounts:
                - name: pod-gpu-resources
                  mountPath: /var/lib/kubelet/pod-resources
                  readOnly: true
          volumes:
            - name: pod-gpu-resources
              hostPath:
                path: /var/lib/kubelet/pod-resources
    ```

    ## References
    - NVIDIA/dcgm-exporter pkg/cmd/app.go (`--kubernetes`,
      `DCGM_EXPORTER_KUBERNETES`, default false; `--pod-resources-kubelet-socket`)
    - NVIDIA/dcgm-exporter internal/pkg/transformation/kubernetes.go (a missing
      socket skips the mapping)
    - NVIDIA/dcgm-exporter dcgm-exporter.yaml and deployment/templates/daemonset.yaml
    - https://kubernetes.io/docs/concepts/extend-kubernetes/compute-storage-net/device-plugins/#monitoring-device-plugin-resources
    """

    code = "OPS050"
    name = "dcgm-exporter-without-pod-mapping"
    severity = Severity.WARNING
    mechanism = "dcgm-exporter-metrics"
    kinds = frozenset({"DaemonSet"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            for exporter in exporters(template):
                label = exporter.container.label
                enabled = parse_bool(exporter.kubernetes.value)
                if enabled is None:
                    continue  # set from elsewhere, or not a boolean
                if not enabled:
                    how = exporter.kubernetes.how or (
                        "neither --kubernetes nor DCGM_EXPORTER_KUBERNETES is set; "
                        "the default is false"
                    )
                    yield self.finding(
                        resource,
                        f"{label} runs the DCGM exporter with pod mapping off ({how}): "
                        "GPU metrics get no pod, namespace or container labels",
                        path=exporter.kubernetes.path or exporter.container.path,
                    )
                    continue
                socket = exporter.socket.value
                if socket is None:
                    continue
                mount = mount_of(template, exporter.container, socket)
                if mount is not None and (
                    mount.volume is None or "hostPath" in mount.volume
                ):
                    continue
                where = socket.rsplit("/", 1)[0]
                if mount is None:
                    detail = f"mounts nothing at {where}"
                    path = exporter.container.path
                else:
                    kind = next(
                        (k for k in mount.volume or {} if k != "name"), "a volume"
                    )
                    detail = (
                        f"mounts volume {get_str(mount.mount, 'name')!r} "
                        f"({kind}, not the host's directory) at "
                        f"{get_str(mount.mount, 'mountPath')}"
                    )
                    path = mount.path
                yield self.finding(
                    resource,
                    f"{label} enables pod mapping but {detail}: the kubelet socket "
                    f"{socket} is missing, so GPU metrics get no pod, namespace or "
                    "container labels",
                    path=path,
                )

"""CLU081 time-slicing-and-mps-both-set."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.sharing import MPS, TIME_SLICING, sharing_index
from kubernai.rules.base import Finding, Rule, Severity


class TimeSlicingAndMpsBothSet(Rule):
    """NVIDIA device-plugin config sets both `sharing.timeSlicing` and `sharing.mps`.

    ## Mechanism
    The device plugin applies one sharing method per config. When
    `sharing.mps` has a resource with more than one replica, the plugin
    shares with MPS and the whole `sharing.timeSlicing` block is ignored
    without a warning (`Sharing.SharingStrategy` picks MPS first; the
    `failRequestsGreaterThanOne` and `renameByDefault` settings also come
    from the MPS block). Resources listed only under `timeSlicing` are then
    not shared at all, and the nodes advertise one unit per physical GPU for
    them. Split the two methods into separate config keys and select them
    per node with the `nvidia.com/device-plugin.config` label.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: device-plugin-config
      namespace: nvidia-device-plugin
    data:
      config.yaml: |-
        version: v1
        sharing:
          timeSlicing:
            resources:
              - name: nvidia.com/gpu
                replicas: 8
          mps:
            resources:
              - name: nvidia.com/gpu
                replicas: 4
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: device-plugin-config
      namespace: nvidia-device-plugin
    data:
      time-sliced: |-
        version: v1
        sharing:
          timeSlicing:
            failRequestsGreaterThanOne: true
            resources:
              - name: nvidia.com/gpu
                replicas: 8
      mps: |-
        version: v1
        sharing:
          mps:
            resources:
              - name: nvidia.com/gpu
                replicas: 4
    ```

    ## References
    - NVIDIA/k8s-device-plugin api/config/v1/sharing.go (SharingStrategy)
    - https://github.com/NVIDIA/k8s-device-plugin#shared-access-to-gpus
    """

    code = "CLU081"
    name = "time-slicing-and-mps-both-set"
    severity = Severity.WARNING
    mechanism = "mig-vs-mps-vs-time-slicing"
    kinds = frozenset({"ConfigMap"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for config in sharing_index(graph).configs_of(resource):
            time_slicing, mps = config.block(TIME_SLICING), config.block(MPS)
            if time_slicing is None or mps is None or not mps.replicated:
                continue
            ignored = sorted({r.name for r in time_slicing.resources if r.name})
            names = f" ({', '.join(ignored)})" if ignored else ""
            yield self.finding(
                resource,
                f"data[{config.data_key}] sets both sharing.timeSlicing and "
                f"sharing.mps: the plugin shares with MPS and ignores "
                f"sharing.timeSlicing{names}",
                path=config.finding_path,
            )

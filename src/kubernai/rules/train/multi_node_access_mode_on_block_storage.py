"""TRN004 multi-node-access-mode-on-block-storage."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.checkpoint_storage import (
    disk_provisioner,
    provisioner,
    storage_class_of,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import (
    Path,
    Raw,
    Resource,
    get_list,
    get_map,
    get_str,
    iter_maps,
)
from kubernai.rules.base import Finding, Rule, Severity


class MultiNodeAccessModeOnBlockStorage(Rule):
    """ReadWriteMany filesystem claim on a StorageClass backed by cloud block disks.

    ## Mechanism
    Shared checkpoints need a volume every node can mount, and asking for
    `ReadWriteMany` is the usual first attempt. The provisioner must be able
    to serve it: a cloud disk is a block device attached to one machine,
    and its CSI driver refuses a multi-node filesystem volume at creation.
    The claim stays `Pending`, with `Warning ProvisioningFailed ... failed
    to provision volume with StorageClass "...": rpc error: code =
    InvalidArgument desc = ...`:

    - AWS EBS (`ebs.csi.aws.com`): `ReadWriteMany` only as a raw block
      device (io2 Multi-Attach), no `ReadOnlyMany`; the error is
      `Volume capabilities not supported` (older drivers: `Volume
      capabilities MULTI_NODE_MULTI_WRITER not supported. Only
      AccessModes[ReadWriteOnce] supported.`);
    - GCE Persistent Disk (`pd.csi.storage.gke.io`): `VolumeCapabilities is
      invalid: specified multi writer with mount access type`;
      `ReadOnlyMany` is accepted;
    - Azure Disk (`disk.csi.azure.com`): `mountVolume is not supported for
      access mode: MULTI_NODE_MULTI_WRITER`, the same for `ReadOnlyMany`.

    The in-tree names (`kubernetes.io/aws-ebs`, `kubernetes.io/gce-pd`,
    `kubernetes.io/azure-disk`) are migrated to these drivers. The rule
    reads PersistentVolumeClaims and StatefulSet `volumeClaimTemplates`
    whose StorageClass (named, or the input's one default class) is in the
    input; `volumeMode: Block` claims and claims bound to a named volume are
    left alone. Use a file-storage class instead: EFS, FSx for Lustre,
    Filestore, Azure Files, NFS.

    ## Example
    ```yaml
    apiVersion: storage.k8s.io/v1
    kind: StorageClass
    metadata:
      name: gp3
    provisioner: ebs.csi.aws.com
    parameters:
      type: gp3
    volumeBindingMode: WaitForFirstConsumer
    ---
    apiVersion: v1
    kind: PersistentVolumeClaim
    metadata:
      name: checkpoints
    spec:
      accessModes: [ReadWriteMany]
      storageClassName: gp3
      resources:
        requests:
          storage: 2Ti
    ```

    ## Use instead
    ```yaml
    apiVersion: storage.k8s.io/v1
    kind: StorageClass
    metadata:
      name: efs-sc
    provisioner: efs.csi.aws.com
    parameters:
      provisioningMode: efs-ap
      fileSystemId: fs-0123456789abcdef0
      directoryPerms: "700"
    ---
    apiVersion: v1
    kind: PersistentVolumeClaim
    metadata:
      name: checkpoints
    spec:
      accessModes: [ReadWriteMany]
      storageClassName: efs-sc
      resources:
        requests:
          storage: 2Ti
    ```

    ## References
    - kubernetes-sigs/aws-ebs-csi-driver pkg/driver/controller.go
      (isValidCapability); docs/multi-attach.md
    - kubernetes-sigs/gcp-compute-persistent-disk-csi-driver
      pkg/gce-pd-csi-driver/utils.go (validateVolumeCapability)
    - kubernetes-sigs/azuredisk-csi-driver pkg/azureutils/azure_disk_utils.go
      (IsValidVolumeCapabilities)
    - https://kubernetes.io/docs/concepts/storage/persistent-volumes/#access-modes
    """

    code = "TRN004"
    name = "multi-node-access-mode-on-block-storage"
    severity = Severity.ERROR
    mechanism = "checkpoint-storage-patterns"
    kinds = frozenset({"PersistentVolumeClaim", "StatefulSet"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.group not in ("", "apps"):
            return
        for path, claim in _claims(resource):
            spec = get_map(claim, "spec")
            if get_str(spec, "volumeMode") == "Block" or get_str(spec, "volumeName"):
                continue
            modes = get_list(spec, "accessModes")
            if not modes:
                continue
            storage_class = storage_class_of(claim, graph)
            if storage_class is None:
                continue
            name = provisioner(storage_class)
            disk = disk_provisioner(name)
            if disk is None:
                continue
            for index, mode in enumerate(modes):
                if not isinstance(mode, str) or mode not in disk.refuses_filesystem:
                    continue
                yield self.finding(
                    resource,
                    f"{_label(resource, claim)} asks for {mode} on StorageClass "
                    f"{storage_class.name!r} ({name}), a single-node disk: "
                    f'provisioning fails with "{disk.error}"',
                    path=(*path, "spec", "accessModes", index),
                )
                break


def _claims(resource: Resource) -> Iterator[tuple[Path, Raw]]:
    if resource.kind == "PersistentVolumeClaim" and resource.group == "":
        yield (), resource.raw
    elif resource.kind == "StatefulSet" and resource.group == "apps":
        for index, claim in iter_maps(resource.raw, "spec", "volumeClaimTemplates"):
            yield ("spec", "volumeClaimTemplates", index), claim


def _label(resource: Resource, claim: Raw) -> str:
    if resource.kind == "PersistentVolumeClaim":
        return f"PersistentVolumeClaim {resource.name!r}"
    name = get_str(claim, "metadata", "name")
    return f"volumeClaimTemplate {name!r}" if name else "volumeClaimTemplate"

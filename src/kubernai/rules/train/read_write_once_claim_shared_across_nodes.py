"""TRN002 read-write-once-claim-shared-across-nodes."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.checkpoint_storage import (
    MULTI_NODE_MODES,
    READ_WRITE_ONCE_POD,
    attach_free,
    claim_uses,
    runs_after_others,
    single_node,
    volume_access_modes,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.workload import PodTemplate
from kubernai.rules.base import Finding, Rule, Severity


class ReadWriteOnceClaimSharedAcrossNodes(Rule):
    """One ReadWriteOnce volume claim mounted by pods that run on several nodes.

    ## Mechanism
    `ReadWriteOnce` means one node: the attach/detach controller attaches
    the volume to the first pod's node and refuses every other node, so a
    second pod that lands elsewhere waits in `ContainerCreating` with
    `Warning FailedAttachVolume ... Multi-Attach error for volume "pvc-..."
    Volume is already used by pod(s) ...`. A distributed training job whose
    ranks all mount one claim for checkpoints or data never starts its
    second node; a Deployment with several replicas serves from one. With
    `ReadWriteOncePod` the scheduler keeps every pod but one `Pending`
    (`node(s) unavailable due to PersistentVolumeClaim with ReadWriteOncePod
    access mode already in-use by another pod`), even on the same node. Only
    `ReadWriteMany` (or `ReadOnlyMany`) volumes attach to several nodes; they
    need file storage (EFS, Filestore, Azure Files, FSx for Lustre, NFS),
    not a cloud disk.

    The rule counts the pods that mount the claim: the replicas of a
    Deployment, StatefulSet or ReplicaSet, a Job's parallelism, the replicas
    of every role of a PyTorchJob (Master and Worker) or JobSet, one pod per
    node for a DaemonSet. Roles that wait for others (`dependsOn`) are counted
    apart. It needs the PersistentVolumeClaim in the input; the access modes
    come from its bound PersistentVolume when that is in the input too. It
    stays silent when the pods are pinned to one node (`nodeName`, a
    `kubernetes.io/hostname` selector, pod affinity on the hostname), and
    for storage that is never attached (NFS volumes, and EFS, FSx for Lustre
    or NFS CSI classes) or that is node-local (local-path, local volumes),
    where Kubernetes does not enforce `ReadWriteOnce` across nodes.
    StatefulSet `volumeClaimTemplates` give each pod its own claim and are
    fine.

    ## Example
    ```yaml
    apiVersion: v1
    kind: PersistentVolumeClaim
    metadata:
      name: checkpoints
    spec:
      accessModes: [ReadWriteOnce]
      storageClassName: gp3
      resources:
        requests:
          storage: 2Ti
    ---
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-pretrain
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  command: ["torchrun", "train.py", "--checkpoint_dir=/ckpt"]
                  resources:
                    limits:
                      nvidia.com/gpu: 8
                  volumeMounts:
                    - name: ckpt
                      mountPath: /ckpt
              volumes:
                - name: ckpt
                  persistentVolumeClaim:
                    claimName: checkpoints
    ```

    ## Use instead
    ```yaml
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
    ---
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-pretrain
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  command: ["torchrun", "train.py", "--checkpoint_dir=/ckpt"]
                  resources:
                    limits:
                      nvidia.com/gpu: 8
                  volumeMounts:
                    - name: ckpt
                      mountPath: /ckpt
              volumes:
                - name: ckpt
                  persistentVolumeClaim:
                    claimName: checkpoints
    ```

    ## References
    - https://kubernetes.io/docs/concepts/storage/persistent-volumes/#access-modes
    - kubernetes/kubernetes pkg/controller/volume/attachdetach/reconciler/reconciler.go
      (isMultiAttachForbidden, reportMultiAttachError)
    - kubernetes/kubernetes pkg/scheduler/framework/plugins/volumerestrictions
      (ReadWriteOncePod conflict)
    - https://www.kubernetes.dev/resources/keps/2485/ (ReadWriteOncePod)
    """

    code = "TRN002"
    name = "read-write-once-claim-shared-across-nodes"
    severity = Severity.ERROR
    mechanism = "checkpoint-storage-patterns"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        uses = claim_uses(resource)
        if not uses:
            return
        together = not any(runs_after_others(resource, t) for t in resource.templates)
        daemon = resource.kind == "DaemonSet" and resource.group == "apps"
        for claim_name, found in uses.items():
            claim = graph.get("PersistentVolumeClaim", resource.namespace, claim_name)
            if claim is None:
                continue
            modes = volume_access_modes(claim, graph)
            if modes is None or MULTI_NODE_MODES.intersection(modes.modes):
                continue
            per_pod = READ_WRITE_ONCE_POD in modes.modes
            if not per_pod and attach_free(claim, modes, graph):
                continue
            templates: list[PodTemplate] = []
            for use in found:
                if not any(use.template is t for t in templates):
                    templates.append(use.template)
            groups = [templates] if together else [[t] for t in templates]
            for group in groups:
                pods = "one pod per node" if daemon else _pods(group)
                if not pods:
                    continue
                if not per_pod and all(single_node(t) for t in group):
                    continue
                source = (
                    f" (PersistentVolume {modes.volume.name!r})"
                    if modes.volume is not None
                    else ""
                )
                if per_pod:
                    effect = "ReadWriteOncePod admits one pod, the others stay Pending"
                else:
                    effect = (
                        "ReadWriteOnce attaches to one node, so pods scheduled on "
                        "another node fail with Multi-Attach error"
                    )
                yield self.finding(
                    resource,
                    f"PersistentVolumeClaim {claim_name!r} has accessModes "
                    f"{modes.shown()}{source} and is mounted by {pods}: {effect}",
                    path=next(u.field for u in found if u.template is group[0]),
                )


def _pods(templates: list[PodTemplate]) -> str:
    """``4 pods (Master 1, Worker 3)``; ``""`` for one pod or an unknown count."""
    counts: list[tuple[str, int]] = []
    for template in templates:
        if template.replicas is None:
            return ""
        counts.append((template.role, template.replicas))
    total = sum(n for _, n in counts)
    if total < 2:
        return ""
    roles = ", ".join(f"{role} {n}" for role, n in counts if role and n)
    return f"{total} pods ({roles})" if roles else f"{total} pods"

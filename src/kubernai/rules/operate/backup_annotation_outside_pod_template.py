"""OPS015 backup-annotation-outside-pod-template."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource, format_path, get_map
from kubernai.model.velero import is_pod_annotation
from kubernai.rules.base import Finding, Rule, Severity

_CONTROLLERS = {
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"),
    ("", "ReplicationController"),
    ("batch", "Job"),
    ("batch", "CronJob"),
}
"""Built-in controllers: their pods get the template's metadata, not theirs."""


class BackupAnnotationOutsidePodTemplate(Rule):
    """A Velero pod annotation is set on the controller instead of its pod template.

    ## Mechanism
    Velero reads the volume annotations
    (`backup.velero.io/backup-volumes`, `backup.velero.io/backup-volumes-excludes`)
    and the hook annotations (`pre.hook.backup.velero.io/command`,
    `post.hook.restore.velero.io/command`...) from each pod it backs up:
    "We only support hooks on pods right now". A Deployment, StatefulSet,
    DaemonSet, Job or CronJob does not copy its own `metadata.annotations`
    to its pods; pods get `spec.template.metadata.annotations`. Set on the
    controller, the annotation does nothing: the checkpoint volume is not
    opted in, the model cache is not opted out, the pre-backup flush never
    runs, and the backup still reports `Completed`.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
      annotations:
        backup.velero.io/backup-volumes-excludes: model-cache
    spec:
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.8.5
              volumeMounts:
                - {name: model-cache, mountPath: /root/.cache/huggingface}
          volumes:
            - name: model-cache
              emptyDir: {}
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
    spec:
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
          annotations:
            backup.velero.io/backup-volumes-excludes: model-cache
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.8.5
              volumeMounts:
                - {name: model-cache, mountPath: /root/.cache/huggingface}
          volumes:
            - name: model-cache
              emptyDir: {}
    ```

    ## References
    - https://velero.io/docs/main/file-system-backup/ ("This annotation can
      also be provided in a pod template spec if you use a controller to
      manage your pods")
    - https://velero.io/docs/main/backup-hooks/
    - vmware-tanzu/velero `internal/hook/item_hook_handler.go` (`HandleHooks`)
    """

    code = "OPS015"
    name = "backup-annotation-outside-pod-template"
    severity = Severity.WARNING
    mechanism = "velero-backup-for-ai-clusters"
    kinds = frozenset(kind for _, kind in _CONTROLLERS)
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if (resource.group, resource.kind) not in _CONTROLLERS:
            return
        templates = resource.templates
        if not templates:
            return
        template = templates[0]
        target = format_path((*template.path[:-1], "metadata", "annotations"))
        places: list[tuple[Path, str]] = [(("metadata",), "the " + resource.kind)]
        if resource.kind == "CronJob":
            places.append((("spec", "jobTemplate", "metadata"), "the jobTemplate"))
        for base, owner in places:
            annotations = get_map(resource.raw, *base, "annotations")
            for key, value in annotations.items():
                if not isinstance(value, str) or not is_pod_annotation(str(key)):
                    continue
                if key in template.annotations:
                    continue
                yield self.finding(
                    resource,
                    f"{key} is set on {owner}'s metadata, not in {target}: "
                    "Velero reads it from pods only, so it has no effect",
                    path=(*base, "annotations", key),
                )

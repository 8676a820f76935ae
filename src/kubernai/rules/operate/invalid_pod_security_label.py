"""OPS030 invalid-pod-security-label."""

from __future__ import annotations

import re
from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.pod_security import LabelError, Level, namespace_policy
from kubernai.model.resource import Resource
from kubernai.model.workload import memoised
from kubernai.rules.base import Finding, Rule, Severity

_LOOSE_VERSION = re.compile(r"[vV]?1\.(0|[1-9][0-9]*)(\.[0-9]+)?")


def _hint(error: LabelError) -> str:
    """A likely intended value, when the written one is a near miss."""
    value = error.value.strip()
    if error.key.endswith("-version"):
        match = _LOOSE_VERSION.fullmatch(value)
        if match:
            return f'; write "v1.{match.group(1)}"'
        if value.lower() == "latest":
            return '; write "latest"'
        return ""
    if value.lower() in {level.value for level in Level}:
        return f'; levels are lower-case: "{value.lower()}"'
    return ""


class InvalidPodSecurityLabel(Rule):
    """Namespace Pod Security label with a level or version admission refuses.

    ## Mechanism
    Pod Security Admission reads six Namespace labels:
    `pod-security.kubernetes.io/enforce`, `audit` and `warn` take a level
    (`privileged`, `baseline` or `restricted`, lower-case), and their
    `-version` companions take `latest` or `v1.<minor>` (`v1.29`, not `1.29`,
    `v1.29.3` or `V1.29`). The admission plugin validates these labels on every
    Namespace create, and on updates that change them, and refuses a bad
    value, so `kubectl apply` fails with `The Namespace "ml" is invalid:
    metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value:
    "Restricted": must be one of privileged, baseline, restricted` (for
    versions: `must be "latest" or "v1.x"`), and every object that was
    meant to live in the namespace fails with `namespaces "ml" not found`.
    Where such a label already exists (set before the plugin ran), admission
    fails closed for `enforce` (an unknown level enforces `restricted`, an
    unknown version `latest`) and open for `audit` and `warn` (they become
    `privileged`).

    ## Example
    ```yaml
    apiVersion: v1
    kind: Namespace
    metadata:
      name: gpu-inference
      labels:
        pod-security.kubernetes.io/enforce: Baseline
        pod-security.kubernetes.io/enforce-version: "1.30"
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Namespace
    metadata:
      name: gpu-inference
      labels:
        pod-security.kubernetes.io/enforce: baseline
        pod-security.kubernetes.io/enforce-version: v1.30
    ```

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-admission/#pod-security-admission-labels-for-namespaces
    - kubernetes/pod-security-admission api/helpers.go (ParseLevel,
      ParseVersion, PolicyToEvaluate)
    - kubernetes/pod-security-admission admission/admission.go (ValidateNamespace)
    """

    code = "OPS030"
    name = "invalid-pod-security-label"
    severity = Severity.ERROR
    mechanism = "pod-security-admission-for-gpu-workloads"
    kinds = frozenset({"Namespace"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.kind != "Namespace":
            return
        labels = resource.labels
        policy = memoised(
            resource, "pod-security-policy", lambda: namespace_policy(labels)
        )
        for error in policy.errors:
            what = "version" if error.key.endswith("-version") else "level"
            value = labels.get(error.key)
            if value is not None and not isinstance(value, str):
                kind = "boolean" if isinstance(value, bool) else type(value).__name__
                yield self.finding(
                    resource,
                    f"{error.key} is the YAML {kind} {error.value}, not a string: "
                    "label values must be strings, so the API server cannot decode "
                    "the Namespace; quote the value (levels: privileged, baseline, "
                    'restricted; versions: "latest" or "v1.<minor>")',
                    path=("metadata", "labels", error.key),
                )
                continue
            yield self.finding(
                resource,
                f'{error.key}="{error.value}" is not a Pod Security {what}, so the '
                f'API server rejects the Namespace: Namespace "{resource.name}" is '
                f"invalid: {error.message}{_hint(error)}",
                path=("metadata", "labels", error.key),
            )

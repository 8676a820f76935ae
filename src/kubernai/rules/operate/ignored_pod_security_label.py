"""OPS031 ignored-pod-security-label."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.pod_security import LABEL_KEYS, LABEL_PREFIX, MODES
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity

_KEYS = sorted(LABEL_KEYS)
_NAMES = frozenset(key[len(LABEL_PREFIX) :] for key in LABEL_KEYS)
_DOMAIN = LABEL_PREFIX.rstrip("/")


def _closest(key: str) -> str:
    found = difflib.get_close_matches(key, _KEYS, n=1, cutoff=0.75)
    return found[0] if found else ""


def _misspelled_prefix(key: str) -> str:
    """The intended Pod Security key when only the domain part is misspelled."""
    domain, slash, name = key.rpartition("/")
    if not slash or domain == _DOMAIN or name not in _NAMES:
        return ""
    similar = difflib.SequenceMatcher(None, domain, _DOMAIN).ratio() >= 0.8
    return LABEL_PREFIX + name if similar else ""


class IgnoredPodSecurityLabel(Rule):
    """Namespace Pod Security setting that admission never reads.

    ## Mechanism
    Pod Security Admission reads exactly six Namespace *labels*:
    `pod-security.kubernetes.io/enforce`, `audit`, `warn`, and the same three
    with `-version`. It does not validate other keys, so a misspelled key
    (`pod-security.kubernetes.io/enforcement`, `.../enforce_version`,
    `pod-security.k8s.io/enforce`) or a setting written under
    `metadata.annotations` instead of `metadata.labels` is accepted and
    silently does nothing: the namespace keeps the cluster default, which is
    `privileged` unless the API server's AdmissionConfiguration says
    otherwise. A namespace meant to be `restricted` then admits privileged
    and hostPath pods, and one meant to be `privileged` for the GPU Operator
    or the device plugin gets whatever the cluster default is.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Namespace
    metadata:
      name: llm-serving
      annotations:
        pod-security.kubernetes.io/enforce: restricted
      labels:
        pod-security.kubernetes.io/enforce-level: restricted
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Namespace
    metadata:
      name: llm-serving
      labels:
        pod-security.kubernetes.io/enforce: restricted
        pod-security.kubernetes.io/enforce-version: latest
    ```

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-admission/#pod-security-admission-labels-for-namespaces
    - kubernetes/pod-security-admission api/constants.go (the six label keys)
    - kubernetes/pod-security-admission api/helpers.go (PolicyToEvaluate
      reads only them)
    """

    code = "OPS031"
    name = "ignored-pod-security-label"
    severity = Severity.WARNING
    mechanism = "pod-security-admission-for-gpu-workloads"
    kinds = frozenset({"Namespace"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.kind != "Namespace":
            return
        labels = resource.labels
        for key in labels:
            if not isinstance(key, str) or key in LABEL_KEYS:
                continue
            if key.startswith(LABEL_PREFIX):
                intended = _closest(key)
                shown = f" (did you mean {intended}?)" if intended else ""
                if key == f"{LABEL_PREFIX}exempt":
                    shown = (
                        " (exemptions exist only in the API server's "
                        "AdmissionConfiguration)"
                    )
                yield self.finding(
                    resource,
                    f"label {key} is not a Pod Security label{shown}: admission "
                    "reads only pod-security.kubernetes.io/{"
                    + ",".join(MODES)
                    + "} and their -version labels, so this one is ignored",
                    path=("metadata", "labels", key),
                )
                continue
            intended = _misspelled_prefix(key)
            if intended and intended not in labels:
                yield self.finding(
                    resource,
                    f"label {key} looks like {intended} with a misspelled prefix: "
                    "Pod Security Admission ignores it",
                    path=("metadata", "labels", key),
                )
        for key in resource.annotations:
            if key in LABEL_KEYS and key not in labels:
                yield self.finding(
                    resource,
                    f"{key} is set as an annotation: Pod Security Admission reads "
                    "only labels, so the namespace keeps the cluster default level",
                    path=("metadata", "annotations", key),
                )

"""CLU056 kubelet-graceful-shutdown-disabled."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import Any

from kubernai.model.features import KUBELET_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.kubelet_config import (
    gpu_node_hint,
    kubelet_configs,
    parse_duration,
)
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class KubeletGracefulShutdownDisabled(Rule):
    """GPU-node kubelet configuration with graceful node shutdown off.

    ## Mechanism
    With `shutdownGracePeriod` set, the kubelet holds a systemd inhibitor
    lock when the node shuts down (a spot or preemptible VM being reclaimed,
    a maintenance reboot) and terminates pods first: regular pods get
    `shutdownGracePeriod` minus `shutdownGracePeriodCriticalPods`, then
    critical pods the rest, and pods end with `Pod was terminated in response
    to imminent node shutdown.`. Both fields default to 0, which turns the
    feature off: the kubelet does not stop pods before the node goes down, so
    no preStop hook runs and `terminationGracePeriodSeconds` is not honoured
    (whatever signal the processes get comes from the OS shutting down), a
    training job has no time to save a checkpoint, and the API shows the
    pods `Running` until the node is marked `NotReady` and its pods are
    evicted, minutes later. A critical-pods share equal to the whole
    period also leaves regular pods 0 s; a larger one is refused at start
    (`shutdownGracePeriodCriticalPods ... must be <= shutdownGracePeriod`).

    Whether a KubeletConfiguration is for GPU nodes is read from a
    `registerWithTaints` entry for an accelerator (or the configured GPU
    taint), or from a ConfigMap named or labelled with `gpu`; the missing
    field is reported only then. Configurations using
    `shutdownGracePeriodByPodPriority` are not reported.

    ## Example
    ```yaml
    apiVersion: kubelet.config.k8s.io/v1beta1
    kind: KubeletConfiguration
    registerWithTaints:
      - key: nvidia.com/gpu
        value: present
        effect: NoSchedule
    ```

    ## Use instead
    ```yaml
    apiVersion: kubelet.config.k8s.io/v1beta1
    kind: KubeletConfiguration
    registerWithTaints:
      - key: nvidia.com/gpu
        value: present
        effect: NoSchedule
    shutdownGracePeriod: 300s
    shutdownGracePeriodCriticalPods: 60s
    ```

    ## References
    - https://kubernetes.io/docs/concepts/cluster-administration/node-shutdown/#graceful-node-shutdown
    - https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/
    - kubernetes/kubernetes pkg/kubelet/apis/config/validation/validation.go
    """

    code = "CLU056"
    name = "kubelet-graceful-shutdown-disabled"
    severity = Severity.WARNING
    mechanism = "eviction-and-gpu-workloads"
    kinds = frozenset({"KubeletConfiguration", "ConfigMap"})
    requires = frozenset({KUBELET_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for config in kubelet_configs(resource):
            raw = config.raw
            by_priority = raw.get("shutdownGracePeriodByPodPriority")
            if isinstance(by_priority, list) and by_priority:
                continue
            period = _duration(raw.get("shutdownGracePeriod"))
            critical = _duration(raw.get("shutdownGracePeriodCriticalPods"))
            if period is None or critical is None:
                continue  # not a duration: the kubelet refuses it anyway
            field = config.where("shutdownGracePeriod")
            if period > 0:
                if critical < period:
                    continue
                shown = raw.get("shutdownGracePeriodCriticalPods")
                outcome = (
                    "the kubelet refuses the configuration (must be <= "
                    "shutdownGracePeriod)"
                    if critical > period
                    else "regular pods get 0 s when the node shuts down"
                )
                yield self.finding(
                    resource,
                    f"{field} is {raw.get('shutdownGracePeriod')} and "
                    f"shutdownGracePeriodCriticalPods is {shown}: {outcome}",
                    path=config.field_path("shutdownGracePeriodCriticalPods"),
                )
                continue
            hint = gpu_node_hint(config, resource, graph.facts.gpu_taint.key)
            if not hint:
                continue
            shown = "unset" if raw.get("shutdownGracePeriod") is None else "0"
            yield self.finding(
                resource,
                f"{field} is {shown} on a GPU node configuration ({hint}): "
                "graceful node shutdown is off, so pods get no termination grace "
                "when the node shuts down",
                path=config.field_path("shutdownGracePeriod"),
            )


def _duration(value: Any) -> Fraction | None:
    if value is None:
        return Fraction(0)
    return parse_duration(value)

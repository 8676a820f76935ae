"""CLU051 prestop-outlasts-grace-period."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from kubernai.model.eviction import (
    PRESTOP_EXTENSION_SECONDS,
    prestop_sleep,
    termination_grace,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_str
from kubernai.rules.base import Finding, Rule, Severity

# Knative (and KServe in serverless mode) set the pod's grace period from the
# revision timeout, so a template without one does not get the default 30 s.
_GRACE_SET_BY_PLATFORM = frozenset({"serving.knative.dev", "serving.kserve.io"})


class PrestopOutlastsGracePeriod(Rule):
    """preStop hook that sleeps as long as the grace period, or longer.

    ## Mechanism
    `terminationGracePeriodSeconds` (30 s by default) covers the preStop hook
    and the shutdown that follows it. The kubelet runs the hook, waits for it
    at most the grace period, then sends SIGTERM with whatever time is left,
    never less than a one-off 2 s; SIGKILL follows. A hook that sleeps the
    whole grace period (a common way to wait for load balancers to drop the
    pod) leaves the server 2 s to finish in-flight requests or to save a
    checkpoint, so they are cut off. The built-in `sleep` action is
    validated: a `seconds` above the grace period is rejected by the API
    server with `must be greater than 0 and less than
    terminationGracePeriodSeconds (30)` (`must be non-negative and less
    than ...` where zero sleeps are allowed), so the pod, or every pod of
    the workload, is never created. Make the grace period the sleep plus the
    time the server needs to drain.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
    spec:
      replicas: 2
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.6.3
              lifecycle:
                preStop:
                  exec:
                    command: ["/bin/sh", "-c", "sleep 30"]
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
    spec:
      replicas: 2
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          terminationGracePeriodSeconds: 130
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.6.3
              lifecycle:
                preStop:
                  sleep:
                    seconds: 30
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## References
    - https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination
    - https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/
    - kubernetes/kubernetes pkg/kubelet/kuberuntime/kuberuntime_container.go
      (killContainer, minimumGracePeriodInSeconds)
    - kubernetes/kubernetes pkg/apis/core/validation/validation.go (validateSleepAction)
    """

    code = "CLU051"
    name = "prestop-outlasts-grace-period"
    severity = Severity.ERROR
    mechanism = "eviction-and-gpu-workloads"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            hooks = []
            for container in template.containers:
                if (
                    container.init
                    and get_str(container.raw, "restartPolicy") != "Always"
                ):
                    continue  # a plain init container has exited before termination
                hook = prestop_sleep(container)
                if hook is not None:
                    hooks.append((container, hook))
            if not hooks:
                continue
            grace = termination_grace(template)
            if grace is None or grace.seconds <= 0:
                continue
            if not grace.explicit and (
                not template.complete or resource.group in _GRACE_SET_BY_PLATFORM
            ):
                continue  # the grace period comes from elsewhere
            for container, hook in hooks:
                seconds = hook.seconds
                if seconds is not None and seconds < grace.seconds:
                    continue
                if (
                    hook.action == "sleep"
                    and seconds is not None
                    and seconds > grace.seconds
                ):
                    outcome = (
                        "the API server rejects a sleep longer than "
                        f"terminationGracePeriodSeconds ({grace.seconds}), so the pod "
                        "is never created"
                    )
                else:
                    outcome = (
                        f"the hook is still running when the grace period ends, and "
                        f"the container gets SIGTERM with only the "
                        f"{PRESTOP_EXTENSION_SECONDS} s extension before SIGKILL"
                    )
                yield self.finding(
                    resource,
                    f"{container.label} preStop sleeps {_seconds(seconds)} "
                    f"({hook.shown}) but the pod has {grace.describe()}: {outcome}",
                    path=hook.path,
                )


def _seconds(value: Fraction | None) -> str:
    if value is None:
        return "forever"
    if value.denominator == 1:
        return f"{value.numerator} s"
    return f"{float(value):g} s"

"""Kubelet and container runtime failure messages about devices, parsed.

- Kubelet admission: a pod the kubelet refuses is set Failed with
  ``status.reason`` = the event reason and ``status.message`` = ``Pod was
  rejected: <message>`` (kubernetes ``pkg/kubelet/kubelet.go``, ``rejectPod``).
  Reason ``UnexpectedAdmissionError``, message ``Allocate failed due to <err>,
  which is unexpected`` (``pkg/kubelet/cm/topologymanager``,
  ``pkg/kubelet/cm/admission``), where ``<err>`` comes from the device manager
  (``pkg/kubelet/cm/devicemanager/manager.go``): ``requested number of devices
  unavailable for <resource>. Requested: <n>, Available: <m>``, ``no healthy
  devices present; cannot allocate unhealthy devices <resource>``, ``previously
  allocated devices are no longer healthy; cannot allocate unhealthy devices
  <resource>``, ``cannot allocate unregistered device <resource>``, or from the
  device plugin's ``Allocate`` call as ``rpc error: code = <code> desc = <text>``
  (NVIDIA/k8s-device-plugin: ``request for '<resource>: <n>' too large: maximum
  request size for shared resources is 1``). Reason ``TopologyAffinityError``,
  message ``Resources cannot be allocated with Topology locality``.
- Container runtime: a missing runtime handler at sandbox creation
  (``FailedCreatePodSandBox``, ``Failed to create pod sandbox: rpc error: ...``)
  in containerd's ``no runtime for "<handler>" is configured``, dockershim's
  ``RuntimeHandler "<handler>" not supported`` and CRI-O's ``failed to find
  runtime handler <handler> from runtime list``; and the NVIDIA container CLI's
  ``nvidia-container-cli: <stage> error: <detail>`` inside an ``OCI runtime
  create failed`` error, reported as event reason ``Failed`` and in the
  container's state (NVIDIA/libnvidia-container ``src/error.c``; seen in
  NVIDIA/gpu-operator and NVIDIA/nvidia-container-toolkit issues, also as
  ``nvidia-container-cli.real``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# -- kubelet admission: device allocation --------------------------------------


class AdmissionProblem(StrEnum):
    """Why the kubelet's device manager refused a pod's devices."""

    DEVICES_UNAVAILABLE = "devices-unavailable"
    NO_HEALTHY_DEVICES = "no-healthy-devices"
    DEVICES_NO_LONGER_HEALTHY = "devices-no-longer-healthy"
    UNREGISTERED = "unregistered"
    PLUGIN_REJECTED = "plugin-rejected"
    TOPOLOGY = "topology"


@dataclass(frozen=True, slots=True)
class AdmissionFailure:
    """A parsed kubelet admission failure about devices."""

    problem: AdmissionProblem
    resource: str
    """The device resource named in the message, or ``""``."""
    requested: int | None = None
    available: int | None = None
    detail: str = ""
    """The device plugin's own text, for ``PLUGIN_REJECTED``."""


UNEXPECTED_ADMISSION = "UnexpectedAdmissionError"
TOPOLOGY_AFFINITY = "TopologyAffinityError"
_REJECTED_PREFIX = "Pod was rejected: "
_UNAVAILABLE = re.compile(
    r"requested number of devices unavailable for (\S+?)\.?\s+"
    r"Requested:\s*(\d+),\s*Available:\s*(\d+)"
)
_DEVICE_ERRORS: tuple[tuple[re.Pattern[str], AdmissionProblem], ...] = (
    (
        re.compile(r"no healthy devices present; cannot allocate unhealthy devices "),
        AdmissionProblem.NO_HEALTHY_DEVICES,
    ),
    (
        re.compile(
            r"previously allocated devices are no longer healthy; "
            r"cannot allocate unhealthy devices "
        ),
        AdmissionProblem.DEVICES_NO_LONGER_HEALTHY,
    ),
    (
        re.compile(r"cannot allocate unregistered device "),
        AdmissionProblem.UNREGISTERED,
    ),
)
_RESOURCE_WORD = re.compile(r"[^\s,]+")
_RPC = re.compile(r"rpc error: code = \w+ desc = (.*)", re.S)
_PLUGIN_RESOURCE = re.compile(
    r"request for '([^':]+):\s*(\d+)'|allocation request for '([^']+)'"
)
_UNEXPECTED_TAIL = re.compile(r",\s*which is unexpected\.?\s*$")
_TOPOLOGY_TEXT = "Resources cannot be allocated with Topology locality"


def parse_admission_failure(reason: str, message: str) -> AdmissionFailure | None:
    """The device problem behind a kubelet admission failure, if it is one.

    ``message`` is the event message or the pod's ``status.message`` (with its
    ``Pod was rejected:`` prefix). Failures of the CPU and memory managers and
    other unexpected errors answer ``None``.
    """
    if not isinstance(message, str):
        return None
    text = message.strip()
    if text.startswith(_REJECTED_PREFIX):
        text = text[len(_REJECTED_PREFIX) :].strip()
    if reason == TOPOLOGY_AFFINITY or text.startswith(_TOPOLOGY_TEXT):
        return AdmissionFailure(AdmissionProblem.TOPOLOGY, "")
    if reason != UNEXPECTED_ADMISSION:
        return None
    unavailable = _UNAVAILABLE.search(text)
    if unavailable is not None:
        return AdmissionFailure(
            AdmissionProblem.DEVICES_UNAVAILABLE,
            unavailable[1],
            requested=int(unavailable[2]),
            available=int(unavailable[3]),
        )
    for pattern, problem in _DEVICE_ERRORS:
        found = pattern.search(text)
        if found is not None:
            word = _RESOURCE_WORD.match(text, found.end())
            return AdmissionFailure(problem, word[0] if word else "")
    rpc = _RPC.search(text)
    if rpc is not None and "Allocate failed" in text:
        detail = _UNEXPECTED_TAIL.sub("", rpc[1]).strip()
        named = _PLUGIN_RESOURCE.search(detail)
        resource = (named[1] or named[3] or "") if named else ""
        requested = int(named[2]) if named and named[2] else None
        return AdmissionFailure(
            AdmissionProblem.PLUGIN_REJECTED,
            resource.strip(),
            requested=requested,
            detail=detail,
        )
    return None


# -- container runtime: handler and NVIDIA container CLI -----------------------


class RuntimeProblem(StrEnum):
    """What the container runtime could not do."""

    HANDLER_MISSING = "handler-missing"
    CONTAINER_CLI = "nvidia-container-cli"


@dataclass(frozen=True, slots=True)
class RuntimeFailure:
    """A parsed container runtime failure."""

    problem: RuntimeProblem
    handler: str = ""
    """The missing runtime handler (``nvidia``)."""
    stage: str = ""
    """The NVIDIA container CLI's stage: ``initialization``, ``mount``..."""
    detail: str = ""
    """What the CLI said after ``<stage> error:``, trimmed."""


FAILED_SANDBOX = "FailedCreatePodSandBox"
_HANDLER = (
    re.compile(r"no runtime for \"([^\"]+)\" is configured"),
    re.compile(r"RuntimeHandler \"([^\"]+)\" not supported"),
    re.compile(r"failed to find runtime handler (\S+) from runtime list"),
)
_CONTAINER_CLI = re.compile(
    r"nvidia-container-cli(?:\.real)?: ([a-z]+(?: [a-z]+)?) error: (.*)", re.S
)
_DETAIL_END = re.compile(r"\\n|\n|\\\"|\"|\\\\")
_UNKNOWN_TAIL = re.compile(r"(?::\s*unknown)+\.?\s*$")


def parse_runtime_failure(message: str) -> RuntimeFailure | None:
    """A missing runtime handler or an NVIDIA container CLI error in ``message``."""
    if not isinstance(message, str) or not message:
        return None
    for pattern in _HANDLER:
        found = pattern.search(message)
        if found is not None:
            return RuntimeFailure(RuntimeProblem.HANDLER_MISSING, handler=found[1])
    cli = _CONTAINER_CLI.search(message)
    if cli is None:
        return None
    detail = cli[2]
    end = _DETAIL_END.search(detail)
    if end is not None:
        detail = detail[: end.start()]
    detail = _UNKNOWN_TAIL.sub("", detail.strip()).strip().rstrip(".")
    return RuntimeFailure(RuntimeProblem.CONTAINER_CLI, stage=cli[1], detail=detail)


_CLI_HINTS: tuple[tuple[str, str], ...] = (
    ("driver/library version mismatch", "the loaded kernel module and the user-space "
     "driver libraries differ (a driver upgraded without reloading the module or "
     "rebooting)"),
    ("driver not loaded", "no NVIDIA kernel module is loaded on the node"),
    ("libnvidia-ml.so", "the driver's libraries are not installed where the toolkit "
     "looks (no driver, or a driver container not ready)"),
    ("unsatisfied condition: cuda", "the image requires a newer CUDA driver than the "
     "node has"),
    ("unknown device", "the container asked for a GPU the node does not have"),
    ("rpc error", "the driver did not answer (a hung or failing GPU)"),
)  # fmt: skip


def container_cli_hint(detail: str) -> str:
    """What an NVIDIA container CLI error usually means, or ``""``."""
    lowered = detail.lower()
    for needle, hint in _CLI_HINTS:
        if needle in lowered:
            return hint
    return ""

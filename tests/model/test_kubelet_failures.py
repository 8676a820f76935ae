import pytest

from kubernai.model.kubelet_failures import (
    AdmissionProblem,
    RuntimeProblem,
    container_cli_hint,
    parse_admission_failure,
    parse_runtime_failure,
)

UAE = "UnexpectedAdmissionError"


@pytest.mark.parametrize(
    ("reason", "message", "problem", "resource", "requested", "available"),
    [
        pytest.param(
            UAE,
            "Allocate failed due to requested number of devices unavailable for nvidia.com/gpu. Requested: 1, Available: 0, which is unexpected",
            AdmissionProblem.DEVICES_UNAVAILABLE, "nvidia.com/gpu", 1, 0,
            id="devices unavailable (event)",
        ),
        pytest.param(
            UAE,
            "Pod was rejected: Allocate failed due to requested number of devices unavailable for nvidia.com/mig-1g.10gb. Requested: 2, Available: 1, which is unexpected",
            AdmissionProblem.DEVICES_UNAVAILABLE, "nvidia.com/mig-1g.10gb", 2, 1,
            id="devices unavailable (pod status, MIG)",
        ),
        pytest.param(
            UAE,
            "Allocate failed due to no healthy devices present; cannot allocate unhealthy devices nvidia.com/gpu, which is unexpected",
            AdmissionProblem.NO_HEALTHY_DEVICES, "nvidia.com/gpu", None, None,
            id="no healthy devices",
        ),
        pytest.param(
            UAE,
            "Allocate failed due to previously allocated devices are no longer healthy; cannot allocate unhealthy devices nvidia.com/gpu, which is unexpected",
            AdmissionProblem.DEVICES_NO_LONGER_HEALTHY, "nvidia.com/gpu", None, None,
            id="no longer healthy",
        ),
        pytest.param(
            UAE,
            "Allocate failed due to cannot allocate unregistered device nvidia.com/gpu, which is unexpected",
            AdmissionProblem.UNREGISTERED, "nvidia.com/gpu", None, None,
            id="unregistered",
        ),
        pytest.param(
            UAE,
            "Allocate failed due to rpc error: code = Unknown desc = request for 'nvidia.com/gpu: 2' too large: maximum request size for shared resources is 1, which is unexpected",
            AdmissionProblem.PLUGIN_REJECTED, "nvidia.com/gpu", 2, None,
            id="time-slicing plugin refusal",
        ),
        pytest.param(
            UAE,
            "Allocate failed due to rpc error: code = Unknown desc = invalid allocation request for 'nvidia.com/gpu': unknown device: GPU-1234, which is unexpected",
            AdmissionProblem.PLUGIN_REJECTED, "nvidia.com/gpu", None, None,
            id="plugin unknown device",
        ),
        pytest.param(
            "TopologyAffinityError",
            "Resources cannot be allocated with Topology locality",
            AdmissionProblem.TOPOLOGY, "", None, None,
            id="topology manager",
        ),
    ],
)  # fmt: skip
def test_admission_failures(reason, message, problem, resource, requested, available):
    failure = parse_admission_failure(reason, message)
    assert failure is not None
    assert failure.problem == problem
    assert failure.resource == resource
    assert failure.requested == requested
    assert failure.available == available


def test_plugin_detail_is_kept_without_the_tail():
    failure = parse_admission_failure(
        UAE,
        "Allocate failed due to rpc error: code = Unknown desc = request for "
        "'nvidia.com/gpu: 2' too large: maximum request size for shared resources "
        "is 1, which is unexpected",
    )
    assert failure is not None
    assert failure.detail == (
        "request for 'nvidia.com/gpu: 2' too large: maximum request size for "
        "shared resources is 1"
    )


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        (
            UAE,
            "Allocate failed due to not enough cpus available to satisfy request, which is unexpected",
        ),
        (UAE, "Update plugin resources failed due to boom, which is unexpected."),
        (
            "OutOfcpu",
            "Node didn't have enough resource: cpu, requested: 1, used: 2, capacity: 2",
        ),
        (UAE, None),
        (UAE, ""),
    ],
)
def test_not_device_failures(reason, message):
    assert parse_admission_failure(reason, message) is None


@pytest.mark.parametrize(
    ("message", "handler"),
    [
        (
            'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to get sandbox runtime: no runtime for "nvidia" is configured',
            "nvidia",
        ),
        (
            'Failed to create pod sandbox: rpc error: code = Unknown desc = unable to get OCI runtime for sandbox "18073b": no runtime for "nvidia" is configured',
            "nvidia",
        ),
        (
            'Failed create pod sandbox: rpc error: code = Unknown desc = RuntimeHandler "nvidia" not supported',
            "nvidia",
        ),
        (
            "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to find runtime handler nvidia from runtime list map[crun:0xc00047e300 runc:0xc00047ef00]",
            "nvidia",
        ),
    ],
)
def test_missing_runtime_handler(message, handler):
    failure = parse_runtime_failure(message)
    assert failure is not None
    assert failure.problem == RuntimeProblem.HANDLER_MISSING
    assert failure.handler == handler


@pytest.mark.parametrize(
    ("message", "stage", "detail"),
    [
        (
            "Error: failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error running hook #0: error running hook: exit status 1, stdout: , stderr: Auto-detected mode as 'legacy'\nnvidia-container-cli: initialization error: nvml error: driver not loaded: unknown",
            "initialization",
            "nvml error: driver not loaded",
        ),
        (
            "Error: failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error running hook #0: error running hook: exit status 1, stdout: , stderr: nvidia-container-cli.real: initialization error: driver error: failed to process request: unknown",
            "initialization",
            "driver error: failed to process request",
        ),
        (
            "Error: failed to start container \"binpack-2\": Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error running hook #0: error running hook: exit status 1, stdout: , stderr: Auto-detected mode as 'legacy' nvidia-container-cli: device error: no-gpu-has-128MiB-to-run: unknown device: unknown",
            "device",
            "no-gpu-has-128MiB-to-run: unknown device",
        ),
        (
            'stderr: exec command: [/usr/bin/nvidia-container-cli --load-kmods configure]\\\\nnvidia-container-cli: ldcache error: process /sbin/ldconfig failed with error code: 127\\\\n\\""": unknown',
            "ldcache",
            "process /sbin/ldconfig failed with error code: 127",
        ),
        (
            "OCI runtime create failed: nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.4, please update your driver to a newer version, or use an earlier cuda container: unknown",
            "requirement",
            "unsatisfied condition: cuda>=12.4, please update your driver to a newer version, or use an earlier cuda container",
        ),
    ],
)
def test_container_cli_errors(message, stage, detail):
    failure = parse_runtime_failure(message)
    assert failure is not None
    assert failure.problem == RuntimeProblem.CONTAINER_CLI
    assert (failure.stage, failure.detail) == (stage, detail)


@pytest.mark.parametrize(
    "message",
    [
        'Failed to pull image "nvcr.io/nvidia/pytorch:24.13-py3": not found',
        "Back-off restarting failed container",
        "",
        None,
        7,
    ],
)
def test_not_runtime_failures(message):
    assert parse_runtime_failure(message) is None


@pytest.mark.parametrize(
    ("detail", "fragment"),
    [
        ("nvml error: driver not loaded", "no NVIDIA kernel module"),
        (
            "nvml error: driver/library version mismatch",
            "kernel module and the user-space",
        ),
        (
            "load library failed: libnvidia-ml.so.1: cannot open shared object file",
            "libraries",
        ),
        ("unsatisfied condition: cuda>=12.4", "newer CUDA driver"),
        ("something else", ""),
    ],
)
def test_container_cli_hint(detail, fragment):
    hint = container_cli_hint(detail)
    assert fragment in hint
    assert bool(hint) == bool(fragment)

"""The baseline Pod Security Standard: a port of the baseline checks.

``kubernetes/pod-security-admission`` ``policy/check_*.go`` at 8f84a87: the
checks of level ``baseline`` with the first policy version of each revision,
and the exact ``reason`` and ``detail`` texts admission prints. Also applied:
the API server's ``defaultHostNetworkPorts``, which gives every container port
of a ``hostNetwork`` pod ``hostPort = containerPort`` before admission runs.
"""

from __future__ import annotations

from typing import Any

from kubernai.model.pod_security_view import (
    PROFILE_TYPES,
    Check,
    PodView,
    Violation,
    added_capabilities,
    containers_text,
    first_path,
    go_quote,
    join_quote,
    plural,
    present,
    proc_mount,
    profile_type,
    seccomp_profile,
    value_set,
    value_set_at,
)
from kubernai.model.resource import Path, Raw, get_map, get_path, get_str, iter_maps


def _privileged(pod: PodView) -> Violation | None:
    bad = [c for c in pod.containers if get_path(c.security, "privileged") is True]
    if not bad:
        return None
    return Violation(
        "privileged",
        "privileged",
        f"{containers_text([c.name for c in bad])} must not set "
        "securityContext.privileged=true",
        (*bad[0].path, "securityContext", "privileged"),
    )


def _host_namespaces(pod: PodView) -> Violation | None:
    found = [
        k for k in ("hostNetwork", "hostPID", "hostIPC") if pod.spec.get(k) is True
    ]
    if not found:
        return None
    return Violation(
        "hostNamespaces",
        "host namespaces",
        ", ".join(f"{k}=true" for k in found),
        (found[0],),
    )


def _host_path_volumes(pod: PodView) -> Violation | None:
    bad = [(i, v) for i, v in iter_maps(pod.spec, "volumes") if present(v, "hostPath")]
    if not bad:
        return None
    names = [get_str(v, "name") for _, v in bad]
    return Violation(
        "hostPathVolumes",
        "hostPath volumes",
        f"{plural('volume', 'volumes', len(names))} {join_quote(names)}",
        ("volumes", bad[0][0], "hostPath"),
    )


def _port_number(value: Any) -> int:
    return value if type(value) is int else 0


def _host_ports(pod: PodView) -> Violation | None:
    host_network = pod.spec.get("hostNetwork") is True
    bad: list[str] = []
    ports: set[str] = set()
    paths: list[Path] = []
    for container in pod.containers:
        valid = True
        for index, port in iter_maps(container.raw, "ports"):
            host_port = _port_number(port.get("hostPort"))
            field = "hostPort"
            if host_port == 0 and host_network and not container.ephemeral:
                host_port = _port_number(port.get("containerPort"))
                field = "containerPort"  # defaultHostNetworkPorts copies it over
            if host_port != 0:
                valid = False
                ports.add(str(host_port))
                paths.append((*container.path, "ports", index, field))
        if not valid:
            bad.append(container.name)
    if not bad:
        return None
    return Violation(
        "hostPorts",
        "hostPort",
        f"{containers_text(bad)} {plural('uses', 'use', len(bad))} "
        f"{plural('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}",
        first_path(paths),
    )


def _capabilities_baseline(pod: PodView) -> Violation | None:
    bad: list[str] = []
    caps: set[str] = set()
    paths: list[Path] = []
    for container in pod.containers:
        allowed = value_set("default_capabilities")
        extra = [(i, c) for i, c in added_capabilities(container) if c not in allowed]
        if extra:
            bad.append(container.name)
            caps.update(c for _, c in extra)
            paths.append(
                (*container.path, "securityContext", "capabilities", "add", extra[0][0])
            )
    if not bad:
        return None
    return Violation(
        "capabilities_baseline",
        "non-default capabilities",
        f"{containers_text(bad)} must not include {join_quote(sorted(caps))} in "
        "securityContext.capabilities.add",
        first_path(paths),
    )


_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def _app_armor(pod: PodView) -> Violation | None:
    setters: list[str] = []
    values: set[str] = set()
    paths: list[Path] = []
    kind = profile_type(pod.security, "appArmorProfile")
    if kind is not None and kind not in PROFILE_TYPES:
        setters.append("pod")
        values.add(kind)
        paths.append(("securityContext", "appArmorProfile", "type"))
    bad: list[str] = []
    for container in pod.containers:
        kind = profile_type(container.security, "appArmorProfile")
        if kind is not None and kind not in PROFILE_TYPES:
            bad.append(container.name)
            values.add(kind)
            paths.append((*container.path, "securityContext", "appArmorProfile"))
    if bad:
        setters.append(containers_text(bad))
    annotations = sorted(
        f"{key}={go_quote(value)}"
        for key, value in pod.annotations.items()
        if isinstance(key, str)
        and isinstance(value, str)
        and key.startswith(_APPARMOR_ANNOTATION)
        and not (
            not value or value == "runtime/default" or value.startswith("localhost/")
        )
    )
    listed = sorted(values)
    if annotations:
        listed += annotations
        setters.append(plural("annotation", "annotations", len(annotations)))
    if not setters:
        return None
    return Violation(
        "appArmorProfile",
        plural(
            "forbidden AppArmor profile", "forbidden AppArmor profiles", len(listed)
        ),
        f"{' and '.join(setters)} must not set AppArmor profile type to "
        f"{join_quote(listed)}",
        first_path(paths),
    )


def _se_linux(pod: PodView) -> Violation | None:
    allowed = value_set_at("selinux_types", pod.minor)
    bad_types: set[str] = set()
    flags = {"user": False, "role": False}

    def valid(security: Raw) -> bool:
        options = get_map(security, "seLinuxOptions")
        ok = True
        kind = get_str(options, "type")
        if kind not in allowed:
            ok = False
            bad_types.add(kind)
        for field in ("user", "role"):
            if get_str(options, field):
                ok = False
                flags[field] = True
        return ok

    setters: list[str] = []
    paths: list[Path] = []
    if present(pod.security, "seLinuxOptions") and not valid(pod.security):
        setters.append("pod")
        paths.append(("securityContext", "seLinuxOptions"))
    bad: list[str] = []
    for container in pod.containers:
        if present(container.security, "seLinuxOptions") and not valid(
            container.security
        ):
            bad.append(container.name)
            paths.append((*container.path, "securityContext", "seLinuxOptions"))
    if bad:
        setters.append(containers_text(bad))
    if not setters:
        return None
    data: list[str] = []
    if bad_types:
        listed = sorted(bad_types)
        data.append(f"{plural('type', 'types', len(listed))} {join_quote(listed)}")
    data += [f"{field} may not be set" for field in ("user", "role") if flags[field]]
    return Violation(
        "seLinuxOptions",
        "seLinuxOptions",
        f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: "
        f"{'; '.join(data)}",
        first_path(paths),
    )


_SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"


def _seccomp_annotation_ok(value: str) -> bool:
    return value in ("runtime/default", "docker/default") or value.startswith(
        "localhost/"
    )


def _seccomp_annotations(pod: PodView) -> Violation | None:
    forbidden: set[str] = set()
    keys = [_SECCOMP_POD_ANNOTATION]
    keys += [_SECCOMP_CONTAINER_ANNOTATION + c.name for c in pod.containers]
    for key in keys:
        value = pod.annotations.get(key)
        if isinstance(value, str) and not _seccomp_annotation_ok(value):
            forbidden.add(f"{key}={go_quote(value)}")
    if not forbidden:
        return None
    return Violation(
        "seccompProfile_baseline",
        "seccompProfile",
        f"forbidden {plural('annotation', 'annotations', len(forbidden))} "
        f"{', '.join(sorted(forbidden))}",
        (),
    )


def _seccomp_baseline(pod: PodView) -> Violation | None:
    if pod.minor < 19:
        return _seccomp_annotations(pod)
    return seccomp_profile(pod, required=False, check="seccompProfile_baseline")


def _sysctls(pod: PodView) -> Violation | None:
    allowed = value_set_at("safe_sysctls", pod.minor)
    bad = [
        (i, get_str(s, "name"))
        for i, s in iter_maps(pod.security, "sysctls")
        if get_str(s, "name") not in allowed
    ]
    if not bad:
        return None
    return Violation(
        "sysctls",
        "forbidden sysctls",
        ", ".join(name for _, name in bad),
        ("securityContext", "sysctls", bad[0][0], "name"),
    )


def _windows_host_process(pod: PodView) -> Violation | None:
    bad = [
        c
        for c in pod.containers
        if get_path(c.security, "windowsOptions", "hostProcess") is True
    ]
    setters: list[str] = []
    paths: list[Path] = []
    if get_path(pod.security, "windowsOptions", "hostProcess") is True:
        setters.append("pod")
        paths.append(("securityContext", "windowsOptions", "hostProcess"))
    if bad:
        setters.append(containers_text([c.name for c in bad]))
        paths.append((*bad[0].path, "securityContext", "windowsOptions", "hostProcess"))
    if not setters:
        return None
    return Violation(
        "windowsHostProcess",
        "hostProcess",
        f"{' and '.join(setters)} must not set "
        "securityContext.windowsOptions.hostProcess=true",
        first_path(paths),
    )


def _proc_mount(pod: PodView) -> Violation | None:
    if pod.minor >= 35 and pod.user_namespace:
        return None
    return proc_mount(pod, "procMount")


def _host_values(handler: Any) -> list[str]:
    return [
        host
        for action in ("httpGet", "tcpSocket")
        if (host := get_str(handler, action, "host"))
    ]


def _host_probes(pod: PodView) -> Violation | None:
    bad: set[str] = set()
    hosts: set[str] = set()
    paths: list[Path] = []
    for container in pod.containers:
        handlers: list[tuple[Path, Any]] = [
            ((probe,), get_path(container.raw, probe))
            for probe in ("livenessProbe", "readinessProbe", "startupProbe")
        ]
        handlers += [
            (("lifecycle", hook), get_path(container.raw, "lifecycle", hook))
            for hook in ("postStart", "preStop")
        ]
        for where, handler in handlers:
            found = _host_values(handler)
            if found:
                bad.add(container.name)
                hosts.update(found)
                paths.append((*container.path, *where))
    if not bad:
        return None
    return Violation(
        "hostProbesAndHostLifecycle",
        "probe or lifecycle host",
        f"{containers_text(sorted(bad))} {plural('uses', 'use', len(bad))} "
        f"{plural('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} "
        f"{join_quote(sorted(hosts))}",
        first_path(paths),
    )


BASELINE_CHECKS = (
    Check("appArmorProfile", 0, _app_armor),
    Check("capabilities_baseline", 0, _capabilities_baseline),
    Check("hostNamespaces", 0, _host_namespaces),
    Check("hostPathVolumes", 0, _host_path_volumes),
    Check("hostPorts", 0, _host_ports),
    Check("hostProbesAndHostLifecycle", 34, _host_probes),
    Check("privileged", 0, _privileged),
    Check("procMount", 0, _proc_mount),
    Check("seLinuxOptions", 0, _se_linux),
    Check("seccompProfile_baseline", 0, _seccomp_baseline),
    Check("sysctls", 0, _sysctls),
    Check("windowsHostProcess", 0, _windows_host_process),
)
"""The baseline checks, sorted by ID (admission's message order)."""

"""The restricted Pod Security Standard: a port of the restricted checks.

``kubernetes/pod-security-admission`` ``policy/check_*.go`` at 8f84a87: the
checks of level ``restricted``, with their versions, the baseline check each
one replaces, and the exact ``reason`` and ``detail`` texts. Since policy v1.25
``allowPrivilegeEscalation``, capabilities and seccomp skip Windows pods; since
v1.35 ``runAsNonRoot``, ``runAsUser`` and ``procMount`` skip pods with
``hostUsers: false``.
"""

from __future__ import annotations

from typing import Any

from kubernai.model.pod_security_view import (
    Check,
    ContainerView,
    PodView,
    Violation,
    added_capabilities,
    containers_text,
    first_path,
    join_quote,
    missing_path,
    plural,
    present,
    proc_mount,
    seccomp_profile,
    value_list,
    value_set,
)
from kubernai.model.resource import (
    Path,
    get_list,
    get_map,
    get_path,
    get_str,
    iter_maps,
)


def _allow_privilege_escalation(pod: PodView) -> Violation | None:
    if pod.minor >= 25 and pod.windows:
        return None
    bad = [
        c
        for c in pod.containers
        if get_path(c.security, "allowPrivilegeEscalation") is not False
    ]
    if not bad:
        return None
    first = bad[0]
    path = (
        (*first.path, "securityContext", "allowPrivilegeEscalation")
        if "allowPrivilegeEscalation" in first.security
        else missing_path(first)
    )
    return Violation(
        "allowPrivilegeEscalation",
        "allowPrivilegeEscalation != false",
        f"{containers_text([c.name for c in bad])} must set "
        "securityContext.allowPrivilegeEscalation=false",
        path,
    )


def _capabilities_restricted(pod: PodView) -> Violation | None:
    if pod.minor >= 25 and pod.windows:
        return None
    missing_drop: list[str] = []
    adding: list[str] = []
    caps: set[str] = set()
    paths: list[Path] = []
    for container in pod.containers:
        capabilities = get_map(container.security, "capabilities")
        if not present(container.security, "capabilities"):
            missing_drop.append(container.name)
            paths.append(missing_path(container))
            continue
        if "ALL" not in get_list(capabilities, "drop"):
            missing_drop.append(container.name)
            paths.append((*container.path, "securityContext", "capabilities"))
        extra = [
            (i, c) for i, c in added_capabilities(container) if c != "NET_BIND_SERVICE"
        ]
        if extra:
            adding.append(container.name)
            caps.update(c for _, c in extra)
            paths.append(
                (*container.path, "securityContext", "capabilities", "add", extra[0][0])
            )
    details: list[str] = []
    if missing_drop:
        details.append(
            f"{containers_text(missing_drop)} must set "
            'securityContext.capabilities.drop=["ALL"]'
        )
    if adding:
        details.append(
            f"{containers_text(adding)} must not include {join_quote(sorted(caps))} "
            "in securityContext.capabilities.add"
        )
    if not details:
        return None
    return Violation(
        "capabilities_restricted",
        "unrestricted capabilities",
        "; ".join(details),
        first_path(paths),
    )


def _restricted_volumes(pod: PodView) -> Violation | None:
    bad: list[str] = []
    kinds: set[str] = set()
    paths: list[Path] = []
    restricted = value_list("restricted_volume_types")
    for index, volume in iter_maps(pod.spec, "volumes"):
        if any(present(volume, key) for key in value_set("allowed_volume_types")):
            continue
        kind = next((k for k in restricted if present(volume, k)), None)
        if kind is None:
            continue  # no source: the API server makes it an emptyDir
        bad.append(get_str(volume, "name"))
        kinds.add(kind)
        paths.append(("volumes", index, kind))
    if not bad:
        return None
    listed = sorted(kinds)
    return Violation(
        "restrictedVolumes",
        "restricted volume types",
        f"{plural('volume', 'volumes', len(bad))} {join_quote(bad)} "
        f"{plural('uses', 'use', len(bad))} "
        f"{plural('restricted volume type', 'restricted volume types', len(listed))} "
        f"{join_quote(listed)}",
        first_path(paths),
    )


def _run_as_non_root(pod: PodView) -> Violation | None:
    if pod.minor >= 35 and pod.user_namespace:
        return None
    setters: list[str] = []
    paths: list[Path] = []
    pod_value = get_path(pod.security, "runAsNonRoot")
    if pod_value is False:
        setters.append("pod")
        paths.append(("securityContext", "runAsNonRoot"))
    pod_non_root = pod_value is True
    explicit: list[str] = []
    implicit: list[ContainerView] = []
    for container in pod.containers:
        value = get_path(container.security, "runAsNonRoot")
        if isinstance(value, bool):
            if not value:
                explicit.append(container.name)
                paths.append((*container.path, "securityContext", "runAsNonRoot"))
        elif not pod_non_root:
            implicit.append(container)
    if explicit:
        setters.append(containers_text(explicit))
    if setters:
        return Violation(
            "runAsNonRoot",
            "runAsNonRoot != true",
            f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false",
            first_path(paths),
        )
    if implicit:
        return Violation(
            "runAsNonRoot",
            "runAsNonRoot != true",
            f"pod or {containers_text([c.name for c in implicit])} must set "
            "securityContext.runAsNonRoot=true",
            missing_path(implicit[0]),
        )
    return None


def _is_root(value: Any) -> bool:
    return type(value) is int and value == 0


def _run_as_user(pod: PodView) -> Violation | None:
    if pod.minor >= 35 and pod.user_namespace:
        return None
    setters: list[str] = []
    paths: list[Path] = []
    if _is_root(get_path(pod.security, "runAsUser")):
        setters.append("pod")
        paths.append(("securityContext", "runAsUser"))
    bad = [c for c in pod.containers if _is_root(get_path(c.security, "runAsUser"))]
    if bad:
        setters.append(containers_text([c.name for c in bad]))
        paths.append((*bad[0].path, "securityContext", "runAsUser"))
    if not setters:
        return None
    return Violation(
        "runAsUser",
        "runAsUser=0",
        f"{' and '.join(setters)} must not set runAsUser=0",
        first_path(paths),
    )


def _seccomp_restricted(pod: PodView) -> Violation | None:
    if pod.minor >= 25 and pod.windows:
        return None
    return seccomp_profile(pod, required=True, check="seccompProfile_restricted")


def _proc_mount_restricted(pod: PodView) -> Violation | None:
    return proc_mount(pod, "procMount_restricted")


RESTRICTED_CHECKS = (
    Check("allowPrivilegeEscalation", 8, _allow_privilege_escalation),
    Check(
        "capabilities_restricted",
        22,
        _capabilities_restricted,
        overrides="capabilities_baseline",
    ),
    Check("procMount_restricted", 35, _proc_mount_restricted, overrides="procMount"),
    Check("restrictedVolumes", 0, _restricted_volumes, overrides="hostPathVolumes"),
    Check("runAsNonRoot", 0, _run_as_non_root),
    Check("runAsUser", 23, _run_as_user),
    Check(
        "seccompProfile_restricted",
        19,
        _seccomp_restricted,
        overrides="seccompProfile_baseline",
    ),
)
"""The restricted checks, sorted by ID (admission's message order)."""

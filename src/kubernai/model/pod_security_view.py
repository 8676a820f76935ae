"""The pod as Pod Security checks see it, and the texts their messages are built from.

Shared by ``pod_security_baseline`` and ``pod_security_restricted``, the ports
of ``kubernetes/pod-security-admission`` ``policy/check_*.go`` (read at
8f84a87). Message helpers mirror ``policy/helpers.go`` (``pluralize``,
``joinQuote``); containers are visited as ``policy/visitor.go`` does: init
containers, then containers, then ephemeral containers.

Values are read as the API server decodes them: a field is "set" only when it
has the right type (``privileged: "true"`` does not decode, so it is not
``true``), and an object field is present when it holds a mapping (Go: a
non-nil pointer).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from kubernai.model.resource import (
    Path,
    Raw,
    get_list,
    get_map,
    get_path,
    get_str,
    iter_maps,
)


@cache
def _catalog() -> dict[str, Any]:
    text = (
        resources.files("kubernai")
        .joinpath("data/pod_security_standards.json")
        .read_text("utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data


def value_set(name: str) -> frozenset[str]:
    """A value set of ``data/pod_security_standards.json``."""
    return frozenset(_catalog()[name]["values"])


def value_list(name: str) -> tuple[str, ...]:
    """A value list of ``data/pod_security_standards.json``, in its order."""
    return tuple(_catalog()[name]["values"])


def value_set_at(name: str, minor: int) -> frozenset[str]:
    """A versioned value set (``safe_sysctls``) at policy ``v1.<minor>``."""
    return _versioned(name)[min(minor, len(_versioned(name)) - 1)]


@cache
def _versioned(name: str) -> tuple[frozenset[str], ...]:
    """The set for every minor from 0 to the newest ``since`` of its entries."""
    entries = _catalog()[name]
    newest = max(entry["since"] for entry in entries)
    return tuple(
        frozenset(
            value
            for entry in entries
            if entry["since"] <= minor
            for value in entry["values"]
        )
        for minor in range(newest + 1)
    )


@dataclass(frozen=True, slots=True)
class Violation:
    """One failed check: the admission ``reason`` and ``detail`` texts.

    ``path`` is the first offending field relative to the pod spec (``()`` when
    the offence is in the pod's annotations).
    """

    check: str
    reason: str
    detail: str
    path: Path

    @property
    def text(self) -> str:
        """``reason (detail)`` as admission prints it."""
        return f"{self.reason} ({self.detail})" if self.detail else self.reason


def forbidden_detail(violations: tuple[Violation, ...] | list[Violation]) -> str:
    """The text after ``violates PodSecurity "<level>:<version>": ``."""
    return ", ".join(v.text for v in violations)


@dataclass(frozen=True, slots=True)
class ContainerView:
    """A container, init container or ephemeral container of the pod."""

    path: Path
    """Relative to the pod spec: ``("containers", 0)``."""
    name: str
    raw: Raw
    security: Raw
    """Its ``securityContext`` (empty when unset)."""
    ephemeral: bool


@dataclass(frozen=True, slots=True)
class PodView:
    """A pod spec, its annotations and the policy version checks run at."""

    spec: Raw
    annotations: Mapping[str, Any]
    containers: tuple[ContainerView, ...]
    security: Raw
    """The pod's ``securityContext`` (empty when unset)."""
    minor: int
    """The policy version: ``v1.<minor>``."""

    @property
    def windows(self) -> bool:
        """``spec.os.name: windows`` (some restricted checks skip such pods)."""
        return get_str(self.spec, "os", "name") == "windows"

    @property
    def user_namespace(self) -> bool:
        """``spec.hostUsers: false`` (relaxes some checks from policy v1.35)."""
        return get_path(self.spec, "hostUsers") is False


def pod_view(spec: Raw, annotations: Mapping[str, Any], minor: int) -> PodView:
    """A view of a pod spec for checks at policy ``v1.<minor>``."""
    found: list[ContainerView] = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for index, raw in iter_maps(spec, key):
            found.append(
                ContainerView(
                    path=(key, index),
                    name=get_str(raw, "name"),
                    raw=raw,
                    security=get_map(raw, "securityContext"),
                    ephemeral=key == "ephemeralContainers",
                )
            )
    return PodView(
        spec=spec,
        annotations=annotations,
        containers=tuple(found),
        security=get_map(spec, "securityContext"),
        minor=minor,
    )


CheckFn = Callable[[PodView], Violation | None]


@dataclass(frozen=True, slots=True)
class Check:
    """One check of a level: its ID, the first policy minor it applies to."""

    id: str
    since: int
    run: CheckFn
    overrides: str = ""
    """The baseline check this restricted check replaces."""


def plural(singular: str, many: str, count: int) -> str:
    """``pluralize``: the singular for one, the plural otherwise."""
    return singular if count == 1 else many


def go_quote(text: str) -> str:
    """A string quoted as Go's ``%q`` quotes plain text."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def join_quote(items: list[str] | tuple[str, ...]) -> str:
    """``joinQuote``: ``"a", "b"`` (plain quotes around each item, no escaping)."""
    return '"' + '", "'.join(items) + '"' if items else ""


def containers_text(names: list[str]) -> str:
    """``container "a"`` or ``containers "a", "b"``."""
    return f"{plural('container', 'containers', len(names))} {join_quote(names)}"


def present(data: Raw, key: str) -> bool:
    """Whether ``key`` holds an object (Go: a non-nil pointer after decoding)."""
    return isinstance(get_path(data, key), Mapping)


def first_path(paths: list[Path]) -> Path:
    """The first of the offending fields, ``()`` when there are none."""
    return paths[0] if paths else ()


def missing_path(container: ContainerView) -> Path:
    """Where a missing field belongs: the ``securityContext``, else the container."""
    if present(container.raw, "securityContext"):
        return (*container.path, "securityContext")
    return container.path


def added_capabilities(container: ContainerView) -> list[tuple[int, str]]:
    """Index and name of each ``securityContext.capabilities.add`` entry."""
    added = get_list(container.security, "capabilities", "add")
    return [(i, c) for i, c in enumerate(added) if isinstance(c, str)]


PROFILE_TYPES = frozenset({"RuntimeDefault", "Localhost"})
"""The seccomp and AppArmor profile types both levels allow."""


def profile_type(security: Raw, field: str) -> str | None:
    """The ``type`` of a seccomp/AppArmor profile object; ``None`` when unset."""
    if not present(security, field):
        return None
    return get_str(security, field, "type")


def seccomp_profile(pod: PodView, *, required: bool, check: str) -> Violation | None:
    """``seccompProfile_baseline`` v1.19 (``required`` False) and _restricted.

    An explicit type other than RuntimeDefault/Localhost fails both; a container
    with no type of its own and no pod-level type fails only when ``required``.
    """
    setters: list[str] = []
    values: set[str] = set()
    paths: list[Path] = []
    pod_set = False
    kind = profile_type(pod.security, "seccompProfile")
    if kind is not None:
        if kind not in PROFILE_TYPES:
            setters.append("pod")
            values.add(kind)
            paths.append(("securityContext", "seccompProfile"))
        else:
            pod_set = True
    explicit: list[str] = []
    implicit: list[ContainerView] = []
    for container in pod.containers:
        kind = profile_type(container.security, "seccompProfile")
        if kind is not None:
            if kind not in PROFILE_TYPES:
                explicit.append(container.name)
                values.add(kind)
                paths.append((*container.path, "securityContext", "seccompProfile"))
        elif not pod_set:
            implicit.append(container)
    if explicit:
        setters.append(containers_text(explicit))
    if setters:
        return Violation(
            check,
            "seccompProfile",
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type "
            f"to {join_quote(sorted(values))}",
            first_path(paths),
        )
    if required and implicit:
        return Violation(
            check,
            "seccompProfile",
            f"pod or {containers_text([c.name for c in implicit])} must set "
            'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"',
            missing_path(implicit[0]),
        )
    return None


def proc_mount(pod: PodView, check: str) -> Violation | None:
    """``procMount``: containers must leave ``securityContext.procMount`` Default."""
    bad: list[str] = []
    kinds: set[str] = set()
    paths: list[Path] = []
    for container in pod.containers:
        value = container.security.get("procMount")
        if isinstance(value, str) and value != "Default":
            bad.append(container.name)
            kinds.add(value)
            paths.append((*container.path, "securityContext", "procMount"))
    if not bad:
        return None
    return Violation(
        check,
        "procMount",
        f"{containers_text(bad)} must not set securityContext.procMount to "
        f"{join_quote(sorted(kinds))}",
        first_path(paths),
    )

"""Where an inference server listens and what its probes ask it.

Ports and GET routes come from ``data/inference_servers.json`` (one source
per value). A port is known only when the manifest sets it (``--port``,
``--http-port``, TGI's ``PORT``) or when the container runs the server's own
entrypoint, whose default applies; TGI's default is the ``PORT=80`` of Hugging
Face's image, so another image running TGI has an unknown port.

Probe ports follow the kubelet: a number, or the name of one of the
container's ``ports`` (a name it does not declare makes the probe fail).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any

from kubernai.model.resource import Path, get_list, get_map, get_str, iter_maps
from kubernai.model.server_cache import container_tokens
from kubernai.model.server_parallelism import has_env_from
from kubernai.model.server_release import is_upstream_tgi
from kubernai.model.servers import TGI, TRITON, VLLM, ServerArgs
from kubernai.model.workload import Container, env_names

PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
SERVER_NAMES = {VLLM: "vLLM", TGI: "TGI", TRITON: "Triton"}


@dataclass(frozen=True, slots=True)
class Listener:
    """One port a server listens on and the GET routes it serves there."""

    role: str
    port: int
    flag: str
    routes: frozenset[str]
    prefixes: tuple[str, ...]

    def serves(self, path: str) -> bool:
        """Whether a GET of ``path`` reaches a route (status < 400 possible)."""
        return path in self.routes or any(path.startswith(p) for p in self.prefixes)


@dataclass(frozen=True, slots=True)
class Catalog:
    """Defaults and routes of one server kind."""

    listeners: tuple[tuple[str, str, int], ...]
    routes: Mapping[str, frozenset[str]]
    prefixes: Mapping[str, tuple[str, ...]]


@cache
def _catalog() -> dict[str, Catalog]:
    text = (
        resources.files("kubernai")
        .joinpath("data/inference_servers.json")
        .read_text("utf-8")
    )
    out: dict[str, Catalog] = {}
    for kind, entry in json.loads(text)["servers"].items():
        out[kind] = Catalog(
            listeners=tuple(
                (item["role"], item["flag"], int(item["default"]))
                for item in entry["listeners"]
            ),
            routes={
                role: frozenset(item["path"] for item in items)
                for role, items in entry["routes"].items()
            },
            prefixes={
                role: tuple(item["prefix"] for item in items)
                for role, items in entry["route_prefixes"].items()
            },
        )
    return out


def runs_entrypoint(server: ServerArgs) -> bool:
    """Whether the container starts the server itself, so its defaults apply.

    vLLM: ``vllm serve`` or an ``vllm.entrypoints`` module, or no ``command``
    (the image's entrypoint). TGI: ``text-generation-launcher``, or no
    ``command`` on Hugging Face's image. Triton: a ``tritonserver`` command.
    """
    words = [t.text for t in container_tokens(server.container)]
    if any("\n" in word or " --" in word for word in words):
        return False  # a script left unsplit (e.g. ``bash -exc``): flags unknown
    bases = [w.rsplit("/", 1)[-1] for w in words]
    no_command = not get_list(server.container.raw, "command")
    if server.kind == VLLM:
        serve = any(a == "vllm" and b == "serve" for a, b in pairwise(bases))
        return serve or any("vllm.entrypoints." in w for w in words) or no_command
    if server.kind == TGI:
        return "text-generation-launcher" in bases or (
            no_command and is_upstream_tgi(server.container)
        )
    if server.kind == TRITON:
        return "tritonserver" in bases
    return False


def listeners(server: ServerArgs) -> tuple[Listener, ...] | None:
    """The server's ports with their routes; ``None`` when the HTTP port is unknown."""
    catalog = _catalog().get(server.kind)
    if catalog is None or not runs_entrypoint(server):
        return None
    if server.kind == VLLM and server.has("--uds"):
        return None  # a Unix socket instead of a TCP port
    if server.kind == TGI and _tgi_env_unknown(server):
        return None
    found: list[Listener] = []
    for role, flag, default in catalog.listeners:
        if server.has(flag):
            port = _port(server.get(flag))
            if port is None:
                if role == "http":
                    return None
                continue
        elif (
            role == "http"
            and server.kind == TGI
            and not is_upstream_tgi(server.container)
        ):
            return None  # the launcher's 3000 is overridden by images' PORT
        else:
            port = default
        found.append(
            Listener(
                role=role,
                port=port,
                flag=flag,
                routes=catalog.routes.get(role, frozenset()),
                prefixes=catalog.prefixes.get(role, ()),
            )
        )
    return tuple(found)


def _tgi_env_unknown(server: ServerArgs) -> bool:
    """TGI reads ``PORT``; a value from ``valueFrom``/``envFrom`` is unknown."""
    if "-p" in server.positionals:
        return True  # short form of --port, not parsed
    if has_env_from(server.container):
        return True
    return "PORT" in env_names(server.container) and "PORT" not in server.env


def _port(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        port = int(value.strip())
    except ValueError:
        return None
    return port if 0 < port < 65536 else None


@dataclass(frozen=True, slots=True)
class Probe:
    """One probe of a container, as the kubelet will run it."""

    kind: str
    action: str
    """``httpGet``, ``tcpSocket`` or ``grpc``."""
    path: Path
    """Path of the action's ``port`` field (else of the action)."""
    port: int | None
    """The resolved port; ``None`` when unset or not resolvable."""
    port_written: str
    unknown_port_name: str
    """A port name that the container does not declare."""
    http_path: str
    headers: frozenset[str]
    """Lower-cased ``httpHeaders`` names."""
    host: str


def container_ports(container: Container) -> dict[str, int]:
    """``ports[].name`` → ``containerPort``."""
    out: dict[str, int] = {}
    for _, item in iter_maps(container.raw, "ports"):
        name, number = get_str(item, "name"), item.get("containerPort")
        if name and isinstance(number, int) and not isinstance(number, bool):
            out[name] = number
    return out


def probes(container: Container) -> Iterator[Probe]:
    """The container's httpGet, tcpSocket and grpc probes."""
    named: dict[str, int] | None = None
    for kind in PROBES:
        if container.raw.get(kind) is None:
            continue
        spec = get_map(container.raw, kind)
        for action in ("httpGet", "tcpSocket", "grpc"):
            handler = get_map(spec, action)
            if not handler:
                continue
            written = handler.get("port")
            if named is None:
                named = container_ports(container)
            port, unknown = _resolve(written, named)
            has_port = written is not None
            base = (*container.path, kind, action)
            yield Probe(
                kind=kind,
                action=action,
                path=(*base, "port") if has_port else base,
                port=port,
                port_written="" if written is None else str(written),
                unknown_port_name=unknown,
                http_path=_http_path(handler),
                headers=frozenset(
                    get_str(h, "name").lower()
                    for _, h in iter_maps(handler, "httpHeaders")
                ),
                host=get_str(handler, "host"),
            )


def _resolve(written: Any, named: Mapping[str, int]) -> tuple[int | None, str]:
    if isinstance(written, bool):
        return None, ""
    if isinstance(written, int):
        return written, ""
    if isinstance(written, str) and written:
        if written.isdigit():
            return int(written), ""
        if written in named:
            return named[written], ""
        if "{{" in written or "$" in written:
            return None, ""
        return None, written
    return None, ""


def _http_path(handler: Mapping[str, Any]) -> str:
    path = get_str(handler, "path").split("?", 1)[0]
    if not path:
        return "/"
    return path if path.startswith("/") else "/" + path

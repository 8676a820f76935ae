"""PyTorch Elastic: what a torchrun launch's rendezvous resolves to in a pod.

torchrun (PyTorch ``torch/distributed/run.py`` and ``argparse_util.py``) reads
each option from the command line, else from the environment variable
``PET_<OPTION>`` (``--rdzv-backend`` is ``PET_RDZV_BACKEND``), else uses its
default: ``--nnodes 1:1``, ``--rdzv-backend static``, ``--rdzv-endpoint ""``,
``--rdzv-id none``, ``--max-restarts 0``, ``--master-addr 127.0.0.1``,
``--master-port 29500``, ``--node-rank 0``. The static backend meets at
``master-addr:master-port`` unless ``--rdzv-endpoint`` is given; the other
backends meet at ``--rdzv-endpoint``, and an empty endpoint means
``localhost`` (``rendezvous/utils.py`` ``parse_rendezvous_endpoint``).
``--standalone`` replaces backend, endpoint and id with ``c10d``,
``localhost:0`` and a fresh UUID.

The Kubeflow training operator (``kubeflow.org/v1`` PyTorchJob, read in
kubeflow/training-operator ``release-1.9``: ``pkg/controller.v1/pytorch/
envvar.go`` and ``elastic.go``) appends variables to every container of every
pod, after the container's own ``env``, so they win over it (but not over the
command line): with a ``Master`` replica ``MASTER_ADDR``, ``PET_MASTER_ADDR``,
``MASTER_PORT``, ``PET_MASTER_PORT``, ``WORLD_SIZE``, ``RANK`` and
``PET_NODE_RANK``; with ``spec.elasticPolicy`` ``PET_RDZV_ENDPOINT``
(``rdzvHost``, default ``<job>-worker-0``, and ``rdzvPort``, default the
Worker's ``pytorchjob-port``), ``PET_RDZV_BACKEND`` (default ``c10d``),
``PET_NNODES=<min>:<max>`` and, when set, ``PET_MAX_RESTARTS``,
``PET_RDZV_ID``, ``PET_RDZV_CONF`` and ``PET_STANDALONE``; without it
``PET_NNODES`` is the job's pod count. ``minReplicas`` and ``maxReplicas``
default to each other, else to the Worker replicas (``pytorch_defaults.go``).

Kubeflow Trainer v2 (``trainer.kubeflow.org``) injects its own ``PET_*``
variables through the runtime's ML policy; what it injects is treated as
unknown here, so checks stay silent on those kinds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.pytorchjob import (
    MASTER,
    PORT_NAME,
    WORKER,
    is_pytorchjob,
    replica_spec,
    replica_specs,
)
from kubernai.model.resource import (
    Path,
    Resource,
    get_path,
    get_str,
    is_placeholder,
    iter_maps,
)
from kubernai.model.servers import command_tokens
from kubernai.model.training import (
    TORCHRUN,
    Launch,
    launches,
    normalise,
    parse_nnodes,
)
from kubernai.model.workload import Container, PodTemplate, memoised

STATIC, C10D, ETCD, ETCD_V2 = "static", "c10d", "etcd", "etcd-v2"
ETCD_BACKENDS = frozenset({ETCD, ETCD_V2})
TRAINER_GROUP = "trainer.kubeflow.org"
ELASTIC_POLICY: Path = ("spec", "elasticPolicy")

DEFAULTS: Mapping[str, str] = {
    "--nnodes": "1:1",
    "--rdzv-backend": STATIC,
    "--rdzv-endpoint": "",
    "--rdzv-id": "none",
    "--max-restarts": "0",
    "--master-addr": "127.0.0.1",
    "--master-port": "29500",
    "--node-rank": "0",
}
"""torchrun's defaults (``torch/distributed/run.py``)."""

COMMAND_LINE, OPERATOR, CONTAINER_ENV, DEFAULT, UNKNOWN = (
    "command line",
    "operator",
    "container env",
    "default",
    "unknown",
)


@dataclass(frozen=True, slots=True)
class Setting:
    """One torchrun option as the launched process sees it."""

    option: str
    """The option, normalised (``--rdzv-backend``)."""
    value: str | None
    """The value torchrun uses; ``None`` when it cannot be known from the input
    (an ``envFrom``, a ``valueFrom``, a shell ``export``, an operator value that
    depends on the pod), and for a flag without a value (``--standalone``)."""
    origin: str
    """``command line``, ``operator``, ``container env``, ``default`` or
    ``unknown``."""
    path: Path
    """Where it is set: the command-line word, the env entry, the field the
    operator derives it from; the container's command line for a default."""
    why: str = ""
    """For values the operator sets: which field they come from."""

    @property
    def is_set(self) -> bool:
        """Whether the option is given at all (else torchrun's default applies)."""
        return self.origin != DEFAULT

    @property
    def known(self) -> bool:
        """Whether the value is known: written out, or torchrun's default."""
        return (
            self.origin != UNKNOWN
            and self.value is not None
            and not is_placeholder(self.value)
        )

    def describe(self) -> str:
        """``--rdzv-backend=static (torchrun's default)`` and the like."""
        if self.value is None:
            shown = self.option
        elif not self.value:
            shown = f"{self.option} empty"
        else:
            shown = f"{self.option}={self.value}"
        if self.origin == DEFAULT:
            return f"{shown} (torchrun's default)"
        if self.origin == OPERATOR:
            return f"{shown} (set by the operator from {self.why})"
        if self.origin == CONTAINER_ENV:
            return f"{shown} (from {env_name(self.option)})"
        return shown


def env_name(option: str) -> str:
    """The ``PET_*`` variable torchrun reads an option from."""
    return "PET_" + normalise(option)[2:].upper().replace("-", "_")


def as_int(value: Any) -> int | None:
    """A whole number (negative allowed) from an int or a numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


# -- the PyTorchJob elastic policy ------------------------------------------------


def elastic_policy(resource: Resource) -> Mapping[str, Any] | None:
    """``spec.elasticPolicy`` of a PyTorchJob, ``None`` if it has none."""
    if not is_pytorchjob(resource):
        return None
    policy = get_path(resource.raw, *ELASTIC_POLICY)
    return policy if isinstance(policy, Mapping) else None


@dataclass(frozen=True, slots=True)
class NodeRange:
    """``minReplicas:maxReplicas`` of an elastic policy, with the defaults applied."""

    low: int
    high: int
    path: Path
    """The field to point at (``minReplicas`` when set)."""
    text: str
    """How the fields are written, for messages."""


def elastic_range(resource: Resource) -> NodeRange | None:
    """The node range the operator passes as ``PET_NNODES``; ``None`` if unreadable.

    Only max set: min = max; only min: max = min; neither: both are the
    Worker replicas.
    """
    policy = elastic_policy(resource)
    if policy is None:
        return None
    low_raw, high_raw = policy.get("minReplicas"), policy.get("maxReplicas")
    if low_raw is None and high_raw is None:
        worker = replica_spec(resource, WORKER)
        if worker is None or worker.replicas is None:
            return None
        count = worker.replicas
        return NodeRange(
            count, count, (*worker.path, "replicas"), f"Worker replicas={count}"
        )
    low = as_int(low_raw if low_raw is not None else high_raw)
    high = as_int(high_raw if high_raw is not None else low_raw)
    if low is None or high is None:
        return None
    if low_raw is not None and high_raw is not None:
        text = f"minReplicas={low}, maxReplicas={high}"
    elif low_raw is not None:
        text = f"minReplicas={low} (maxReplicas defaults to it)"
    else:
        text = f"maxReplicas={high} (minReplicas defaults to it)"
    field = "minReplicas" if low_raw is not None else "maxReplicas"
    return NodeRange(low, high, (*ELASTIC_POLICY, field), text)


def _policy_field(policy: Mapping[str, Any], name: str) -> str | None:
    value = policy.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)


def worker_port(resource: Resource) -> str | None:
    """The Worker's ``pytorchjob-port`` (23456 when the defaulter adds it)."""
    worker = replica_spec(resource, WORKER)
    if worker is None:
        return None
    for _, container in iter_maps(worker.raw, "template", "spec", "containers"):
        if get_str(container, "name") != "pytorch":
            continue
        for _, port in iter_maps(container, "ports"):
            if get_str(port, "name") == PORT_NAME:
                return _policy_field(port, "containerPort")
        return "23456"  # the defaulter adds pytorchjob-port 23456
    return None


def _pytorchjob_env(resource: Resource) -> dict[str, Setting]:
    """The torchrun options the training operator sets through ``PET_*``."""
    found: dict[str, Setting] = {}

    def add(option: str, value: str | None, path: Path, why: str) -> None:
        found[option] = Setting(option, value, OPERATOR, path, why)

    specs = replica_specs(resource)
    master = next((spec for spec in specs if spec.type == MASTER), None)
    if master is not None:
        why = "the Master replica (<job>-master-0)"
        name = resource.name if not is_placeholder(resource.name) else ""
        add("--master-addr", f"{name}-master-0" if name else None, master.path, why)
        add("--node-rank", None, master.path, "the pod's index (Master 0, Worker i+1)")
    policy = elastic_policy(resource)
    if policy is None:
        counts = [spec.replicas for spec in specs]
        total = sum(c for c in counts if c is not None)
        add(
            "--nnodes",
            str(total) if counts and None not in counts else None,
            ("spec", "pytorchReplicaSpecs"),
            "the job's replica count",
        )
        return found
    base = ELASTIC_POLICY
    node_range = elastic_range(resource)
    add(
        "--nnodes",
        f"{node_range.low}:{node_range.high}" if node_range else None,
        node_range.path if node_range else base,
        "elasticPolicy minReplicas:maxReplicas",
    )
    backend = _policy_field(policy, "rdzvBackend")
    add(
        "--rdzv-backend",
        backend if backend is not None else C10D,
        (*base, "rdzvBackend") if backend is not None else base,
        "elasticPolicy.rdzvBackend"
        if backend is not None
        else "elasticPolicy, whose rdzvBackend defaults to c10d",
    )
    host = _policy_field(policy, "rdzvHost")
    port = _policy_field(policy, "rdzvPort")
    name = resource.name if not is_placeholder(resource.name) else ""
    host_text = host if host is not None else (f"{name}-worker-0" if name else None)
    port_text = port if port is not None else worker_port(resource)
    add(
        "--rdzv-endpoint",
        f"{host_text}:{port_text}" if host_text and port_text else None,
        (*base, "rdzvHost") if host is not None else base,
        "elasticPolicy rdzvHost:rdzvPort",
    )
    for option, key in (
        ("--max-restarts", "maxRestarts"),
        ("--rdzv-id", "rdzvId"),
    ):
        value = _policy_field(policy, key)
        if value is not None:
            add(option, value, (*base, key), f"elasticPolicy.{key}")
    if policy.get("standalone") is True:
        add("--standalone", None, (*base, "standalone"), "elasticPolicy.standalone")
    return found


def operator_settings(resource: Resource) -> dict[str, Setting] | None:
    """The torchrun options an operator injects into the pods of ``resource``.

    ``{}`` when no operator injects any; ``None`` when that is unknown
    (Kubeflow Trainer kinds).
    """
    if resource.group == TRAINER_GROUP:
        return None
    if is_pytorchjob(resource):
        return _pytorchjob_env(resource)
    return {}


# -- resolving a launch --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rendezvous:
    """A torchrun launch and the settings its rendezvous resolves to."""

    launch: Launch
    template: PodTemplate
    settings: Mapping[str, Setting]

    def __getitem__(self, option: str) -> Setting:
        found = self.settings.get(option)
        return found if found is not None else self.settings[normalise(option)]

    @property
    def container(self) -> Container:
        """The container that runs torchrun."""
        return self.launch.container

    @property
    def standalone(self) -> bool | None:
        """Whether ``--standalone`` is in effect; ``None`` when unknown."""
        setting = self["--standalone"]
        if setting.origin == UNKNOWN:
            return None
        if setting.origin in (COMMAND_LINE, OPERATOR):
            return True
        if setting.origin == CONTAINER_ENV:
            number = as_int(setting.value)
            return None if number is None else number != 0
        return False

    @property
    def backend(self) -> str | None:
        """The rendezvous backend in effect (``c10d`` under ``--standalone``)."""
        if self.standalone:
            return C10D
        setting = self["--rdzv-backend"]
        return setting.value if setting.known else None

    def node_range(self) -> tuple[int, int] | None:
        """``--nnodes`` as (min, max); ``None`` when not readable."""
        setting = self["--nnodes"]
        if not setting.known or setting.value is None:
            return None
        if setting.value.count(":") > 1:
            return None
        return parse_nnodes(setting.value)


OPTIONS = (
    "--nnodes",
    "--rdzv-backend",
    "--rdzv-endpoint",
    "--rdzv-id",
    "--max-restarts",
    "--master-addr",
    "--master-port",
    "--node-rank",
    "--standalone",
)


_ENV_NAMES = {option: env_name(option) for option in OPTIONS}


def _resolve(
    launch: Launch, template: PodTemplate, injected: Mapping[str, Setting] | None
) -> Rendezvous:
    container = launch.container
    raw_env: dict[str, tuple[int, Mapping[str, Any]]] = {}
    for index, item in iter_maps(container.raw, "env"):
        name = item.get("name")
        if isinstance(name, str) and name.startswith("PET_"):
            raw_env[name] = (index, item)
    has_env_from = bool(get_path(container.raw, "envFrom"))
    script = " ".join(t.text for t in command_tokens(container))
    fallback = next(
        ((*container.path, key) for key in ("command", "args") if key in container.raw),
        container.path,
    )
    settings: dict[str, Setting] = {}
    for option, variable in _ENV_NAMES.items():
        if option in launch.options:
            where = launch.paths.get(option, fallback)
            value = launch.options[option]
            settings[option] = Setting(option, value, COMMAND_LINE, where)
        elif injected is None:
            settings[option] = Setting(option, None, UNKNOWN, fallback)
        elif option in injected:
            settings[option] = injected[option]
        elif variable in raw_env:
            index, item = raw_env[variable]
            value = item.get("value")
            readable = isinstance(value, str | int | float) and not isinstance(
                value, bool
            )
            settings[option] = Setting(
                option,
                str(value) if readable else None,
                CONTAINER_ENV if readable else UNKNOWN,
                (*container.path, "env", index, "value"),
            )
        elif has_env_from or variable in script:
            settings[option] = Setting(option, None, UNKNOWN, fallback)
        else:
            settings[option] = Setting(option, DEFAULTS.get(option), DEFAULT, fallback)
    return Rendezvous(launch=launch, template=template, settings=settings)


def rendezvous(resource: Resource, template: PodTemplate) -> tuple[Rendezvous, ...]:
    """The torchrun launches of a template, each with its resolved rendezvous.

    Resolved once per template.
    """
    return memoised(
        template, "rendezvous", lambda: tuple(_resolve_all(resource, template))
    )


def _resolve_all(resource: Resource, template: PodTemplate) -> Iterator[Rendezvous]:
    injected: Mapping[str, Setting] | None = {}
    first = True
    for launch in launches(template):
        if launch.kind != TORCHRUN:
            continue
        if first:
            injected, first = operator_settings(resource), False
        yield _resolve(launch, template, injected)


def job_rendezvous(resource: Resource) -> Iterator[Rendezvous]:
    """Every torchrun launch of every template of ``resource``."""
    for template in resource.templates:
        yield from rendezvous(resource, template)


def hostname_of(endpoint: str) -> str:
    """The host part of ``host[:port]`` (brackets of an IPv6 address removed)."""
    text = endpoint.strip()
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def port_of(endpoint: str) -> str:
    """The port part of ``host:port``, ``""`` when none."""
    text = endpoint.strip()
    if text.startswith("["):
        rest = text.split("]", 1)[1] if "]" in text else ""
        return rest[1:] if rest.startswith(":") else ""
    return text.rsplit(":", 1)[1] if text.count(":") == 1 else ""


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.x.x.x`` or ``::1``."""
    name = host.strip().lower()
    return name in ("localhost", "::1", "0:0:0:0:0:0:0:1") or name.startswith("127.")


def endpoint_service(
    resource: Resource, host: str, graph: ObjectGraph
) -> Resource | None:
    """The Service an in-cluster host name refers to, when it is in the input.

    ``etcd``, ``etcd.ns``, ``etcd.ns.svc`` and ``etcd.ns.svc.cluster.local``
    name a Service; other names (IP addresses, outside hosts) give ``None``.
    """
    parts = host.strip().lower().split(".")
    if not parts[0] or is_placeholder(host):
        return None
    if len(parts) == 1:
        namespace = resource.namespace
    elif len(parts) == 2 or parts[2] == "svc":
        namespace = parts[1]
    else:
        return None
    return graph.get("Service", namespace, parts[0])


def service_ports(service: Resource) -> list[int]:
    """The ``port`` numbers a Service exposes."""
    found = []
    for _, item in iter_maps(service.raw, "spec", "ports"):
        number = as_int(item.get("port"))
        if number is not None:
            found.append(number)
    return found

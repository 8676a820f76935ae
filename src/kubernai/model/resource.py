"""One Kubernetes object: its raw mapping, where it came from, and safe accessors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubernai.model.workload import PodTemplate

Raw = Mapping[str, Any]
Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Source:
    """Where an object was read: a display file and the 1-based line of the object.

    ``line_of`` maps a field path to its line; ``origin`` is the file actually
    read when ``file`` names a Helm template (``# Source:`` comments).
    """

    file: str
    line: int
    origin: str = ""
    line_of: Callable[[Path], int] | None = field(default=None, compare=False)


_SCALARS = frozenset({str, int, float, bool, list, type(None)})
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_PROXY = MappingProxyType
"""The type of ``_EMPTY``, which ``get_map`` hands out for every missing map.
The abstract-class check never caches it (a registered subclass), so it is
tested for by identity."""


def get_path(data: Any, *path: str | int) -> Any:
    """Follow ``path`` through dicts and lists; ``None`` where the shape is wrong."""
    for step in path:
        if step.__class__ is str:
            # ``type(...) is dict`` first: the abstract-class check is slow.
            kind = type(data)
            if (
                kind is not dict
                and kind is not _PROXY
                and (kind in _SCALARS or not isinstance(data, Mapping))
            ):
                return None
            data = data.get(step)
        else:
            if type(data) is not list or not 0 <= step < len(data):  # type: ignore[operator]
                return None
            data = data[step]  # type: ignore[index]
        if data is None:
            return None
    return data


# ``get_map``, ``get_list`` and ``get_str`` read one key of a dict (most calls)
# without calling ``get_path``: the same answer at half the cost.


def get_map(data: Any, *path: str | int) -> Mapping[str, Any]:
    """The mapping at ``path``, or an empty one."""
    value: Any = (
        data.get(path[0])
        if len(path) == 1 and type(data) is dict and path[0].__class__ is str
        else get_path(data, *path)
    )
    kind = type(value)
    if kind is dict or kind is _PROXY:
        return value  # type: ignore[no-any-return]
    if value is None or kind in _SCALARS or not isinstance(value, Mapping):
        return _EMPTY
    return value


def get_list(data: Any, *path: str | int) -> list[Any]:
    """The list at ``path``, or an empty one."""
    value: Any = (
        data.get(path[0])
        if len(path) == 1 and type(data) is dict and path[0].__class__ is str
        else get_path(data, *path)
    )
    return value if type(value) is list else []


def get_str(data: Any, *path: str | int) -> str:
    """The string at ``path``, or ``""``."""
    value: Any = (
        data.get(path[0])
        if len(path) == 1 and type(data) is dict and path[0].__class__ is str
        else get_path(data, *path)
    )
    return value if type(value) is str else ""


def iter_maps(data: Any, *path: str | int) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Index and item of each mapping in the list at ``path``; other items skipped."""
    for index, item in enumerate(get_list(data, *path)):
        if type(item) is dict or (item is not None and isinstance(item, Mapping)):
            yield index, item


_PLACEHOLDER_MARKS = ("$", "{{", "<", "%")


def is_placeholder(value: object) -> bool:
    """A value left for a templating step: ``$GPUS``, ``<N>``, ``PLACEHOLDER_GPUS``."""
    if not isinstance(value, str):
        return False
    if any(map(value.__contains__, _PLACEHOLDER_MARKS)):
        return True
    letters = value.replace("_", "")
    return "_" in value and letters.isalnum() and value.upper() == value


@lru_cache(maxsize=4096)
def format_path(path: Path) -> str:
    """Render a field path as the API server does: ``spec.containers[0].x[a/b]``."""
    out: list[str] = []
    for step in path:
        if isinstance(step, int) or "." in step or "/" in step or not step:
            out.append(f"[{step}]")
        else:
            out.append(f".{step}" if out else step)
    return "".join(out)


class Resource:
    """A Kubernetes object read from some source. Never mutated.

    The identity fields are read once, when the object is made; the pod
    templates on first use.
    """

    __slots__ = (
        "_templates",
        "annotations",
        "api_version",
        "group",
        "kind",
        "labels",
        "memo",
        "name",
        "namespace",
        "raw",
        "source",
    )

    def __init__(self, raw: Raw, source: Source) -> None:
        self.raw = raw
        self.source = source
        self.api_version = get_str(raw, "apiVersion")
        """``apiVersion`` as written."""
        version = self.api_version
        self.group = version.rsplit("/", 1)[0] if "/" in version else ""
        """The API group ("" for the core group)."""
        self.kind = get_str(raw, "kind")
        metadata = get_map(raw, "metadata")
        self.name = get_str(metadata, "name") or get_str(metadata, "generateName")
        """``metadata.name`` (or ``generateName``), else ``""``."""
        self.namespace = get_str(metadata, "namespace")
        """``metadata.namespace``; ``""`` when the manifest leaves it to kubectl."""
        self.labels = get_map(metadata, "labels")
        self.annotations = get_map(metadata, "annotations")
        self._templates: tuple[PodTemplate, ...] | None = None
        self.memo: dict[str, Any] = {}
        """Derived values computed once for all rules (see ``workload.memoised``)."""

    def __repr__(self) -> str:
        return f"Resource({self.display()!r}, {self.source.file}:{self.source.line})"

    @property
    def templates(self) -> tuple[PodTemplate, ...]:
        """The pod templates this object creates pods from (see the workload table)."""
        if self._templates is None:
            from kubernai.model.workload import pod_templates

            self._templates = pod_templates(self)
        return self._templates

    def line_of(self, path: Path) -> int:
        """The 1-based line of the field at ``path``, else of the object."""
        finder = self.source.line_of
        return finder(path) if finder is not None and path else self.source.line

    def display(self) -> str:
        """``Kind namespace/name`` for messages."""
        name = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {name or '(unnamed)'}"

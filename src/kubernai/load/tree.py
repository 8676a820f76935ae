"""YAML text to plain Python data, keeping the composed nodes for line numbers.

PyYAML's C parser composes the node graph; a small converter then builds the
dicts and lists itself, which is faster than PyYAML's constructor and keeps
the nodes, so that a finding can later name the line of any field. Aliases
convert to shared objects (as PyYAML does), so an alias bomb costs no more
than its text; a document that refers to itself is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_BOOLS = {"yes": True, "true": True, "on": True, "no": False, "false": False}
_BOOLS["off"] = False
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_IN_PROGRESS = object()
TEMPLATE_HINT = (
    "unrendered template ({{ }}): render it first, e.g. "
    "`helm template RELEASE CHART | kubernai check -`"
)


class RecursiveAliasError(ValueError):
    """A document whose aliases make it contain itself."""


class TemplateKeyError(ValueError):
    """A mapping used as a key: what an unrendered ``{{ }}`` template parses to."""


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """One YAML document: its data, its root node, and its 1-based lines."""

    data: Any
    node: Node
    start_line: int
    end_line: int
    error: str = ""


def _scalar(node: ScalarNode) -> Any:
    tag = node.tag
    value = node.value
    if tag == _STR:
        return value
    try:
        if tag == _INT:
            try:
                return int(value)
            except ValueError:
                return _CONSTRUCTOR.construct_yaml_int(node)
        if tag == _BOOL:
            return _BOOLS[value.lower()]
        if tag == _NULL:
            return None
        if tag == _FLOAT:
            try:
                return float(value)
            except ValueError:
                return _CONSTRUCTOR.construct_yaml_float(node)
    except (ValueError, KeyError, TypeError):
        return value
    # Timestamps, binary and application tags stay the text that was written.
    return value


class _Converter:
    __slots__ = ("memo",)

    def __init__(self) -> None:
        self.memo: dict[int, Any] = {}

    def convert(self, node: Node) -> Any:
        cls = node.__class__
        if cls is ScalarNode:
            return _scalar(node)  # type: ignore[arg-type]
        key = id(node)
        done = self.memo.get(key)
        if done is not None:
            if done is _IN_PROGRESS:
                raise RecursiveAliasError(node.start_mark.line + 1)
            return done
        self.memo[key] = _IN_PROGRESS
        result: Any
        if cls is MappingNode:
            result = self._mapping(node)  # type: ignore[arg-type]
        else:
            result = [self.convert(item) for item in node.value]
        self.memo[key] = result
        return result

    def _mapping(self, node: MappingNode) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merged: list[dict[Any, Any]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.extend(self._merge_sources(value_node))
                continue
            key = self.convert(key_node)
            value = self.convert(value_node)
            try:
                result[key] = value
            except TypeError:  # a mapping or a list as a key: ``{{ .Values.x }}``
                raise TemplateKeyError(key_node.start_mark.line + 1) from None
        for source in merged:
            for key, value in source.items():
                result.setdefault(key, value)
        return result

    def _merge_sources(self, node: Node) -> list[dict[Any, Any]]:
        value = self.convert(node)
        if isinstance(value, dict):
            return [value]
        if isinstance(value, list):
            return [item for item in value if isinstance(item, dict)]
        return []


def parse_documents(text: str) -> Iterator[ParsedDocument]:
    """Yield each document of ``text``; raises ``yaml.YAMLError`` where it breaks.

    Documents before the broken one are yielded first. A document that parses
    but cannot be converted (it contains itself) comes with ``error`` set.
    """
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there was one
                break
            start, end = node.start_mark.line + 1, node.end_mark.line + 1
            try:
                data = _Converter().convert(node)
            except RecursiveAliasError:
                yield ParsedDocument(
                    None, node, start, end, "an alias refers to itself"
                )
                continue
            except RecursionError:
                yield ParsedDocument(None, node, start, end, "nested too deeply")
                continue
            except TemplateKeyError as exc:
                yield ParsedDocument(None, node, exc.args[0], end, TEMPLATE_HINT)
                continue
            yield ParsedDocument(data, node, start, end)
    finally:
        loader.dispose()


def node_line(root: Node, path: tuple[str | int, ...]) -> int:
    """The 1-based line of the field at ``path``, or of its deepest existing parent.

    A mapping entry's line is its key's line, a list item's line its own.
    """
    node = root
    line = root.start_mark.line + 1
    for step in path:
        if isinstance(node, MappingNode) and isinstance(step, str):
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and key_node.value == step:
                    line = key_node.start_mark.line + 1
                    node = value_node
                    break
            else:
                return line
        elif isinstance(node, SequenceNode) and isinstance(step, int):
            if not 0 <= step < len(node.value):
                return line
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            return line
    return line

"""YAML text to plain Python data, keeping the composed nodes for line numbers.

PyYAML's C parser composes the node graph; a small converter then builds the
dicts and lists itself, which is faster than PyYAML's constructor and keeps
the nodes, so that a finding can later name the line of any field. Aliases
convert to shared objects (as PyYAML does), so an alias bomb costs no more
than its text; a document that refers to itself is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:
    from yaml.cyaml import CParser as _Parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)


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


_SCALAR_TAGS: dict[str, str] = {}
_SCALAR_TAGS_MAX = 50_000


class _Loader(_Parser, yaml.resolver.Resolver):
    """libyaml's composer with a resolver that remembers plain scalars' tags.

    The composer asks the (pure Python) resolver for the tag of every node;
    manifests repeat the same keys and values, so the answers are cached.
    """

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        yaml.resolver.Resolver.__init__(self)

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            if implicit[0]:
                tag = _SCALAR_TAGS.get(value)
                if tag is None:
                    tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
                    if len(_SCALAR_TAGS) < _SCALAR_TAGS_MAX and len(value) < 64:
                        _SCALAR_TAGS[value] = tag
                return tag
            return _STR
        if kind is MappingNode:
            return "tag:yaml.org,2002:map"
        return "tag:yaml.org,2002:seq"


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
    lines: LineIndex | None = None


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


def _converter(marks: dict[int, Any]) -> Callable[[Node], Any]:
    """A converter for one document: aliases resolve to the objects built for them.

    ``marks`` receives, for each dict and list built, the 0-based lines of its
    keys (a dict) or items (a tuple), keyed by the object's ``id``. Written
    as closures over locals because it runs once per node.
    """
    memo: dict[int, Any] = {}
    scalar_node, mapping_node, text_tag = ScalarNode, MappingNode, _STR

    def convert(node: Node) -> Any:
        if node.__class__ is scalar_node:
            if node.tag == text_tag:
                return node.value
            return _scalar(node)
        key = id(node)
        done = memo.get(key)
        if done is not None:
            if done is _IN_PROGRESS:
                raise RecursiveAliasError(node.start_mark.line + 1)
            return done
        memo[key] = _IN_PROGRESS
        result: Any
        if node.__class__ is mapping_node:
            result = mapping(node)
        else:
            items = node.value
            result = [convert(item) for item in items]
            marks[id(result)] = tuple([item.start_mark.line for item in items])
        memo[key] = result
        return result

    def mapping(node: MappingNode) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        key_lines: dict[Any, int] = {}
        marks[id(result)] = key_lines
        merged: list[Any] = []
        for key_node, value_node in node.value:
            if key_node.__class__ is scalar_node and key_node.tag == text_tag:
                key = key_node.value
            elif key_node.tag == _MERGE:
                merged.append(convert(value_node))
                continue
            else:
                key = convert(key_node)
            value = (
                value_node.value
                if value_node.__class__ is scalar_node and value_node.tag == text_tag
                else convert(value_node)
            )
            try:
                result[key] = value
            except TypeError:  # a mapping or a list as a key: ``{{ .Values.x }}``
                raise TemplateKeyError(key_node.start_mark.line + 1) from None
            key_lines[key] = key_node.start_mark.line
        for source in merged:
            for item in source if isinstance(source, list) else [source]:
                if isinstance(item, dict):
                    for key, value in item.items():
                        result.setdefault(key, value)
        return result

    return convert


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
            marks: dict[int, Any] = {}
            try:
                data = _converter(marks)(node)
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
            yield ParsedDocument(data, node, start, end, lines=LineIndex(data, marks))
    finally:
        loader.dispose()


class LineIndex:
    """The lines of one document's fields, recorded while its data was built."""

    __slots__ = ("_marks", "_root")

    def __init__(self, root: Any, marks: dict[int, Any]) -> None:
        self._root = root
        self._marks = marks

    def line(self, path: tuple[str | int, ...], data: Any = None) -> int:
        """The 1-based line of ``path`` below ``data`` (the document root by default).

        Where the path leaves the data, the line of its deepest existing part.
        """
        node = self._root if data is None else data
        line = -1
        for step in path:
            lines = self._marks.get(id(node))
            if lines is None:
                break
            if type(node) is dict and isinstance(step, str) and step in node:
                line = lines.get(step, line)
            elif type(node) is list and isinstance(step, int) and 0 <= step < len(node):
                line = lines[step]
            else:
                break
            node = node[step]
        return line + 1


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

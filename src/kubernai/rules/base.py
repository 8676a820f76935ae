"""Rule, Finding and the registry that validates rules as they are defined."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from kubernai.model.features import FEATURES
from kubernai.model.graph import ObjectGraph
from kubernai.model.mechanisms import mechanisms
from kubernai.model.resource import Path, Resource, format_path


class Severity(StrEnum):
    """How bad a finding is: error fails or loses data, warning degrades or risks."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse."""
        return {"info": 1, "warning": 2, "error": 3}[self.value]


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """The object a finding is about."""

    api_version: str
    kind: str
    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place."""

    code: str
    name: str
    severity: Severity
    mechanism: str
    message: str
    file: str
    line: int
    obj: ObjectRef | None = None
    path: str = ""

    @property
    def sort_key(self) -> tuple[str, int, str, str]:
        """File, line, code, message: the order every report uses."""
        return (self.file, self.line, self.code, self.message)


_CODE = re.compile(r"(SRV|TRN|CLU|OPS|KAI)[0-9]{3}")
_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)+")
_BANNED_PREFIXES = ("use-", "avoid-", "prefer-", "no-", "do-not-")
_SECTIONS = ("## Mechanism", "## Example", "## Use instead", "## References")
_PREFIX_SECTION = {"SRV": "serve", "TRN": "train", "CLU": "cluster", "OPS": "operate"}

REGISTRY: dict[str, type[Rule]] = {}
"""Every rule by code, in definition order."""


class RuleDefinitionError(TypeError):
    """A rule class that breaks the conventions; raised when it is imported."""


class Rule:
    """Base of every rule. Subclasses set the metadata and implement ``check``.

    The class docstring is the rule's documentation: a summary line, then the
    sections Mechanism, Example, Use instead and References, in that order.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    mechanism: ClassVar[str]
    since: ClassVar[str] = "0.1.0"
    aliases: ClassVar[tuple[str, ...]] = ()
    enabled_by_default: ClassVar[bool] = True
    tool_level: ClassVar[bool] = False
    """Tool-level rules (``KAI``) are raised by the engine, not by ``check``."""
    kinds: ClassVar[frozenset[str]] = frozenset()
    """Run only on objects of these kinds (empty: every kind)."""
    workloads_only: ClassVar[bool] = False
    """Run only on objects with pod templates (see the workload table)."""
    requires: ClassVar[frozenset[str]] = frozenset()
    """Run only on objects that have all these features (``model/features.py``).

    Set one only where ``check`` provably finds nothing in an object without it.
    """

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        _validate(cls)
        REGISTRY[cls.code] = cls

    def __init__(self, severity: Severity | None = None) -> None:
        self.effective_severity = severity or self.severity

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        """Yield the findings of this rule on ``resource``."""
        return iter(())

    def finding(self, resource: Resource, message: str, *, path: Path = ()) -> Finding:
        """A finding on ``resource`` at the field ``path`` (its line is looked up)."""
        return Finding(
            code=self.code,
            name=self.name,
            severity=self.effective_severity,
            mechanism=self.mechanism,
            message=message,
            file=resource.source.file,
            line=resource.line_of(path),
            obj=ObjectRef(
                resource.api_version, resource.kind, resource.namespace, resource.name
            ),
            path=format_path(path),
        )

    @classmethod
    def doc(cls) -> str:
        """The rule's documentation as Markdown (its docstring, dedented)."""
        return _dedent(cls.__doc__ or "")

    @classmethod
    def summary(cls) -> str:
        """The first line of the documentation."""
        return cls.doc().split("\n", 1)[0].strip()

    @classmethod
    def section_text(cls, heading: str) -> str:
        """The text under ``## heading`` in the documentation."""
        parts = re.split(r"^## (.+)$", cls.doc(), flags=re.M)
        for title, body in zip(parts[1::2], parts[2::2], strict=True):
            if title.strip() == heading:
                return body.strip()
        return ""


def _dedent(doc: str) -> str:
    lines = doc.expandtabs().splitlines()
    if not lines:
        return ""
    rest = [line for line in lines[1:] if line.strip()]
    indent = min((len(line) - len(line.lstrip()) for line in rest), default=0)
    body = [line[indent:] for line in lines[1:]]
    return "\n".join([lines[0].strip(), *body]).strip() + "\n"


def _validate(cls: type[Rule]) -> None:
    where = f"rule class {cls.__name__}"
    for attribute in ("code", "name", "severity", "mechanism"):
        if attribute not in cls.__dict__:
            raise RuleDefinitionError(f"{where} does not set {attribute!r}")
    if not _CODE.fullmatch(cls.code):
        raise RuleDefinitionError(
            f"{where}: code {cls.code!r} is not PREFIX + 3 digits"
        )
    if cls.code in REGISTRY:
        raise RuleDefinitionError(f"{where}: code {cls.code} is taken")
    if not _NAME.fullmatch(cls.name) or cls.name.startswith(_BANNED_PREFIXES):
        raise RuleDefinitionError(
            f"{where}: name {cls.name!r} is not a kebab-case problem"
        )
    if any(
        rule.name == cls.name or cls.name in rule.aliases for rule in REGISTRY.values()
    ):
        raise RuleDefinitionError(f"{where}: name {cls.name!r} is taken")
    expected = "".join(part.title() for part in cls.name.split("-"))
    if cls.__name__.lower() != expected.lower():
        raise RuleDefinitionError(
            f"{where}: the class for {cls.name!r} is named {expected}"
        )
    if not isinstance(cls.severity, Severity):
        raise RuleDefinitionError(f"{where}: severity must be a Severity")
    unknown = sorted(cls.requires - FEATURES.keys())
    if unknown:
        raise RuleDefinitionError(f"{where}: requires unknown features {unknown}")
    prefix = cls.code[:3]
    if prefix == "KAI":
        if not cls.tool_level:
            raise RuleDefinitionError(f"{where}: KAI codes are for tool-level rules")
    else:
        known = mechanisms().get(cls.mechanism)
        if known is None:
            raise RuleDefinitionError(f"{where}: unknown mechanism {cls.mechanism!r}")
        if known.section != _PREFIX_SECTION[prefix]:
            raise RuleDefinitionError(
                f"{where}: {cls.code} is a {_PREFIX_SECTION[prefix]} code but "
                f"{cls.mechanism!r} is in the {known.section} section"
            )
    doc = cls.doc()
    if not doc.split("\n", 1)[0].strip():
        raise RuleDefinitionError(f"{where}: the docstring needs a summary line")
    headings = tuple(re.findall(r"^## .+$", doc, flags=re.M))
    if headings != _SECTIONS:
        raise RuleDefinitionError(
            f"{where}: doc sections are {list(headings)}, expected {list(_SECTIONS)}"
        )

"""``.kubernai.yaml``: which rules run, at what severity, what is exempt, cluster facts.

```yaml
rules:
  enable: [CLU002]                 # also turn on rules that are off by default
  disable: [cpu-pod-tolerates-gpu-taint]
  severity: {CLU001: error}
exempt:
  - namespace: "kube-*"            # globs; every given field must match
    name: "nvidia-*"
    kind: DaemonSet
    rules: [CLU002]                # omitted: every rule
cluster:
  gpu_taint: {key: nvidia.com/gpu, value: present, effect: NoSchedule}
  extended_resource_toleration: true
  kubernetes_version: "1.31"
  gpu_product: NVIDIA-H100-80GB-HBM3
```
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml

from kubernai.errors import ConfigError
from kubernai.load.files import decode
from kubernai.load.tree import node_line, parse_documents
from kubernai.model.facts import ClusterFacts
from kubernai.model.gpu import Taint
from kubernai.model.resource import Path, Resource
from kubernai.rules.base import Rule, Severity
from kubernai.rules.catalog import rule_for

CONFIG_NAMES = (".kubernai.yaml", ".kubernai.yml")
_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


@dataclass(frozen=True, slots=True)
class Exemption:
    """Objects some rules (or all) are not run on."""

    codes: frozenset[str] = frozenset()
    namespace: str = ""
    name: str = ""
    kind: str = ""

    def covers(self, code: str, resource: Resource) -> bool:
        """Whether this exemption applies to ``code`` on ``resource``."""
        if self.codes and code not in self.codes:
            return False
        for pattern, value in (
            (self.namespace, resource.namespace),
            (self.name, resource.name),
            (self.kind, resource.kind),
        ):
            if pattern and not fnmatch.fnmatchcase(value, pattern):
                return False
        return True


@dataclass(frozen=True, slots=True)
class Config:
    """The settings of one run."""

    enable: frozenset[str] = frozenset()
    disable: frozenset[str] = frozenset()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    exemptions: tuple[Exemption, ...] = ()
    facts: ClusterFacts = field(default_factory=ClusterFacts)
    path: str = ""


def find_config(start: FsPath) -> FsPath | None:
    """The nearest ``.kubernai.yaml`` in ``start`` or a folder above it."""
    for folder in (start, *start.parents):
        for name in CONFIG_NAMES:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None


def load_config(path: FsPath) -> Config:
    """Read and validate a config file; every mistake is a ``ConfigError``."""
    shown = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{shown}: cannot read config: {exc.strerror or exc}"
        ) from exc
    text, reason, line = decode(data)
    if text is None:
        raise ConfigError(f"{shown}:{line}: {reason}")
    return parse_config(text, shown)


def parse_config(text: str, shown: str = "<config>") -> Config:
    """Validate config ``text``; ``shown`` names it in errors."""
    try:
        documents = list(parse_documents(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = mark.line + 1 if mark is not None else 1
        raise ConfigError(f"{shown}:{where}: config is not valid YAML: {exc}") from exc
    if not documents or documents[0].data is None:
        return Config(path=shown)
    if len(documents) > 1:
        raise ConfigError(
            f"{shown}:{documents[1].start_line}: config must be one document"
        )
    document = documents[0]
    return _Parser(shown, document.node).parse(document.data)


class _Parser:
    def __init__(self, file: str, node: Any) -> None:
        self.file = file
        self.node = node

    def fail(self, path: Path, message: str) -> ConfigError:
        return ConfigError(f"{self.file}:{node_line(self.node, path)}: {message}")

    def mapping(
        self, value: Any, path: Path, allowed: tuple[str, ...]
    ) -> Mapping[str, Any]:
        where = ".".join(str(p) for p in path) or "the config"
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(
                path, f"{where} must be a mapping, not {type(value).__name__}"
            )
        for key in value:
            if key not in allowed:
                raise self.fail(
                    (*path, str(key)),
                    f"unknown key {key!r} in {where} "
                    f"(expected one of: {', '.join(allowed)})",
                )
        return value

    def rule(self, value: Any, path: Path) -> type[Rule]:
        found = rule_for(value) if isinstance(value, str) else None
        if found is None:
            raise self.fail(path, f"unknown rule {value!r} (see `kubernai rules`)")
        return found

    def rule_list(self, value: Any, path: Path) -> frozenset[str]:
        if value is None:
            return frozenset()
        if not isinstance(value, list):
            raise self.fail(path, f"{path[-1]} must be a list of rule codes or names")
        return frozenset(
            self.rule(item, (*path, i)).code for i, item in enumerate(value)
        )

    def text(self, value: Any, path: Path) -> str:
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(path, f"{path[-1]} must be a string")
        return str(value)

    def parse(self, data: Any) -> Config:
        top = self.mapping(data, (), ("rules", "exempt", "cluster"))
        rules = self.mapping(
            top.get("rules"), ("rules",), ("enable", "disable", "severity")
        )
        severities: dict[str, Severity] = {}
        levels = self.mapping(
            rules.get("severity"),
            ("rules", "severity"),
            tuple(str(k) for k in rules.get("severity") or {}),
        )
        for key, level in levels.items():
            code = self.rule(key, ("rules", "severity", key)).code
            if level not in tuple(Severity):
                raise self.fail(
                    ("rules", "severity", key),
                    f"severity {level!r} is not one of error, warning, info",
                )
            severities[code] = Severity(level)
        return Config(
            enable=self.rule_list(rules.get("enable"), ("rules", "enable")),
            disable=self.rule_list(rules.get("disable"), ("rules", "disable")),
            severity=severities,
            exemptions=self.exemptions(top.get("exempt")),
            facts=self.facts(top.get("cluster")),
            path=self.file,
        )

    def exemptions(self, value: Any) -> tuple[Exemption, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(
                ("exempt",), "exempt must be a list of {namespace, name, kind, rules}"
            )
        found = []
        for index, item in enumerate(value):
            path: Path = ("exempt", index)
            entry = self.mapping(item, path, ("namespace", "name", "kind", "rules"))
            exemption = Exemption(
                codes=self.rule_list(entry.get("rules"), (*path, "rules")),
                namespace=self.text(entry.get("namespace"), (*path, "namespace")),
                name=self.text(entry.get("name"), (*path, "name")),
                kind=self.text(entry.get("kind"), (*path, "kind")),
            )
            if not (exemption.namespace or exemption.name or exemption.kind):
                raise self.fail(
                    path, "an exemption needs a namespace, name or kind pattern"
                )
            found.append(exemption)
        return tuple(found)

    def facts(self, value: Any) -> ClusterFacts:
        allowed = (
            "gpu_taint",
            "extended_resource_toleration",
            "kubernetes_version",
            "gpu_product",
        )
        cluster = self.mapping(value, ("cluster",), allowed)
        defaults = ClusterFacts()
        taint = defaults.gpu_taint
        if "gpu_taint" in cluster:
            path: Path = ("cluster", "gpu_taint")
            raw = self.mapping(cluster["gpu_taint"], path, ("key", "value", "effect"))
            key = self.text(raw.get("key"), (*path, "key")) or taint.key
            effect = self.text(raw.get("effect"), (*path, "effect")) or taint.effect
            if effect not in _EFFECTS:
                raise self.fail(
                    (*path, "effect"),
                    f"effect {effect!r} is not one of {', '.join(_EFFECTS)}",
                )
            value_text = (
                self.text(raw.get("value"), (*path, "value"))
                if "value" in raw
                else None
            )
            taint = Taint(key, value_text, effect)
        toleration = cluster.get("extended_resource_toleration", False)
        if not isinstance(toleration, bool):
            raise self.fail(
                ("cluster", "extended_resource_toleration"),
                "extended_resource_toleration must be true or false",
            )
        return ClusterFacts(
            configured=bool(cluster),
            gpu_taint=taint,
            extended_resource_toleration=toleration,
            kubernetes_version=self.text(
                cluster.get("kubernetes_version"), ("cluster", "kubernetes_version")
            ),
            gpu_product=self.text(
                cluster.get("gpu_product"), ("cluster", "gpu_product")
            ),
        )

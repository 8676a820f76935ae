"""KubeletConfiguration documents: on their own, or embedded in a ConfigMap's data.

Sources (kubernetes/kubernetes):
- ``staging/src/k8s.io/kubelet/config/v1beta1/types.go``: the field names
  (``evictionHard``, ``evictionSoft``, ``evictionSoftGracePeriod``,
  ``evictionMaxPodGracePeriod`` (default 0), ``mergeDefaultEvictionSettings``,
  ``shutdownGracePeriod``, ``shutdownGracePeriodCriticalPods`` (both default
  0: graceful node shutdown off), ``shutdownGracePeriodByPodPriority``,
  ``registerWithTaints``);
- ``cmd/kubelet/app/server.go`` (``loadConfigFile``): the default
  ``evictionHard`` applies only when the field is nil; with any signal set the
  others are not defaulted unless ``mergeDefaultEvictionSettings`` is true;
- ``metav1.Duration``: Go ``time.ParseDuration`` strings (``30s``, ``1h30m``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import yaml

from kubernai.model.gpu import is_accelerator
from kubernai.model.resource import Path, Resource, get_str, iter_maps

KIND = "KubeletConfiguration"
GROUP = "kubelet.config.k8s.io"
_MAX_EMBEDDED_CHARS = 200_000

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class KubeletConfig:
    """One KubeletConfiguration and where findings about it point.

    ``key`` is the ConfigMap data key holding it (``""`` for a document of its
    own); embedded fields have no line of their own, so their findings point
    at the data key.
    """

    raw: Mapping[str, Any]
    key: str = ""

    def field_path(self, *steps: str | int) -> Path:
        """Path of a field, or of the data key when the configuration is embedded."""
        return ("data", self.key) if self.key else steps

    def where(self, field: str) -> str:
        """A field as messages name it: ``data[kubelet] evictionHard`` if embedded."""
        return f"data[{self.key}] {field}" if self.key else field


def is_kubelet_configuration(data: Any) -> bool:
    """Whether ``data`` is a KubeletConfiguration document."""
    return (
        isinstance(data, Mapping)
        and data.get("kind") == KIND
        and get_str(data, "apiVersion").startswith(GROUP + "/")
    )


def kubelet_configs(resource: Resource) -> Iterator[KubeletConfig]:
    """The KubeletConfigurations that ``resource`` is or carries."""
    if resource.kind == KIND:
        if resource.group == GROUP:
            yield KubeletConfig(resource.raw)
        return
    if resource.kind != "ConfigMap":
        return
    data = resource.raw.get("data")
    if not isinstance(data, Mapping):
        return
    for key, text in data.items():
        if (
            isinstance(key, str)
            and isinstance(text, str)
            and KIND in text
            and len(text) <= _MAX_EMBEDDED_CHARS
        ):
            for document in _documents(text):
                yield KubeletConfig(document, key)


@lru_cache(maxsize=64)
def _documents(text: str) -> tuple[Mapping[str, Any], ...]:
    """Configurations in one ConfigMap value; anchors, aliases and templates refused."""
    if "{{" in text:
        return ()  # a Helm template not rendered yet
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, yaml.AliasEvent):
                return ()
        loaded = list(yaml.load_all(text, Loader=_LOADER))  # a safe loader
    except (yaml.YAMLError, RecursionError, ValueError):
        return ()
    return tuple(d for d in loaded if is_kubelet_configuration(d))


_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": Fraction(1, 10**9),
    "us": Fraction(1, 10**6),
    "µs": Fraction(1, 10**6),
    "μs": Fraction(1, 10**6),
    "ms": Fraction(1, 1000),
    "s": Fraction(1),
    "m": Fraction(60),
    "h": Fraction(3600),
}


def parse_duration(value: Any) -> Fraction | None:
    """Seconds of a Go duration string (``"1h30m"``, ``"0"``); ``None`` if not one."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = value.strip()
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    if text == "0":
        return Fraction(0)
    total = Fraction(0)
    position = 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        total += Fraction(match[1]) * _UNIT_SECONDS[match[2]]
        position = match.end()
    if position != len(text) or not text:
        return None
    return sign * total


@cache
def default_eviction_hard() -> dict[str, str]:
    """The default hard thresholds on Linux, from ``data/kubelet_eviction.json``."""
    text = (
        resources.files("kubernai")
        .joinpath("data/kubelet_eviction.json")
        .read_text("utf-8")
    )
    return {
        item["signal"]: item["threshold"]
        for item in json.loads(text)["eviction_hard_defaults"]
    }


def _gpu_word(text: str) -> bool:
    return "gpu" in re.split(r"[^a-z0-9]+", text.lower())


def gpu_node_hint(config: KubeletConfig, resource: Resource, gpu_taint_key: str) -> str:
    """Why the configuration is for GPU nodes, or ``""``.

    A ``registerWithTaints`` entry with an accelerator or GPU-taint key, or a
    ConfigMap whose name or labels have the word ``gpu``.
    """
    for _, taint in iter_maps(config.raw, "registerWithTaints"):
        key = get_str(taint, "key")
        if key and (key == gpu_taint_key or is_accelerator(key)):
            return f"registerWithTaints has {key}"
    if config.key:
        if _gpu_word(resource.name):
            return f"ConfigMap {resource.name!r}"
        for label, value in resource.labels.items():
            if isinstance(label, str) and (
                _gpu_word(label) or (isinstance(value, str) and _gpu_word(value))
            ):
                return f"label {label}={value}"
    return ""

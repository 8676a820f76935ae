"""Training data streamed from object storage: shard caches, remotes, credentials.

MosaicML streaming (mosaicml/streaming, ``streaming/base/dataset.py`` and
``stream.py``): ``StreamingDataset(remote=..., local=..., cache_limit=...)``
downloads shards from ``remote`` into the directory ``local`` and, only when
``cache_limit`` is set, evicts the least recently used ones to stay under it.
Its settings reach a manifest in three ways, all read here:

- a YAML config (llm-foundry, Composer) kept in a ConfigMap that is mounted
  into the container and named on its command line: a mapping under a key
  named ``dataset`` holds ``remote``, ``local`` and ``cache_limit``, or
  ``streams: {name: {remote, local}}`` with ``cache_limit`` beside it.
  ``${a.b}`` interpolations are resolved within the file, from command-line
  overrides and (``${oc.env:NAME,default}``) from the container's env;
- dotted overrides on the command line, as OmegaConf reads them
  (``train_loader.dataset.local=/x``, ``+train_loader.dataset.cache_limit=10gb``,
  ``variables.data_local=/x``);
- literal keyword arguments of ``StreamingDataset(...)``,
  ``Streaming*Dataset(...)`` and ``Stream(...)`` calls in inline Python.

``cache_limit`` is a byte count: a number, or a string read by
``streaming.base.util.bytes_to_int``, where ``kb`` ... ``yb`` are powers of
1024, ``b`` or no suffix means bytes and anything else (``10Gi``, ``10G``,
``10GiB``) raises ``ValueError``. Numeric strings (``1e10``) count as numbers,
since OmegaConf loads them as such.

Also here: Hugging Face datasets' cache (``HF_DATASETS_CACHE``,
``datasets/config.py``), WebDataset's ``WDS_CACHE_SIZE`` (read with ``int()``
by ``WebDataset(...)``, ``webdataset/compat.py`` 0.2.x to 0.3.x), object-store
URIs a training pod reads or writes, and the credentials a manifest shows
for them.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import yaml

from kubernai.model.graph import ObjectGraph
from kubernai.model.model_download import command_lines, env_values, expand, mount_for
from kubernai.model.resource import (
    Path,
    Resource,
    get_list,
    get_map,
    get_path,
    get_str,
    is_placeholder,
    iter_maps,
)
from kubernai.model.servers import Token
from kubernai.model.training import launches, mounted_file
from kubernai.model.workload import Container, PodTemplate, memoised

MOSAICML = "MosaicML streaming"
HF_DATASETS_CACHE = "HF_DATASETS_CACHE"
WDS_CACHE_SIZE = "WDS_CACHE_SIZE"
S3_ENDPOINT_URL = "S3_ENDPOINT_URL"

MDS_DEFAULT_SHARD_BYTES = 1 << 26
"""``MDSWriter(size_limit=1 << 26)``: the default shard size (mds/writer.py)."""
CACHE_LIMIT_SHARD_FACTOR = 4
"""StreamingDataset refuses a ``cache_limit`` below 4 x the largest shard."""

STREAMING_SCHEMES = frozenset(
    {"s3", "gs", "oci", "hf", "azure", "azure-dl", "sftp", "dbfs", "alipan"}
)
"""Remote schemes with a downloader in streaming/base/storage/download.py."""

_BYTE_UNITS = {
    "kb": 1024,
    "mb": 1024**2,
    "gb": 1024**3,
    "tb": 1024**4,
    "pb": 1024**5,
    "eb": 1024**6,
    "zb": 1024**7,
    "yb": 1024**8,
}
_NUMBER = re.compile(r"[-+]?(\d[\d_]*)?(\.[\d_]*)?([eE][-+]?\d+)?")
_INT = re.compile(r"[-+]?\d+(_\d+)*")
_OVERRIDE = re.compile(
    r"\+{0,2}([A-Za-z_][\w-]*(?:\.[\w-]+)+|data_local|data_remote)=(.*)", re.S
)
_INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_OBJECT_STORE = re.compile(
    r"\b(s3|s3a|gs|gcs|az|abfss?|wasbs?|azure|azure-dl|oci)://([^\s'\"`,;)\]}]*)",
    re.I,
)
_CONFIG_FILE = re.compile(r"/[^\s'\"]*\.(ya?ml|json)")
_DATASET_CALL = re.compile(r"\b(StreamingDataset|Streaming[A-Za-z]*Dataset)\s*\(")
_STREAM_CALL = re.compile(r"(?:(?<![\w.])|(?<=\bstreaming\.))Stream\s*\(")
_STREAMS_LITERAL = re.compile(r"\bstreams\s*=\s*[,)]")
_KWARG = re.compile(
    r"\b(remote|local|cache_limit|streams)\s*=\s*"
    r"(?:'([^']*)'|\"([^\"]*)\"|(None)\b|([-+]?[\d.][\w.+-]*)|([A-Za-z_][\w.\[\]'\"]*))"
)
_MAX_CONFIG_CHARS = 200_000
_MAX_DEPTH = 6
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# -- byte counts ---------------------------------------------------------------


def _number(text: str) -> float | None:
    """``text`` as a number when it reads as one (``10``, ``1e10``, ``2.5``)."""
    stripped = text.strip()
    if (
        not stripped
        or not _NUMBER.fullmatch(stripped)
        or not any(c.isdigit() for c in stripped)
    ):
        return None
    try:
        return float(stripped.replace("_", ""))
    except ValueError:
        return None


def cache_limit_bytes(value: Any) -> int | None:
    """A ``cache_limit`` in bytes as StreamingDataset reads it; ``None`` if refused.

    Strings follow ``bytes_to_int``: ``kb`` to ``yb`` (case-insensitive) are
    powers of 1024 and may carry a decimal fraction; ``b`` or no suffix is a
    whole number of bytes.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) != float("inf") else None
    if not isinstance(value, str):
        return None
    number = _number(value)
    if number is not None:
        return cache_limit_bytes(number)
    text = value.lower().strip()
    for suffix, factor in _BYTE_UNITS.items():
        if text.endswith(suffix):
            amount = _number(text[: -len(suffix)])
            return None if amount is None else cache_limit_bytes(amount * factor)
    if text.endswith("b") and text[:-1].isdigit():
        return int(text[:-1])
    return None


def parses_as_int(value: str) -> bool:
    """Whether Python's ``int()`` accepts ``value`` (``WDS_CACHE_SIZE``)."""
    return _INT.fullmatch(value.strip()) is not None


def format_bytes(count: int) -> str:
    """``count`` bytes with a binary unit for messages (``10 GiB``)."""
    for unit, factor in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)):
        if abs(count) >= factor:
            amount = count / factor
            text = f"{amount:.1f}".removesuffix(".0")
            return f"{text} {unit}"
    return f"{count} bytes"


def _raw_text(container: Container) -> str:
    """``command`` and ``args`` joined, for cheap tests before any parsing."""
    return memoised(
        container,
        "data_streaming.raw",
        lambda: "\n".join(
            str(item)
            for key in ("command", "args")
            for item in get_list(container.raw, key)
            if isinstance(item, str | int | float)
        ),
    )


def _lines(container: Container) -> list[list[Token]]:
    """The container's command lines, split once per container."""
    return memoised(container, "data_streaming.lines", lambda: command_lines(container))


def _env(container: Container) -> Mapping[str, str]:
    """The container's literal env values, read once per container."""
    return env_values(container)


# -- settings --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Setting:
    """One value a data loader receives, and where the manifest gives it."""

    value: Any
    """A str, int, float or ``None`` (``null``); meaningless when not ``known``."""
    where: Path
    """The field of the workload to report (a command-line or env element)."""
    shown: str
    """How messages quote it: ``train_loader.dataset.cache_limit=10Gi``..."""
    known: bool = True
    """False when given but not readable here (a Python variable)."""

    @property
    def text(self) -> str:
        """The value as text (``""`` for ``null`` or an unknown value)."""
        if not self.known or self.value is None:
            return ""
        return str(self.value).strip()


@dataclass(frozen=True, slots=True)
class StreamingConfig:
    """One MosaicML ``StreamingDataset`` (or one of its streams) in a container."""

    container: Container
    name: str
    """The dataset's key path (``train_loader.dataset``) or call, for messages."""
    remote: Setting | None
    local: Setting | None
    cache_limit: Setting | None
    complete: bool
    """Every setting of the dataset is visible, so a missing one is really unset."""

    @property
    def remote_text(self) -> str:
        """The remote as written (``""`` when unset, ``null`` or unknown)."""
        return self.remote.text if self.remote is not None else ""

    @property
    def local_dir(self) -> str | None:
        """The absolute cache directory, or ``None`` when it cannot be told."""
        if self.local is None or not self.local.text:
            return None
        return absolute_dir(self.local.text)

    @property
    def limit_set(self) -> bool:
        """Whether ``cache_limit`` switches eviction on (``if self.cache_limit:``).

        A limit given but not readable here counts as set.
        """
        if self.cache_limit is None:
            return False
        return not self.cache_limit.known or bool(self.cache_limit.value)

    @property
    def downloads(self) -> bool:
        """Whether shards are fetched from a remote into ``local``.

        A remote that is only known to be set (a Python variable) counts too.
        """
        if self.remote is None:
            return False
        if not self.remote.known:
            return True
        remote = self.remote_text
        return bool(remote) and absolute_dir(remote) != self.local_dir


def absolute_dir(text: str) -> str | None:
    """An absolute, normalised directory; ``None`` for relative or templated paths."""
    value = text.strip()
    if not value.startswith("/") or any(mark in value for mark in ("$", "{{", "*")):
        return None
    return posixpath.normpath(value).replace("//", "/")


def streaming_configs(
    resource: Resource, template: PodTemplate, graph: ObjectGraph
) -> tuple[StreamingConfig, ...]:
    """The MosaicML streaming datasets the template's containers configure.

    Computed once per template.
    """
    return memoised(
        template,
        "data_streaming.configs",
        lambda: tuple(
            found
            for container in template.containers
            for found in _container_configs(resource, template, container, graph)
        ),
    )


def _scalar(text: str) -> Any:
    """An override value as OmegaConf reads it: null, a number or a string."""
    value = text.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    if value in ("null", "~", "None", ""):
        return None
    if _INT.fullmatch(value):
        return int(value.replace("_", ""))
    number = _number(value)
    return number if number is not None else value


def _overrides(
    container: Container, lines: list[list[Token]], env: Mapping[str, str]
) -> dict[str, tuple[Any, Token]]:
    found: dict[str, tuple[Any, Token]] = {}
    for line in lines:
        for token in line:
            match = _OVERRIDE.fullmatch(expand(token.text, env))
            if match is not None:
                found[match.group(1)] = (_scalar(match.group(2)), token)
    return found


@lru_cache(maxsize=256)
def _parse_config(text: str) -> Mapping[str, Any] | None:
    """A YAML or JSON config; aliases, templates and huge files are refused."""
    if len(text) > _MAX_CONFIG_CHARS or "{{" in text:
        return None
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, yaml.AliasEvent):
                return None
        data = yaml.load(text, Loader=_LOADER)  # a safe loader (CSafeLoader)
    except (yaml.YAMLError, RecursionError, ValueError):
        return None
    return data if isinstance(data, Mapping) else None


@dataclass(frozen=True, slots=True)
class _Config:
    data: Mapping[str, Any]
    token: Token
    label: str


def _configs(
    resource: Resource,
    template: PodTemplate,
    container: Container,
    graph: ObjectGraph,
) -> list[_Config]:
    """The config files named on the command line and mounted from ConfigMaps."""
    return memoised(
        container,
        "data_streaming.config_files",
        lambda: _config_files(resource, template, container, graph),
    )


def _may_name_config_file(template: PodTemplate, text: str) -> bool:
    """Whether a command line (``_raw_text``) may name a config file of a volume."""
    return bool(get_list(template.spec, "volumes")) and any(
        suffix in text for suffix in (".yaml", ".yml", ".json")
    )


def _config_files(
    resource: Resource,
    template: PodTemplate,
    container: Container,
    graph: ObjectGraph,
) -> list[_Config]:
    if not _may_name_config_file(template, _raw_text(container)):
        return []
    env = _env(container)
    lines = _lines(container)
    found: list[_Config] = []
    seen: set[tuple[str, str]] = set()
    for line in lines:
        for token in line:
            word = expand(token.text, env)
            for match in _CONFIG_FILE.finditer(word):
                mounted = mounted_file(
                    resource, template, container, match.group(0), graph
                )
                if mounted is None:
                    continue
                configmap, key = mounted
                if (configmap.name, key) in seen:
                    continue
                seen.add((configmap.name, key))
                body = get_path(configmap.raw, "data", key)
                data = _parse_config(body) if isinstance(body, str) else None
                if data is not None:
                    label = f"ConfigMap {configmap.name!r} key {key!r}"
                    found.append(_Config(data, token, label))
    return found


class _Resolver:
    """Looks dotted keys up in command-line overrides, then in a config."""

    def __init__(
        self,
        overrides: Mapping[str, tuple[Any, Token]],
        config: _Config | None,
        env: Mapping[str, str],
    ) -> None:
        self.overrides = overrides
        self.config = config
        self.env = env

    def setting(self, key: str) -> Setting | None:
        """The setting at ``key``; ``None`` when neither source gives it."""
        if key in self.overrides:
            value, token = self.overrides[key]
            resolved, known = self._resolve(value, 0)
            known = known and not is_placeholder(resolved)
            return Setting(resolved, token.path, f"{key}={value}", known)
        if self.config is None:
            return None
        raw, present = self._lookup(key)
        if not present:
            return None
        resolved, known = self._resolve(raw, 0)
        known = known and not is_placeholder(resolved)
        shown = f"{key}: {resolved if known else raw} in {self.config.label}"
        return Setting(resolved, self.config.token.path, shown, known)

    def _lookup(self, key: str) -> tuple[Any, bool]:
        data: Any = self.config.data if self.config is not None else None
        for part in key.split("."):
            if not isinstance(data, Mapping) or part not in data:
                return None, False
            data = data[part]
        return data, True

    def _value(self, key: str, depth: int) -> tuple[Any, bool]:
        if key.startswith("oc.env:"):
            name, _, default = key[len("oc.env:") :].partition(",")
            if name.strip() in self.env:
                return self.env[name.strip()], True
            return (default.strip(), True) if default else (None, False)
        if key in self.overrides:
            return self._resolve(self.overrides[key][0], depth + 1)
        raw, present = self._lookup(key)
        return self._resolve(raw, depth + 1) if present else (None, False)

    def _resolve(self, value: Any, depth: int) -> tuple[Any, bool]:
        if not isinstance(value, str) or "${" not in value:
            return value, True
        if depth > _MAX_DEPTH:
            return None, False
        whole = _INTERPOLATION.fullmatch(value.strip())
        if whole is not None:
            return self._value(whole.group(1).strip(), depth)
        parts: list[str] = []
        position = 0
        for match in _INTERPOLATION.finditer(value):
            found, known = self._value(match.group(1).strip(), depth)
            if not known or found is None:
                return None, False
            parts.extend((value[position : match.start()], str(found)))
            position = match.end()
        parts.append(value[position:])
        text = "".join(parts)
        return (None, False) if "${" in text else (text, True)


def _dataset_keys(data: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted keys of the mappings named ``dataset`` in a config."""
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, Mapping):
            continue
        path = f"{prefix}.{key}" if prefix else key
        if key == "dataset":
            yield path
        elif path.count(".") < _MAX_DEPTH:
            yield from _dataset_keys(value, path)


def _from_dataset(
    container: Container, resolver: _Resolver, key: str, complete: bool
) -> Iterator[StreamingConfig]:
    limit = resolver.setting(f"{key}.cache_limit")
    streams = get_map(resolver.config.data if resolver.config else {}, *key.split("."))
    names = [
        n for n, s in get_map(streams, "streams").items() if isinstance(s, Mapping)
    ]
    names += [
        k[len(key) + 9 :].split(".", 1)[0]
        for k in resolver.overrides
        if k.startswith(f"{key}.streams.")
    ]
    if names:
        for name in dict.fromkeys(str(n) for n in names):
            stream = f"{key}.streams.{name}"
            remote = resolver.setting(f"{stream}.remote")
            local = resolver.setting(f"{stream}.local")
            if remote is not None or local is not None:
                yield StreamingConfig(container, stream, remote, local, limit, complete)
        return
    remote = resolver.setting(f"{key}.remote")
    local = resolver.setting(f"{key}.local")
    if remote is not None or local is not None or limit is not None:
        yield StreamingConfig(container, key, remote, local, limit, complete)


def _container_configs(
    resource: Resource,
    template: PodTemplate,
    container: Container,
    graph: ObjectGraph,
) -> Iterator[StreamingConfig]:
    text = _raw_text(container)
    wanted = ".dataset." in text or "data_local" in text or "data_remote" in text
    if (
        not wanted
        and "Stream" not in text
        and not _may_name_config_file(template, text)
    ):
        return  # no overrides, no Python dataset call and no config file to read
    env = _env(container)
    lines = _lines(container) if wanted else []
    overrides = _overrides(container, lines, env)
    configs = _configs(resource, template, container, graph)
    covered: set[str] = set()
    for config in configs:
        resolver = _Resolver(overrides, config, env)
        for key in _dataset_keys(config.data):
            covered.add(key)
            yield from _from_dataset(container, resolver, key, complete=True)
    orphans = {
        key.rsplit(".dataset.", 1)[0] + ".dataset"
        for key in overrides
        if ".dataset." in key and not key.startswith("variables.")
    }
    resolver = _Resolver(overrides, None, env)
    for key in sorted(orphans - covered):
        yield from _from_dataset(container, resolver, key, complete=False)
    yield from _python_configs(container, env)


def _close(text: str, start: int) -> int | None:
    """Index of the parenthesis closing the one at ``start``; quotes skipped."""
    depth, quote, index = 0, "", start
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return None


def _top_level(text: str) -> str:
    """The call's argument text with nested brackets blanked out."""
    out: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
            out.append(char if depth == 1 else " ")
            continue
        if char in "'\"":
            quote = char
        if char in "([{":
            depth += 1
            out.append(char if depth == 1 else " ")
        elif char in ")]}":
            out.append(char if depth == 1 else " ")
            depth -= 1
        else:
            out.append(char if depth == 1 else " ")
    return "".join(out)


def _kwargs(call: str, path: Path) -> dict[str, Setting]:
    found: dict[str, Setting] = {}
    top = _top_level(call)
    if _STREAMS_LITERAL.search(top):
        # ``streams=[Stream(...), ...]`` written out: blanked by _top_level.
        found["streams"] = Setting(None, path, "streams=[...]")
    for match in _KWARG.finditer(top):
        name = match.group(1)
        single, double, none, number, variable = match.groups()[1:]
        shown = match.group(0).strip()
        if single is not None or double is not None:
            value = single if single is not None else double
            found[name] = Setting(value, path, shown, not is_placeholder(value))
        elif none is not None:
            found[name] = Setting(None, path, shown)
        elif number is not None:
            found[name] = Setting(_scalar(number), path, shown)
        else:
            found[name] = Setting(variable, path, shown, known=False)
    return found


def _python_configs(
    container: Container, env: Mapping[str, str]
) -> Iterator[StreamingConfig]:
    for key in ("command", "args"):
        for index, item in enumerate(get_list(container.raw, key)):
            if not isinstance(item, str) or "Stream" not in item:
                continue
            text = expand(item, env, shell=False)
            path: Path = (*container.path, key, index)
            claimed: list[tuple[int, int]] = []
            for call in _DATASET_CALL.finditer(text):
                end = _close(text, call.end() - 1)
                if end is None:
                    continue
                body = text[call.end() - 1 : end + 1]
                args = _kwargs(body, path)
                limit = args.get("cache_limit")
                complete = "**" not in _top_level(body)
                if "streams" in args:
                    for stream in _STREAM_CALL.finditer(text, call.end(), end):
                        close = _close(text, stream.end() - 1)
                        if close is None:
                            continue
                        claimed.append((stream.start(), close))
                        own = _kwargs(text[stream.end() - 1 : close + 1], path)
                        yield StreamingConfig(
                            container,
                            f"{call.group(1)}(streams=[Stream(...)])",
                            own.get("remote"),
                            own.get("local"),
                            limit,
                            complete and "streams" in args and args["streams"].known,
                        )
                elif "remote" in args or "local" in args:
                    yield StreamingConfig(
                        container,
                        f"{call.group(1)}(...)",
                        args.get("remote"),
                        args.get("local"),
                        limit,
                        complete,
                    )
            for stream in _STREAM_CALL.finditer(text):
                if any(start <= stream.start() <= end for start, end in claimed):
                    continue
                close = _close(text, stream.end() - 1)
                if close is None:
                    continue
                own = _kwargs(text[stream.end() - 1 : close + 1], path)
                if "remote" in own or "local" in own:
                    yield StreamingConfig(
                        container,
                        "Stream(...)",
                        own.get("remote"),
                        own.get("local"),
                        None,
                        complete=False,
                    )


def env_setting(container: Container, name: str) -> Setting | None:
    """A literal ``env`` value of the container (the last one of that name)."""
    values = _env(container)
    if name not in values:
        return None
    found: Setting | None = None
    for index, item in iter_maps(container.raw, "env"):
        if get_str(item, "name") != name or name not in values:
            continue
        value = values[name]
        found = Setting(
            value,
            (*container.path, "env", index, "value"),
            f"env {name}={value}",
            not is_placeholder(value),
        )
    return found


# -- where a cache directory lives ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class CacheVolume:
    """The pod volume under a cache directory, and the mount that shows it."""

    index: int
    """Index in ``spec.volumes``."""
    name: str
    volume: Mapping[str, Any]
    mount_path: str


def volume_of(
    template: PodTemplate, container: Container, directory: str
) -> CacheVolume | None:
    """The volume mounted over ``directory`` in the container, when in the input."""
    mount = mount_for(container, directory)
    if mount is None:
        return None
    name = get_str(mount[1], "name")
    for index, volume in iter_maps(template.spec, "volumes"):
        if get_str(volume, "name") == name:
            return CacheVolume(index, name, volume, get_str(mount[1], "mountPath"))
    return None


# -- training pods and object stores ---------------------------------------------------

TRAINING_KINDS = frozenset(
    {
        ("kubeflow.org", "PyTorchJob"),
        ("kubeflow.org", "TFJob"),
        ("kubeflow.org", "MPIJob"),
        ("kubeflow.org", "PaddleJob"),
        ("kubeflow.org", "XGBoostJob"),
        ("kubeflow.org", "JAXJob"),
        ("trainer.kubeflow.org", "TrainJob"),
        ("trainer.kubeflow.org", "TrainingRuntime"),
        ("trainer.kubeflow.org", "ClusterTrainingRuntime"),
    }
)


def runs_composer(container: Container) -> bool:
    """Whether the container runs MosaicML's ``composer`` launcher on a script."""
    if "composer" not in _raw_text(container):
        return False
    for line in _lines(container):
        words = [t.text for t in line]
        for index, word in enumerate(words):
            if word.rsplit("/", 1)[-1] == "composer" and any(
                w.endswith(".py") or w in ("-m", "--module_mode")
                for w in words[index + 1 :]
            ):
                return True
    return False


def is_training(resource: Resource, template: PodTemplate, graph: ObjectGraph) -> bool:
    """Whether the template runs training: a training kind, launcher or dataset."""
    if (resource.group, resource.kind) in TRAINING_KINDS:
        return True
    if next(launches(template), None) is not None:
        return True
    if any(runs_composer(c) for c in template.containers if not c.init):
        return True
    return bool(streaming_configs(resource, template, graph))


PROVIDERS = {
    "s3": "aws",
    "s3a": "aws",
    "gs": "gcp",
    "gcs": "gcp",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
    "wasb": "azure",
    "wasbs": "azure",
    "azure": "azure",
    "azure-dl": "azure",
    "oci": "oci",
}
"""Object-store URI schemes and the cloud whose credentials they need."""


@dataclass(frozen=True, slots=True)
class StoreUri:
    """An object-store URI a container reads or writes."""

    container: Container
    uri: str
    provider: str
    where: Path
    source: str = ""
    """``""`` for the command line or env, else the ConfigMap holding it."""


def _uris_in(text: str) -> Iterator[tuple[str, str]]:
    for match in _OBJECT_STORE.finditer(text):
        scheme, rest = match.group(1).lower(), match.group(2)
        if rest.startswith("anonymous@"):
            continue  # pyarrow/Ray Data's unsigned access
        yield f"{scheme}://{rest}", PROVIDERS[scheme]


def _strings(data: Any, depth: int = 0) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif depth < 12 and isinstance(data, Mapping):
        for value in data.values():
            yield from _strings(value, depth + 1)
    elif depth < 12 and isinstance(data, list):
        for value in data:
            yield from _strings(value, depth + 1)


def store_uris(
    resource: Resource, template: PodTemplate, graph: ObjectGraph
) -> tuple[StoreUri, ...]:
    """Object-store URIs in the template's command lines, env and mounted configs.

    Computed once per template.
    """
    return memoised(
        template,
        "data_streaming.store_uris",
        lambda: tuple(_store_uris(resource, template, graph)),
    )


def _store_uris(
    resource: Resource, template: PodTemplate, graph: ObjectGraph
) -> Iterator[StoreUri]:
    for container in template.containers:
        env = _env(container)
        lines = _lines(container) if "://" in _raw_text(container) else []
        for line in lines:
            for token in line:
                if "://" in token.text:
                    for uri, provider in _uris_in(expand(token.text, env)):
                        yield StoreUri(container, uri, provider, token.path)
        if any("://" in value for value in env.values()):
            for index, item in iter_maps(container.raw, "env"):
                value = env.get(get_str(item, "name"))
                if value and "://" in value:
                    where = (*container.path, "env", index, "value")
                    for uri, provider in _uris_in(value):
                        yield StoreUri(container, uri, provider, where)
        for config in _configs(resource, template, container, graph):
            for text in _strings(config.data):
                if "://" in text:
                    for uri, provider in _uris_in(text):
                        yield StoreUri(
                            container, uri, provider, config.token.path, config.label
                        )


# -- credentials ----------------------------------------------------------------------

CREDENTIAL_ENV = {
    "aws": frozenset(
        {
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_CONFIG_FILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_ARN",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        }
    ),
    "gcp": frozenset(
        {
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GCS_KEY",
            "GCS_SECRET",
            "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE",
            "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE",
        }
    ),
    "azure": frozenset(
        {
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_TENANT_ID",
            "AZURE_FEDERATED_TOKEN_FILE",
            "AZURE_CLIENT_CERTIFICATE_PATH",
            "AZURE_STORAGE_CONNECTION_STRING",
            "AZURE_STORAGE_KEY",
            "AZURE_STORAGE_ACCOUNT_KEY",
            "AZURE_STORAGE_SAS_TOKEN",
            "AZURE_ACCOUNT_ACCESS_KEY",
        }
    ),
    "oci": frozenset(
        {"OCI_CONFIG_FILE", "OCI_CLI_CONFIG_FILE", "OCI_RESOURCE_PRINCIPAL_VERSION"}
    ),
}
"""Environment variables the providers' SDKs (and streaming) take credentials from."""
_CREDENTIAL_WORDS = (
    "ACCESS_KEY",
    "SECRET_KEY",
    "SECRET_ACCESS",
    "CREDENTIAL",
    "SAS_TOKEN",
    "CONNECTION_STRING",
)
"""Parts of custom variable names that carry credentials (``S3_ACCESS_KEY``)."""
IDENTITY_ANNOTATIONS = {
    "aws": "eks.amazonaws.com/role-arn",
    "gcp": "iam.gke.io/gcp-service-account",
    "azure": "azure.workload.identity/client-id",
}
"""ServiceAccount annotations of IRSA, GKE Workload Identity and Azure Workload
Identity, which the providers' webhooks or metadata servers act on."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the manifest shows about a container's object-store credentials."""

    found: str
    """A credential source seen (``env AWS_ACCESS_KEY_ID``...), else ``""``."""
    unknown: str
    """Why the answer depends on something outside the input, else ``""``."""
    service_account: str
    """The pod's ServiceAccount name (``default`` when none is set)."""


def _credential_env(name: str, provider: str) -> bool:
    upper = name.upper()
    if upper in CREDENTIAL_ENV.get(provider, frozenset()):
        return True
    return any(word in upper for word in _CREDENTIAL_WORDS)


def credentials(
    resource: Resource,
    template: PodTemplate,
    container: Container,
    provider: str,
    graph: ObjectGraph,
) -> Credentials:
    """The credentials the manifest gives ``container`` for ``provider``."""
    account = get_str(template.spec, "serviceAccountName") or get_str(
        template.spec, "serviceAccount"
    )
    name = account or "default"

    def result(found: str = "", unknown: str = "") -> Credentials:
        return Credentials(found, unknown, name)

    if not template.complete:
        return result(unknown="the pod spec is completed by another object")
    for _, item in iter_maps(container.raw, "env"):
        if _credential_env(get_str(item, "name"), provider):
            return result(found=f"env {get_str(item, 'name')}")
    if get_list(container.raw, "envFrom"):
        return result(unknown="envFrom may hold credentials")
    secrets = _secret_volumes(template)
    for _, mount in iter_maps(container.raw, "volumeMounts"):
        if get_str(mount, "name") in secrets:
            return result(found=f"Secret volume {get_str(mount, 'name')!r}")
    if provider == "azure" and str(
        get_path(template.labels, "azure.workload.identity/use")
    ).lower() in ("true",):
        return result(found="label azure.workload.identity/use")
    service_account = graph.get("ServiceAccount", resource.namespace, name)
    if service_account is None:
        if name != "default":
            return result(unknown=f"ServiceAccount {name!r} is not in the input")
        return result()
    annotation = IDENTITY_ANNOTATIONS.get(provider)
    if annotation and get_str(service_account.annotations, annotation):
        return result(found=f"ServiceAccount {name!r} annotation {annotation}")
    return result()


def _secret_volumes(template: PodTemplate) -> set[str]:
    found: set[str] = set()
    for _, volume in iter_maps(template.spec, "volumes"):
        if "secret" in volume or "csi" in volume:
            found.add(get_str(volume, "name"))
        for _, source in iter_maps(volume, "projected", "sources"):
            if "secret" in source or "serviceAccountToken" in source:
                found.add(get_str(volume, "name"))
    return found


# -- S3-compatible endpoints -------------------------------------------------------

_DNS_NAME = re.compile(
    r"((?!-)[A-Z\d-]{1,63}(?<!-)\.)*((?!-)[A-Z\d-]{1,63}(?<!-))", re.IGNORECASE
)


def endpoint_problem(url: str) -> str:
    """Why botocore's ``is_valid_endpoint_url`` refuses ``url``, else ``""``."""
    if any(char in url for char in "\t\r\n"):
        return "it contains a tab or newline"
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return "it does not parse as a URL"
    if host is None:
        return "it has no http:// or https:// scheme"
    if len(host) > 255:
        return "its host name is longer than 255 characters"
    if host.startswith("[") or ":" in host:
        return ""  # an IPv6 address, accepted by newer botocore
    if not _DNS_NAME.fullmatch(host.removesuffix(".")):
        return f"its host {host!r} is not a valid DNS name"
    return ""


def scheme_of(uri: str) -> str:
    """The ``scheme`` of ``scheme://...``, lower-cased, else ``""``."""
    match = _SCHEME.match(uri.strip())
    return match.group(1).lower() if match else ""

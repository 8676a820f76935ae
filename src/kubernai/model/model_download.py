"""Model downloads in pod templates: which command fetches weights, and to where.

Downloaders recognised in a container's command line (``command`` + ``args``,
``sh -c`` scripts included, split into commands at newlines, ``;``, ``&&``,
``||`` and ``|``):

- ``hf download REPO [FILES] --local-dir D --cache-dir C --revision R``
  (huggingface_hub ≥ 0.34.0) and ``huggingface-cli download ...`` (removed in
  1.0.0). Without ``--local-dir`` the files land in the hub cache:
  ``--cache-dir``, else ``$HF_HUB_CACHE``, ``$HUGGINGFACE_HUB_CACHE``,
  ``$HF_HOME/hub``, ``$XDG_CACHE_HOME/huggingface/hub``, ``~/.cache/huggingface/hub``
  (huggingface_hub ``constants.py``);
- ``aws s3 cp|sync|mv SRC DST``, ``s5cmd [opts] cp|sync|mv SRC DST``,
  ``gsutil [opts] cp|rsync|mv SRC... DST``, ``gcloud storage cp|rsync|mv SRC DST``
  and ``azcopy copy|cp|sync SRC DST``, counted as downloads when the source is a
  remote URL and the destination a local path;
- ``snapshot_download(...)`` / ``hf_hub_download(...)`` calls in inline Python,
  read from their literal ``repo_id``, ``local_dir``, ``cache_dir`` and
  ``revision`` arguments;
- KServe's storage initializer image (``args: [URI, DEST]``).

Variables are expanded from the container's literal ``env`` values (``$(VAR)``
as the kubelet does, ``$VAR`` and ``${VAR}`` as a shell does) and from plain
``NAME=value`` assignments earlier in the script. A target that stays
unresolved is ``None``: unknown, never guessed.

Also here: where a pod template keeps model weights (:func:`weight_dirs`) and
which volume holds them (:func:`weight_volumes`).
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, get_list, get_path, get_str, iter_maps
from kubernai.model.servers import (
    TGI,
    ServerArgs,
    Token,
    command_tokens,
    parse_server,
)
from kubernai.model.workload import Container, PodTemplate, memoised

HF_CLI = "hf"
LEGACY_HF_CLI = "huggingface-cli"
AWS_S3 = "aws s3"
S5CMD = "s5cmd"
GSUTIL = "gsutil"
GCLOUD_STORAGE = "gcloud storage"
AZCOPY = "azcopy"
SNAPSHOT_DOWNLOAD = "snapshot_download"
KSERVE_STORAGE_INITIALIZER = "storage-initializer"

HF_TOKEN_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
"""Where huggingface_hub reads a token from, in order (``utils/_auth.py``)."""

_REMOTE = re.compile(r"^(s3|gs|az|hf|oci|abfss?|wasbs?|https?)://", re.I)
_COMMIT = re.compile(r"[0-9a-f]{40}")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.S)
_VARIABLE = re.compile(
    r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)"
    r"|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}"
    r"|\$([A-Za-z_][A-Za-z0-9_]*)"
)
_PY_CALL = re.compile(r"\b(snapshot_download|hf_hub_download)\s*\(")
_PY_KWARG = {
    name: re.compile(rf"\b{name}\s*=\s*(['\"])([^'\"]*)\1")
    for name in ("repo_id", "local_dir", "cache_dir", "revision")
}
_PY_FILTER = re.compile(r"\b(allow_patterns|ignore_patterns)\s*=")
_PY_FIRST_ARG = re.compile(r"\(\s*(['\"])([^'\"]+)\1")
_SEPARATORS = frozenset({";", "&&", "||", "|", "&", "\n", "(", ")", ";;", "|&"})

# Flags that take a value, per tool; other flags are taken as switches.
_HF_VALUE_FLAGS = frozenset(
    {"--repo-type", "--revision", "--cache-dir", "--local-dir", "--token",
     "--max-workers", "--local-dir-use-symlinks", "--format"}
)  # fmt: skip
_HF_LIST_FLAGS = frozenset({"--include", "--exclude"})
_COPY_VALUE_FLAGS = frozenset(
    {"--include", "--exclude", "--region", "--profile", "--endpoint-url", "--acl",
     "--storage-class", "--sse", "--sse-c", "--sse-c-key", "--sse-kms-key-id",
     "--content-type", "--cache-control", "--content-encoding", "--metadata",
     "--expected-size", "--page-size", "--request-payer", "--source-region",
     "--ca-bundle", "--concurrency", "--part-size", "--numworkers",
     "--credentials-file", "--log", "--retry-count", "--destination-region",
     "--expires", "--grants", "--checksum-algorithm", "--checksum-mode",
     "-x", "-y", "-j", "-z", "-a", "-o", "-h", "-u", "-p"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Download:
    """One command that fetches model files into the container."""

    tool: str
    """``hf``, ``huggingface-cli``, ``aws s3``, ``s5cmd``, ``gsutil``,
    ``gcloud storage``, ``azcopy``, ``snapshot_download`` or ``storage-initializer``."""
    container: Container
    path: Path
    """The command/args element where the download is written."""
    source: str
    """Repository id or remote URL, expanded ("" when not given)."""
    target: str | None
    """Absolute directory the files land in; ``None`` when it cannot be told."""
    target_from: str
    """How the target was found (``--local-dir``, ``HF_HOME``, ``destination``...)."""
    revision: str | None = None
    """``--revision`` / ``revision=`` as given (Hugging Face tools only)."""
    used_later: bool = False
    """The target appears again later in the same command line (moved, uploaded)."""
    whole_repo: bool = False
    """A Hugging Face download of the whole repository (no file list or filter)."""

    @property
    def from_hub(self) -> bool:
        """Whether this fetches a Hugging Face repository."""
        return self.tool in (HF_CLI, LEGACY_HF_CLI, SNAPSHOT_DOWNLOAD)

    @property
    def pinned(self) -> bool:
        """Whether the revision is a full commit hash."""
        return self.revision is not None and bool(_COMMIT.fullmatch(self.revision))


@dataclass(frozen=True, slots=True)
class WeightDir:
    """A directory of a container where model weights are written or read."""

    container: Container
    path: str
    why: str
    """For messages: ``the target of hf download``, ``HF_HOME``..."""
    model: str = ""
    """The Hugging Face repository stored there, when the manifest says."""


@dataclass(frozen=True, slots=True)
class WeightVolume:
    """A pod volume that holds model weights, and the mount that shows it."""

    index: int
    """Index in ``spec.volumes``."""
    name: str
    volume: Mapping[str, Any]
    weight_dir: WeightDir
    """The first reason found for calling it a weight volume."""
    mount_path: str
    model: str = ""
    """The Hugging Face repository stored there, when the manifest says."""


def env_values(container: Container) -> Mapping[str, str]:
    """The container's literal ``env`` values, ``$(VAR)`` references expanded.

    Read once per container.
    """
    return memoised(container, "env_values", lambda: _env_values(container))


def _env_values(container: Container) -> dict[str, str]:
    found: dict[str, str] = {}
    for _, item in iter_maps(container.raw, "env"):
        name, value = get_str(item, "name"), item.get("value")
        if not name or value is None or isinstance(value, Mapping | list):
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        found[name] = expand(text, found, shell=False)
    return found


def expand(text: str, variables: Mapping[str, str], *, shell: bool = True) -> str:
    """Replace known ``$(VAR)`` (and, with ``shell``, ``$VAR``/``${VAR}``) in text."""

    def replace(match: re.Match[str]) -> str:
        kubelet, braced, default, bare = match.groups()
        if kubelet is not None:
            return variables.get(kubelet, match.group(0))
        if not shell:
            return match.group(0)
        name = braced or bare
        if name in variables:
            return variables[name]
        if default is not None and braced is not None:
            return default
        return match.group(0)

    if "$" not in text:
        return text
    return _VARIABLE.sub(replace, text)


def command_lines(container: Container) -> list[list[Token]]:
    """The container's command line as separate commands, words with their paths.

    Words come from :func:`~kubernai.model.servers.command_tokens`; a script
    element (one string split into several words) is split again at command
    boundaries, which a plain word split loses.
    """
    tokens = command_tokens(container)
    lines: list[list[Token]] = []
    current: list[Token] = []
    index = 0
    while index < len(tokens):
        path = tokens[index].path
        end = index
        while end < len(tokens) and tokens[end].path == path:
            end += 1
        if end - index > 1:  # one element that was split like a shell script
            if current:
                lines.append(current)
                current = []
            script = get_path(container.raw, *path[len(container.path) :])
            env = env_values(container)
            # The kubelet replaces $(VAR) before the shell runs the script.
            text = expand(script, env, shell=False) if isinstance(script, str) else ""
            words = _script_commands(text)
            lines.extend([Token(w, path) for w in words_] for words_ in words)
        else:
            current.append(tokens[index])
        index = end
    if current:
        lines.append(current)
    return [line for line in lines if line]


def _script_commands(script: str) -> list[list[str]]:
    text = script.replace("\\\r\n", " ").replace("\\\n", " ")
    try:
        return _lex(text)
    except ValueError:
        commands: list[list[str]] = []
        for line in text.splitlines():
            try:
                commands.extend(_lex(line))
            except ValueError:
                commands.append(line.split())
        return [c for c in commands if c]


def _lex(text: str) -> list[list[str]]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()\n")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands: list[list[str]] = []
    current: list[str] = []
    for word in lexer:
        if word in _SEPARATORS or set(word) <= set(";&|()\n"):
            if current:
                commands.append(current)
            current = []
        else:
            current.append(word)
    if current:
        commands.append(current)
    return commands


_TOOL_WORDS = ("download", "s3", "s5cmd", "gsutil", "gcloud", "azcopy")
"""Every downloader command line holds one of these; others are not parsed."""
_TOOL_WORD = re.compile("|".join(map(re.escape, _TOOL_WORDS)))
_MEMO = "kubernai.model.model_download"


def _memo(graph: ObjectGraph | None) -> dict[tuple[str, int], Any] | None:
    """A cache that lives as long as the graph.

    Keys hold the ``id()`` of raw manifest data, which the graph keeps alive
    (and so unique) for as long as the cache exists.
    """
    if graph is None:
        return None
    return graph.derived(_MEMO, lambda _: {})


def downloads(container: Container, graph: ObjectGraph | None = None) -> list[Download]:
    """The downloads a container's command line runs, in order.

    With ``graph``, the result is computed once per container and run.
    """
    memo = _memo(graph)
    key = ("downloads", id(container.raw))
    if memo is not None and key in memo:
        return list(memo[key])
    found = _downloads(container)
    if memo is not None:
        memo[key] = tuple(found)
    return found


def may_download(container: Container) -> bool:
    """Whether :func:`downloads` can find anything: a cheap test of the raw text."""
    if KSERVE_STORAGE_INITIALIZER in get_str(container.raw, "image"):
        return True
    for name in ("command", "args"):
        for item in get_list(container.raw, name):
            if isinstance(item, str) and _TOOL_WORD.search(item):
                return True
    return False


def _downloads(container: Container) -> list[Download]:
    found: list[Download] = []
    if not may_download(container):
        return found
    env = env_values(container)
    variables = dict(env)
    lines = command_lines(container)
    for position, line in enumerate(lines):
        words = [expand(t.text, variables) for t in line]
        start = _assignments(words, variables)
        download = _parse(words[start:], line[start:], container, variables)
        if download is not None:
            later = {
                expand(t.text, variables)
                for other in lines[position + 1 :]
                for t in other
            }
            used = download.target is not None and any(
                download.target in word for word in later
            )
            found.append(replace(download, used_later=used) if used else download)
    found.extend(_python_downloads(container, variables))
    initializer = _storage_initializer(container, env)
    if initializer is not None:
        found.append(initializer)
    return found


def _assignments(words: list[str], variables: dict[str, str]) -> int:
    """Record the ``NAME=value`` words that open a command; return where it goes on."""
    index = 1 if words[:1] == ["export"] else 0
    while index < len(words):
        match = _ASSIGNMENT.fullmatch(words[index])
        if match is None:
            break
        variables[match.group(1)] = match.group(2)
        index += 1
    return index


def _parse(
    words: list[str],
    tokens: list[Token],
    container: Container,
    variables: Mapping[str, str],
) -> Download | None:
    for index, word in enumerate(words):
        base = word.rsplit("/", 1)[-1]
        rest = words[index + 1 :]
        if base in (HF_CLI, LEGACY_HF_CLI) and rest[:1] == ["download"]:
            return _hf(base, rest[1:], tokens[index].path, container, variables)
        if (
            base == "aws"
            and rest[:1] == ["s3"]
            and rest[1:2] in (["cp"], ["sync"], ["mv"])
        ):
            return _copy(AWS_S3, rest[2:], tokens[index].path, container, variables)
        if base == S5CMD:
            at = _subcommand(rest, ("cp", "sync", "mv"))
            if at is not None:
                return _copy(
                    S5CMD, rest[at + 1 :], tokens[index].path, container, variables
                )
        if base == GSUTIL:
            at = _subcommand(rest, ("cp", "rsync", "mv"))
            if at is not None:
                return _copy(
                    GSUTIL, rest[at + 1 :], tokens[index].path, container, variables
                )
        if base == "gcloud":
            at = _subcommand(rest, ("cp", "rsync", "mv"))
            if at is not None and "storage" in rest[:at]:
                return _copy(
                    GCLOUD_STORAGE,
                    rest[at + 1 :],
                    tokens[index].path,
                    container,
                    variables,
                )
        if base == AZCOPY and rest[:1] in (["copy"], ["cp"], ["sync"]):
            return _copy(AZCOPY, rest[1:], tokens[index].path, container, variables)
    return None


def _subcommand(words: list[str], names: tuple[str, ...]) -> int | None:
    """Index of the first of ``names`` among the leading options; ``None`` if absent."""
    for index, word in enumerate(words[:8]):
        if word in names:
            return index
    return None


def _hf(
    tool: str,
    words: list[str],
    path: Path,
    container: Container,
    variables: Mapping[str, str],
) -> Download:
    flags: dict[str, str] = {}
    positionals: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("--"):
            name, equals, value = word.partition("=")
            if equals:
                flags[name] = value
            elif name in _HF_VALUE_FLAGS and index + 1 < len(words):
                index += 1
                flags[name] = words[index]
            elif name in _HF_LIST_FLAGS:
                flags[name] = ""
                while index + 1 < len(words) and not words[index + 1].startswith("-"):
                    index += 1
        elif not word.startswith("-"):
            positionals.append(word)
        index += 1
    source = positionals[0] if positionals else ""
    revision = flags.get("--revision")
    if "--local-dir" in flags:
        target, target_from = _local(flags["--local-dir"], variables), "--local-dir"
    elif "--cache-dir" in flags:
        target, target_from = _local(flags["--cache-dir"], variables), "--cache-dir"
    else:
        target, target_from = hub_cache(variables)
    whole = len(positionals) == 1 and not _HF_LIST_FLAGS & flags.keys()
    return Download(
        tool, container, path, source, target, target_from, revision, whole_repo=whole
    )


def hub_cache(variables: Mapping[str, str]) -> tuple[str | None, str]:
    """The Hugging Face hub cache directory and the variable that set it."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if name in variables:
            return _local(variables[name], variables), name
    if "HF_HOME" in variables:
        home = _local(variables["HF_HOME"], variables)
        return (posixpath.join(home, "hub") if home else None), "HF_HOME"
    if "XDG_CACHE_HOME" in variables:
        cache = _local(variables["XDG_CACHE_HOME"], variables)
        return (
            posixpath.join(cache, "huggingface", "hub") if cache else None
        ), "XDG_CACHE_HOME"
    return _local("~/.cache/huggingface/hub", variables), "the default cache"


def _local(text: str, variables: Mapping[str, str]) -> str | None:
    """An absolute, normalised local path, or ``None`` when it cannot be told."""
    value = expand(text.strip(), variables)
    if value.startswith("~"):
        home = variables.get("HOME", "")
        if not home.startswith("/"):
            return None
        value = home + value[1:]
    if not value.startswith("/") or "$" in value or "{{" in value or "*" in value:
        return None
    return posixpath.normpath(value).replace("//", "/")


def _copy(
    tool: str,
    words: list[str],
    path: Path,
    container: Container,
    variables: Mapping[str, str],
) -> Download | None:
    positionals: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("-") and word != "-":
            if "=" not in word and word in _COPY_VALUE_FLAGS:
                index += 1
        else:
            positionals.append(word)
        index += 1
    if len(positionals) < 2 or not _REMOTE.match(positionals[0]):
        return None
    destination = positionals[-1]
    if _REMOTE.match(destination) or destination == "-":
        return None  # an upload or a copy between buckets
    target = _local(destination, variables)
    return Download(tool, container, path, positionals[0], target, "destination")


def _python_downloads(
    container: Container, variables: Mapping[str, str]
) -> Iterator[Download]:
    for key in ("command", "args"):
        for index, item in enumerate(get_list(container.raw, key)):
            if not isinstance(item, str) or "_download" not in item:
                continue
            for call in _PY_CALL.finditer(item):
                text = item[call.start() : call.start() + 600]
                close = text.find(")")
                text = text[: close + 1] if close > 0 else text
                args = {
                    name: m.group(2)
                    for name, pattern in _PY_KWARG.items()
                    if (m := pattern.search(text)) is not None
                }
                first = _PY_FIRST_ARG.search(text)
                source = args.get("repo_id") or (first.group(2) if first else "")
                if "local_dir" in args:
                    target, target_from = (
                        _local(args["local_dir"], variables),
                        "local_dir",
                    )
                elif "cache_dir" in args:
                    target, target_from = (
                        _local(args["cache_dir"], variables),
                        "cache_dir",
                    )
                elif re.search(r"\b(local_dir|cache_dir)\s*=", text):
                    target, target_from = None, "local_dir"
                else:
                    target, target_from = hub_cache(variables)
                whole = call.group(1) == SNAPSHOT_DOWNLOAD and not _PY_FILTER.search(
                    text
                )
                yield Download(
                    SNAPSHOT_DOWNLOAD,
                    container,
                    (*container.path, key, index),
                    source,
                    target,
                    target_from,
                    args.get("revision"),
                    whole_repo=whole,
                )


def _storage_initializer(
    container: Container, env: Mapping[str, str]
) -> Download | None:
    if KSERVE_STORAGE_INITIALIZER not in get_str(container.raw, "image"):
        return None
    args = [a for a in get_list(container.raw, "args") if isinstance(a, str)]
    if len(args) < 2 or not args[0].strip():
        return None
    return Download(
        KSERVE_STORAGE_INITIALIZER,
        container,
        (*container.path, "args", 1),
        expand(args[0], env, shell=False),
        _local(args[1], env),
        "destination",
    )


def mount_for(
    container: Container, directory: str
) -> tuple[int, Mapping[str, Any]] | None:
    """The container's volumeMount (index, item) whose mountPath holds ``directory``."""
    best: tuple[int, Mapping[str, Any]] | None = None
    best_length = -1
    for index, mount in iter_maps(container.raw, "volumeMounts"):
        mount_path = get_str(mount, "mountPath").rstrip("/") or "/"
        inside = directory == mount_path or directory.startswith(
            mount_path if mount_path == "/" else mount_path + "/"
        )
        if inside and len(mount_path) > best_length:
            best, best_length = (index, mount), len(mount_path)
    return best


MODEL_MOUNT_PATHS = {
    "/models": "a model path",
    "/mnt/models": "KServe's model path",
    "/root/.cache/huggingface": "the Hugging Face cache of a root container",
    "/opt/nim/.cache": "NIM's model cache",
}
"""Mount paths that hold model weights by convention."""
_CACHE_ENV = ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "NIM_CACHE_PATH")
_TGI_CACHE = "/data"
"""TGI's image sets its hub cache to ``/data`` (Dockerfile ``HF_HOME``,
``HUGGINGFACE_HUB_CACHE`` in older images)."""
_ROOT_HF_CACHE = "/root/.cache/huggingface"


def weight_dirs(
    template: PodTemplate, graph: ObjectGraph | None = None
) -> list[WeightDir]:
    """Where the template's containers write or read model weights."""
    found: list[WeightDir] = []
    for container in template.containers:
        for download in downloads(container, graph):
            if download.target is not None:
                model = download.source if download.whole_repo else ""
                why = f"the target of {download.tool}"
                found.append(WeightDir(container, download.target, why, model))
        env = env_values(container)
        server = None if container.init else parse_server(container)
        model = _hub_id(server.model if server is not None else None)
        for name in _CACHE_ENV:
            value = _local(env[name], env) if name in env else None
            if value is not None:
                found.append(WeightDir(container, value, name, model))
        if server is not None:
            found.extend(_server_dirs(server, env, model))
        for _, mount in iter_maps(container.raw, "volumeMounts"):
            mount_path = get_str(mount, "mountPath").rstrip("/")
            if mount_path in MODEL_MOUNT_PATHS:
                why = MODEL_MOUNT_PATHS[mount_path]
                found.append(WeightDir(container, mount_path, why))
    return found


def _hub_id(model: str | None) -> str:
    """``model`` when it reads as a Hugging Face repository id, else ``""``."""
    if not model or model.count("/") != 1 or model.startswith((".", "~")):
        return ""
    return "" if any(mark in model for mark in "$<{ :") else model


def _server_dirs(
    server: ServerArgs, env: Mapping[str, str], model: str
) -> Iterator[WeightDir]:
    container, name = server.container, server.kind
    given = server.model or ""
    local_model = _local(given, env) if given.startswith(("/", "$")) else None
    if local_model is not None:
        yield WeightDir(container, local_model, f"the {name} model path")
        return
    download_dir = server.get("--download-dir", "--huggingface-hub-cache")
    if download_dir:
        local = _local(download_dir, env)
        if local is not None:
            yield WeightDir(container, local, f"the {name} download directory", model)
            return
    if any(key in env for key in _CACHE_ENV):
        return
    if server.kind == TGI:
        yield WeightDir(container, _TGI_CACHE, "TGI's model cache", model)
    elif given:
        yield WeightDir(container, _ROOT_HF_CACHE, "the Hugging Face cache", model)


def weight_volumes(
    template: PodTemplate, graph: ObjectGraph | None = None
) -> list[WeightVolume]:
    """The pod volumes that hold model weights, each once.

    With ``graph``, the result is computed once per template and run.
    """
    memo = _memo(graph)
    key = ("weight_volumes", id(template.spec))
    if memo is not None and key in memo:
        return list(memo[key])
    found = _weight_volumes(template, graph)
    if memo is not None:
        memo[key] = tuple(found)
    return found


def _weight_volumes(
    template: PodTemplate, graph: ObjectGraph | None
) -> list[WeightVolume]:
    if not get_list(template.spec, "volumes"):
        return []
    volumes = {
        get_str(v, "name"): (i, v) for i, v in iter_maps(template.spec, "volumes")
    }
    found: dict[str, WeightVolume] = {}
    for weight_dir in weight_dirs(template, graph):
        mount = mount_for(weight_dir.container, weight_dir.path)
        if mount is None:
            continue
        name = get_str(mount[1], "name")
        if name not in volumes:
            continue
        known = found.get(name)
        if known is not None:
            if not known.model and weight_dir.model:
                found[name] = replace(known, model=weight_dir.model)
            continue
        index, volume = volumes[name]
        found[name] = WeightVolume(
            index,
            name,
            volume,
            weight_dir,
            get_str(mount[1], "mountPath"),
            weight_dir.model,
        )
    return list(found.values())


_HUB_REQUIREMENT = re.compile(r"huggingface[-_]hub(\[[^\]]*\])?(?P<spec>.*)", re.I)
_BELOW_ONE = re.compile(r"(==|~=|<=|<)\s*0\.|<\s*1(\.0+)*\s*$|<\s*1(\.0+)*\s*,")


def hub_install(container: Container) -> tuple[str, bool] | None:
    """The ``huggingface_hub`` requirement that a ``pip install`` names.

    Returns:
        The requirement as written and whether it keeps the version below 1.0,
        or ``None`` when the command line installs no huggingface_hub.
    """
    for line in command_lines(container):
        words = [t.text for t in line]
        for index, word in enumerate(words[:-1]):
            if word.rsplit("/", 1)[-1] not in ("pip", "pip3", "uv") or (
                "install" not in words[index + 1 : index + 3]
            ):
                continue
            for argument in words[index + 2 :]:
                match = _HUB_REQUIREMENT.fullmatch(argument.strip())
                if match is not None:
                    spec = match.group("spec").strip()
                    return argument, bool(_BELOW_ONE.search(spec))
    return None

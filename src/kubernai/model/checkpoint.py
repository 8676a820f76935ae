"""Where a training container keeps its checkpoints, read from its options and mounts.

A heuristic, kept to precise triggers:
- an option (``--checkpoint_dir /x``, ``--checkpoint-file=/x``, Hydra's
  ``checkpointer.checkpoint_dir=/x``, an env var ``CHECKPOINT_DIR``) whose name
  has ``checkpoint`` or ``ckpt`` in it, with a value that does not switch it
  off (``false``, ``0``, ``none``...);
- activation or gradient checkpointing (``--gradient_checkpointing``,
  ``--activation-checkpointing``, ``--checkpoint-activations``) recomputes
  activations and saves nothing, so those names do not count;
- output directories that frameworks write checkpoints into: Hugging Face
  ``Trainer`` (``--output_dir``; ``save_strategy`` defaults to ``steps``),
  Megatron-LM (``--save``), PyTorch Lightning (``default_root_dir``), NeMo
  (``exp_manager.exp_dir``), torchtune (``output_dir``);
- a writable volume mounted at a path or named with ``checkpoint``/``ckpt``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubernai.model.resource import Path, get_list, get_str, iter_maps
from kubernai.model.workload import Container, PodTemplate, memoised

_SAVING = re.compile("checkpoint|ckpt")
_OPTION_WORDS = re.compile(
    "checkpoint|ckpt|output[_-]dir|save|default_root_dir|exp_dir"
)
"""Every key that ``is_checkpoint_dir_key`` or ``is_checkpoint_key`` accepts has one."""
_NOT_SAVING = re.compile("activation|gradient|recompute")
_OFF = frozenset({"false", "0", "no", "none", "null", "off", ""})
_OUTPUT_KEYS = frozenset(
    {"output_dir", "output-dir", "save_dir", "save-dir", "default_root_dir", "exp_dir"}
)
_DASHED_ONLY = frozenset({"save"})  # Megatron-LM --save; a bare save=... is too vague
_READ_WORDS = ("load", "resume", "restore", "pretrained", "init", "from")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*", re.ASCII)
_STRIP = "\"'`;,()"
_MAX_ARG_CHARS = 20_000


@dataclass(frozen=True, slots=True)
class Option:
    """A ``key=value`` found in a container's command, args or env."""

    key: str
    value: str
    path: Path
    shown: str
    dashed: bool = False


def _tokens(container: Container) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for field in ("command", "args"):
        for index, item in enumerate(get_list(container.raw, field)):
            if not isinstance(item, str) or len(item) > _MAX_ARG_CHARS:
                continue
            path: Path = (*container.path, field, index)
            for word in item.split():
                word = word.strip(_STRIP)
                if word and word != "\\":
                    found.append((word, path))
    return found


def options(container: Container) -> Iterator[Option]:
    """The container's options (read once per container); see ``_options``."""
    return iter(
        memoised(container, "checkpoint_options", lambda: tuple(_options(container)))
    )


def checkpoint_options(container: Container) -> Iterator[Option]:
    """The options that may name checkpoints: ``options``, or none at all.

    None where no option can pass ``is_checkpoint_key`` or
    ``is_checkpoint_dir_key``: a cheap test of the raw text spares the parsing.
    """
    if memoised(container, "names_checkpoints", lambda: _names_checkpoints(container)):
        return options(container)
    return iter(())


def _names_checkpoints(container: Container) -> bool:
    raw = container.raw
    words = [
        i for k in ("command", "args") for i in get_list(raw, k) if isinstance(i, str)
    ]
    words.extend(get_str(env, "name") for _, env in iter_maps(raw, "env"))
    return _OPTION_WORDS.search("\n".join(words).lower()) is not None


def _options(container: Container) -> Iterator[Option]:
    """The container's options: ``--key value``, ``--key=value``, ``key=value``."""
    tokens = _tokens(container)
    for index, (word, path) in enumerate(tokens):
        dashed = word.startswith("-")
        body = word.lstrip("-")
        if "=" in body:
            key, value = body.split("=", 1)
        elif dashed:
            following = tokens[index + 1][0] if index + 1 < len(tokens) else "-"
            key, value = body, ("" if following.startswith("-") else following)
        else:
            continue
        if _KEY.fullmatch(key):
            shown = word if "=" in body or not value else f"{word} {value}"
            yield Option(key, value.strip(_STRIP), path, shown, dashed)
    for index, env in iter_maps(container.raw, "env"):
        name = get_str(env, "name")
        if not name:
            continue
        raw: Any = env.get("value")
        if raw is None and isinstance(env.get("valueFrom"), Mapping):
            value = "(valueFrom)"
        else:
            value = raw if isinstance(raw, str) else ""
        path = (*container.path, "env", index)
        yield Option(name, value, path, f"env {name}={value}")


def is_checkpoint_key(key: str) -> bool:
    """A name about saving checkpoints (not activation or gradient checkpointing)."""
    lowered = key.lower()
    if lowered in _INPUT_KEYS:
        return False
    return _SAVING.search(lowered) is not None and _NOT_SAVING.search(lowered) is None


_INPUT_KEYS = frozenset({"checkpointer.checkpoint_dir"})
"""Keys that name where weights are read from: torchtune loads its base model
from ``checkpointer.checkpoint_dir`` and writes to ``output_dir``."""


def is_checkpoint_dir_key(option: Option) -> bool:
    """An option naming where checkpoints are written (not read from)."""
    lowered = option.key.lower()
    last = lowered.rsplit(".", 1)[-1]
    if any(w in lowered for w in _READ_WORDS):
        return False
    if is_checkpoint_key(option.key):
        return True
    return last in _OUTPUT_KEYS or (option.dashed and lowered in _DASHED_ONLY)


def checkpoint_mounts(container: Container) -> Iterator[tuple[int, str, str]]:
    """Writable mounts named, or mounted at a path named, for checkpoints.

    Found once per container.
    """
    found = memoised(
        container, "checkpoint_mounts", lambda: tuple(_checkpoint_mounts(container))
    )
    return iter(found)


def _checkpoint_mounts(container: Container) -> Iterator[tuple[int, str, str]]:
    for index, mount in iter_maps(container.raw, "volumeMounts"):
        if mount.get("readOnly") is True:
            continue
        path, name = get_str(mount, "mountPath"), get_str(mount, "name")
        if _SAVING.search(path.lower()) or _SAVING.search(name.lower()):
            yield index, path, name


def checkpoint_evidence(container: Container) -> str:
    """Why the container looks like it saves checkpoints, or ``""``."""
    for option in checkpoint_options(container):
        if is_checkpoint_key(option.key) and option.value.lower() not in _OFF:
            return option.shown
    for _, path, name in checkpoint_mounts(container):
        return f"volume {name!r} mounted at {path}"
    return ""


@dataclass(frozen=True, slots=True)
class Storage:
    """What backs a path in a container.

    ``kind`` is a volume source (``emptyDir``, ``persistentVolumeClaim``...), or
    ``container`` for the container's own writable layer (no mount covers it).
    """

    kind: str
    volume: str = ""
    mount_path: str = ""
    medium: str = ""


def storage_of(
    template: PodTemplate, container: Container, path: str
) -> Storage | None:
    """What backs ``path``; ``None`` when that is not in the manifest."""
    best: tuple[str, str] | None = None
    for _, mount in iter_maps(container.raw, "volumeMounts"):
        mount_path, name = get_str(mount, "mountPath"), get_str(mount, "name")
        if not mount_path.startswith("/") or not name:
            continue
        prefix = mount_path.rstrip("/") + "/"
        if (path == mount_path or path.startswith(prefix)) and (
            best is None or len(mount_path) > len(best[0])
        ):
            best = (mount_path, name)
    if best is None:
        return Storage("container") if template.complete else None
    for _, volume in iter_maps(template.spec, "volumes"):
        if get_str(volume, "name") != best[1]:
            continue
        kinds = [k for k in volume if isinstance(k, str) and k != "name"]
        if len(kinds) != 1:
            return None
        medium = get_str(volume, "emptyDir", "medium") if kinds[0] == "emptyDir" else ""
        return Storage(kinds[0], best[1], best[0], medium)
    return None  # a volume added at admission (runtime, operator, webhook)

"""LLM inference servers in pod templates: which server, and its parsed flags.

Detection (shared/reference/mechanisms-serve-train.md, "server detection"):
vLLM by image ``vllm/vllm-openai`` or a command running ``vllm serve`` or
``vllm.entrypoints.openai.api_server``; TGI by image
``text-generation-inference`` or ``text-generation-launcher``; Triton by image
``tritonserver`` or a ``tritonserver`` command; SGLang by image ``lmsysorg/sglang``
or ``sglang.launch_server``.

Flags are read from ``command`` and ``args``, including a single
``sh -c "..."`` string, as ``--flag value`` or ``--flag=value``; underscores in
flag names are normalised to dashes (vLLM accepts both). TGI's launcher also
reads every flag from an environment variable (clap ``env``: ``--num-shard`` is
``NUM_SHARD``), so TGI flags are looked up there too.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from kubernai.model.resource import Path, get_list, get_str, iter_maps
from kubernai.model.workload import Container, PodTemplate, memoised

VLLM, TGI, TRITON, SGLANG = "vllm", "tgi", "triton", "sglang"
_VLLM_CALLS = ("vllm.entrypoints.openai.api_server", "vllm.entrypoints.api_server")


@dataclass(frozen=True, slots=True)
class Token:
    """One word of the container's command line and where it was written."""

    text: str
    path: Path


@dataclass(slots=True)
class ServerArgs:
    """An inference server's command line, parsed."""

    kind: str
    container: Container
    flags: dict[str, str | None] = field(default_factory=dict)
    """``--flag`` → value (``None`` for a flag without one); the last one wins."""
    paths: dict[str, Path] = field(default_factory=dict)
    """Where each flag was written (the command/args element)."""
    positionals: list[str] = field(default_factory=list)
    positional_paths: list[Path] = field(default_factory=list)
    """Where each positional word was written."""
    env: Mapping[str, str] = field(default_factory=dict)

    def get(self, *names: str) -> str | None:
        """The value of the first of ``names`` given (``--x`` or an env for TGI)."""
        flags, env = self.flags, self.env
        for name in names:
            flag = _flag(name)
            if flag in flags:
                return flags[flag]
            value = env.get(self._env_key(name))
            if value is not None:
                return value
        return None

    def has(self, *names: str) -> bool:
        """Whether any of ``names`` is given."""
        flags = self.flags
        if self.kind != TGI:  # only TGI reads flags from the environment
            return not flags.keys().isdisjoint(map(_flag, names))
        env = self.env
        return any(_flag(n) in flags or _env_name(n) in env for n in names)

    def _env_key(self, name: str) -> str:
        return _env_name(name) if self.kind == TGI else ""

    def path_of(self, *names: str) -> Path:
        """Where a flag was written, else the container's command or args, else it."""
        for name in names:
            found = self.paths.get(_flag(name))
            if found is not None:
                return found
        for name in names:
            key = self._env_key(name)
            for index, item in iter_maps(self.container.raw, "env"):
                if key and item.get("name") == key:
                    return (*self.container.path, "env", index, "value")
        for key in ("args", "command"):
            if get_list(self.container.raw, key):
                return (*self.container.path, key)
        return self.container.path

    @property
    def model(self) -> str | None:
        """The model the server loads, when the manifest says."""
        if self.kind == VLLM:
            after_serve = _after(self.positionals, "serve")
            return after_serve or self.get("--model")
        if self.kind == TGI:
            return self.get("--model-id")
        if self.kind == SGLANG:
            return self.get("--model-path", "--model")
        return None


def _normalise(flag: str) -> str:
    name = flag.lstrip("-")
    return "--" + name.replace("_", "-")


_flag = cache(_normalise)
"""``_normalise`` for the flag names that rules ask about (a small, fixed set)."""


@cache
def _env_name(flag: str) -> str:
    """The environment variable TGI's launcher reads a flag from."""
    return _normalise(flag).lstrip("-").upper().replace("-", "_")


def _after(words: list[str], marker: str) -> str | None:
    for index, word in enumerate(words[:-1]):
        if word == marker:
            return words[index + 1]
    return None


def command_tokens(container: Container) -> list[Token]:
    """``command`` then ``args`` as words; a ``sh -c`` script is split like a shell.

    Computed once per container; the list returned must not be changed.
    """
    return memoised(container, "command_tokens", lambda: _command_tokens(container))


def _command_tokens(container: Container) -> list[Token]:
    tokens: list[Token] = []
    for key in ("command", "args"):
        for index, item in enumerate(get_list(container.raw, key)):
            if isinstance(item, str | int | float) and not isinstance(item, bool):
                tokens.append(Token(str(item), (*container.path, key, index)))
    for position, token in enumerate(tokens):
        if (
            _SHELL_C.fullmatch(token.text)
            and position > 0
            and _is_shell(tokens[:position])
        ):
            script = tokens[position + 1 :]
            if not script:
                return tokens
            words: list[Token] = []
            for part in script:
                words.extend(Token(w, part.path) for w in _split(part.text))
            return [*tokens[: position + 1], *words]
    return tokens


def _is_shell(tokens: list[Token]) -> bool:
    return any(
        t.text.rsplit("/", 1)[-1] in ("sh", "bash", "zsh", "dash") for t in tokens
    )


_SHELL_C = re.compile(r"-[a-z]*c[a-z]*")
"""``-c`` alone or combined with other shell options (``-ec``, ``-exc``)."""


def _split(script: str) -> list[str]:
    script = script.replace("\\\n", " ")  # line continuations
    try:
        words = shlex.split(script, comments=True)
    except ValueError:
        words = script.split()
    # Treat shell separators as word breaks so that `cd x && vllm serve m` parses.
    found: list[str] = []
    for word in words:
        if word in ("&&", "||", ";", "|", "\\"):
            continue
        word = word.rstrip(";")
        if word:
            found.append(word)
    return found


_ENV_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
# vLLM's short options (vllm/engine/arg_utils.py).
_SHORT = {
    "-tp": "--tensor-parallel-size",
    "-pp": "--pipeline-parallel-size",
    "-dp": "--data-parallel-size",
    "-q": "--quantization",
}
_TGI_SHORT = {"-p": "--port"}
# vLLM flags that take no value (store_true), so the word after one is not its value.
_VLLM_BOOLEAN = frozenset(
    {
        "--trust-remote-code",
        "--enforce-eager",
        "--enable-prefix-caching",
        "--no-enable-prefix-caching",
        "--enable-chunked-prefill",
        "--disable-log-requests",
        "--disable-log-stats",
        "--enable-auto-tool-choice",
        "--enable-lora",
        "--disable-custom-all-reduce",
        "--enable-expert-parallel",
        "--headless",
        "--enable-reasoning",
        "--disable-frontend-multiprocessing",
    }
)
_NUMBER = re.compile(r"-?[0-9.]+")


def _is_value(text: str) -> bool:
    """Whether the word after a flag is its value (not the next option)."""
    return not text.startswith("-") or _NUMBER.fullmatch(text) is not None


def server_kind(container: Container, tokens: list[Token]) -> str | None:
    """vllm, tgi, triton or sglang, or ``None`` for anything else."""
    image = get_str(container.raw, "image").lower()
    words = [t.text for t in tokens]
    joined = " ".join(words)
    if "vllm serve" in joined or any(call in joined for call in _VLLM_CALLS):
        return VLLM
    if "vllm-openai" in image or image.startswith("vllm/"):
        return VLLM
    if "text-generation-launcher" in joined or "text-generation-inference" in image:
        return TGI
    if "sglang.launch_server" in joined or "lmsysorg/sglang" in image:
        return SGLANG
    if "tritonserver" in joined or "tritonserver" in image:
        return TRITON
    return None


def parse_server(container: Container) -> ServerArgs | None:
    """The server a container runs, with its flags; ``None`` if it runs none.

    Parsed once per container.
    """
    return memoised(container, "server", lambda: _parse_server(container))


def _parse_server(container: Container) -> ServerArgs | None:
    tokens = command_tokens(container)
    kind = server_kind(container, tokens)
    if kind is None:
        return None
    env = {
        get_str(item, "name"): _text(item.get("value"))
        for _, item in iter_maps(container.raw, "env")
        if get_str(item, "name") and item.get("value") is not None
    }
    server = ServerArgs(kind=kind, container=container, env=env)

    def resolve(text: str) -> str:
        if "$(" not in text:
            return text
        return _ENV_REF.sub(lambda m: env.get(m.group(1), m.group(0)), text)

    index = 0
    while index < len(tokens):
        token = tokens[index]
        text = resolve(token.text)
        short, equals, short_value = text.partition("=")
        if short in _SHORT or (kind == TGI and short in _TGI_SHORT):
            flag = _SHORT.get(short) or _TGI_SHORT[short]
            if equals:
                server.flags[flag] = short_value
            elif index + 1 < len(tokens):
                index += 1
                server.flags[flag] = tokens[index].text
            server.paths[flag] = token.path
        elif text.startswith("--") and len(text) > 2:
            name, equals, value = text.partition("=")
            flag = _normalise(name)
            if equals:
                server.flags[flag] = value
            elif (
                flag not in _VLLM_BOOLEAN
                and index + 1 < len(tokens)
                and _is_value(tokens[index + 1].text)
            ):
                index += 1
                server.flags[flag] = resolve(tokens[index].text)
            else:
                server.flags[flag] = None
            server.paths[flag] = token.path
        else:
            server.positionals.append(text)
            server.positional_paths.append(token.path)
        index += 1
    return server


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def servers(template: PodTemplate) -> Iterator[ServerArgs]:
    """The inference servers among a template's app containers."""
    for container in template.containers:
        if container.init:
            continue
        found = parse_server(container)
        if found is not None:
            yield found

"""Read manifests from files, folders and stdin into Resources and invalid documents.

Every object keeps its file and line; Helm output is mapped back to its
templates through the ``# Source:`` comments that ``helm template`` writes.
Hostile input is bounded: files over the size limit, binary files, text that
is not UTF-8, alias bombs and deep nesting each become one invalid document.
Gzipped input (a ``.gz`` name or the gzip magic bytes) is decompressed
incrementally, and the size limit applies to the decompressed bytes too, so a
gzip bomb stops at the limit.
"""

from __future__ import annotations

import bisect
import codecs
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any, BinaryIO

import yaml

from kubernai.errors import InputError
from kubernai.load.tree import (
    TEMPLATE_HINT,
    LineIndex,
    ParsedDocument,
    parse_documents,
)
from kubernai.model.resource import Path, Resource, Source

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
GZIP_SUFFIX = ".gz"
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_MANIFEST_OR_GZIP = (*MANIFEST_SUFFIXES, *(s + GZIP_SUFFIX for s in MANIFEST_SUFFIXES))
DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024
STDIN = "-"
_SOURCE_COMMENT = re.compile(r"^# Source: (\S.*?)\s*$", re.M)
_DOCUMENT_START = re.compile(r"^---(?=\s|$)", re.M)
_LEADING_TABS = re.compile(r"^\t+", re.M)
_NEWLINE = re.compile("\n")
MAX_ERRORS_PER_FILE = 100


@dataclass(frozen=True, slots=True)
class InvalidDocument:
    """Input that could not be read as manifests, with where and why."""

    file: str
    line: int
    reason: str


@dataclass(slots=True)
class LoadResult:
    """Everything read from the inputs of one run."""

    resources: list[Resource] = field(default_factory=list)
    invalid: list[InvalidDocument] = field(default_factory=list)
    skipped: int = 0
    """Documents that are not Kubernetes objects (no apiVersion or kind)."""
    files: set[str] = field(default_factory=set)


def discover(paths: Iterable[str]) -> Iterator[str]:
    """Expand folders into their manifest files (sorted, hidden folders skipped)."""
    for path in paths:
        if path == STDIN:
            yield path
            continue
        target = FsPath(path)
        if target.is_dir():
            for root, dirs, files in os.walk(target):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.endswith(_MANIFEST_OR_GZIP):
                        yield str(FsPath(root) / name)
        elif target.exists():
            yield path
        else:
            raise InputError(f"{path}: no such file or directory")


def load_paths(
    paths: Iterable[str],
    *,
    stdin: BinaryIO | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    progress: Callable[[int, int], None] | None = None,
) -> LoadResult:
    """Load every manifest under ``paths``; ``-`` reads ``stdin``.

    ``progress`` is called with (files done, files in all) after each file.
    """
    result = LoadResult()
    found = list(discover(paths))
    for done, path in enumerate(found, 1):
        if progress is not None:
            progress(done - 1, len(found))
        if path == STDIN:
            if stdin is None:
                raise InputError("-: no standard input to read")
            data = stdin.read(max_file_bytes + 1)
            load_bytes(data, "<stdin>", result=result, max_file_bytes=max_file_bytes)
            continue
        try:
            size = FsPath(path).stat().st_size
            if size > max_file_bytes:
                result.files.add(path)
                result.invalid.append(
                    InvalidDocument(path, 1, _too_large(size, max_file_bytes))
                )
                continue
            with open(path, "rb") as handle:
                data = handle.read(max_file_bytes + 1)
        except OSError as exc:
            raise InputError(f"{path}: {exc.strerror or exc}") from exc
        load_bytes(data, path, result=result, max_file_bytes=max_file_bytes)
    return result


def _too_large(size: int, limit: int) -> str:
    return (
        f"file is {size / 2**20:.1f} MiB, over the {limit / 2**20:g} MiB limit "
        "(raise it with --max-file-size)"
    )


def decode(data: bytes) -> tuple[str | None, str, int]:
    """Text of ``data``, or ``None`` with the reason and the 1-based line."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "", 0
        except UnicodeDecodeError:
            return None, "not valid UTF-16 text", 1
    head = data[:8192]
    if b"\x00" in head:
        return None, "binary file (contains NUL bytes), not a manifest", 1
    try:
        return data.decode("utf-8-sig"), "", 0
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start]
        return None, f"not UTF-8 text (byte 0x{byte:02x} at line {line})", line


def gunzip(data: bytes, max_bytes: int) -> tuple[bytes | None, str]:
    """The decompressed bytes of gzip ``data``, or ``None`` and the reason.

    Decompression goes in steps and stops once the output passes
    ``max_bytes``: a gzip bomb costs at most ``max_bytes`` of memory and time.
    """
    out = bytearray()
    pending = data
    while pending:
        stream = zlib.decompressobj(_GZIP_WBITS)
        try:
            while not stream.eof:
                piece = stream.decompress(pending, max_bytes + 1 - len(out))
                pending = stream.unconsumed_tail
                out += piece
                if len(out) > max_bytes:
                    return None, (
                        f"gzip data decompresses to over the {max_bytes / 2**20:g} "
                        "MiB limit (raise it with --max-file-size)"
                    )
                if not piece and not pending:
                    return None, "gzip data is truncated"
        except zlib.error as exc:
            return None, f"not valid gzip data ({exc})"
        pending = stream.unused_data  # a concatenated gzip member follows
    return bytes(out), ""


def load_bytes(
    data: bytes,
    file: str,
    *,
    result: LoadResult,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> None:
    """Load one file's bytes into ``result``; gzipped bytes are decompressed."""
    result.files.add(file)
    if len(data) > max_file_bytes:
        result.invalid.append(
            InvalidDocument(file, 1, _too_large(len(data), max_file_bytes))
        )
        return
    if data.startswith(_GZIP_MAGIC) or file.endswith(GZIP_SUFFIX):
        unpacked, reason = gunzip(data, max_file_bytes)
        if unpacked is None:
            result.invalid.append(InvalidDocument(file, 1, reason))
            return
        data = unpacked
    text, reason, line = decode(data)
    if text is None:
        result.invalid.append(InvalidDocument(file, line, reason))
        return
    load_text(text, file, result=result)


def load_text(text: str, file: str, *, result: LoadResult) -> None:
    """Load one file's text into ``result``, going on past broken documents."""
    result.files.add(file)
    if file.removesuffix(GZIP_SUFFIX).endswith(".json") or (
        file == "<stdin>" and text.lstrip()[:1] in ("{", "[")
    ):
        text = _LEADING_TABS.sub(lambda m: "  " * len(m.group()), text)
    sources = _helm_sources(text)
    base = 0  # lines of ``text`` before the chunk being parsed
    chunk = text
    previous_end = 0
    line_starts: list[int] = []
    errors = 0
    while True:
        try:
            for document in parse_documents(chunk):
                start = document.start_line + base
                helm = _helm_source_for(sources, previous_end, start)
                previous_end = document.end_line + base
                _add_document(document, file, base, helm, result)
            return
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(
                exc, "context_mark", None
            )
            if not line_starts:
                line_starts = [0, *(m.end() for m in _NEWLINE.finditer(text))]
            error_line = min(
                (mark.line + 1 if mark is not None else 1) + base, len(line_starts)
            )
            line_start = line_starts[error_line - 1]
            line_end = text.find("\n", line_start)
            line_end = len(text) if line_end < 0 else line_end
            shown_file, shown_line = file, error_line
            helm = _helm_source_for(sources, previous_end, error_line)
            if helm is not None:
                shown_file, shown_line = helm[1], error_line - helm[0]
            reason = _yaml_reason(exc, text[line_start:line_end])
            errors += 1
            if errors == MAX_ERRORS_PER_FILE:
                reason += (
                    f"; {MAX_ERRORS_PER_FILE} broken documents, the rest is skipped"
                )
            result.invalid.append(InvalidDocument(shown_file, shown_line, reason))
            resume = _DOCUMENT_START.search(text, line_end)
            if resume is None or errors == MAX_ERRORS_PER_FILE:
                return
            base = bisect.bisect_right(line_starts, resume.start()) - 1
            chunk = text[resume.start() :]
            previous_end = base


def _yaml_reason(exc: yaml.YAMLError, line_text: str) -> str:
    if "{{" in line_text:
        return TEMPLATE_HINT
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        reason = f"{context}, {problem}" if context else str(problem)
        return f"YAML does not parse: {reason}"
    first = str(exc).strip().splitlines()
    return f"YAML does not parse: {first[0] if first else type(exc).__name__}"


def _helm_sources(text: str) -> list[tuple[int, str]]:
    if "# Source: " not in text:
        return []
    return [
        (text.count("\n", 0, m.start()) + 1, m.group(1))
        for m in _SOURCE_COMMENT.finditer(text)
    ]


def _helm_source_for(
    sources: list[tuple[int, str]], after: int, before: int
) -> tuple[int, str] | None:
    """The last ``# Source:`` comment between two lines: (its line, template)."""
    found = None
    for line, path in sources:
        if after < line < before:
            found = (line, path)
        elif line >= before:
            break
    return found


def _add_document(
    document: ParsedDocument,
    file: str,
    base: int,
    helm: tuple[int, str] | None,
    result: LoadResult,
) -> None:
    shown_file, shift = file, base
    if helm is not None:
        shown_file, shift = helm[1], base - helm[0]
        result.files.add(shown_file)
    if document.error:
        result.invalid.append(
            InvalidDocument(shown_file, document.start_line + shift, document.error)
        )
        return
    data = document.data
    if data is None:
        return
    if not _is_object(data):
        result.skipped += 1
        return
    lines = document.lines
    if lines is None:  # pragma: no cover - only broken documents lack an index
        return
    where = (shown_file, file, shift)
    if data.get("kind") == "List" and isinstance(data.get("items"), list):
        for index, item in enumerate(data["items"]):
            if _is_object(item):
                line = lines.line(("items", index)) or document.start_line
                result.resources.append(_resource(item, line, lines, where))
            else:
                result.skipped += 1
        return
    result.resources.append(_resource(data, document.start_line, lines, where))


def _is_object(data: Any) -> bool:
    return (
        isinstance(data, Mapping)
        and isinstance(data.get("apiVersion"), str)
        and isinstance(data.get("kind"), str)
        and bool(data["kind"])
    )


def _resource(
    data: Any, line: int, lines: LineIndex, where: tuple[str, str, int]
) -> Resource:
    file, origin, shift = where
    object_line = line + shift

    def line_of(path: Path) -> int:
        found = lines.line(path, data)
        return object_line if found <= 0 else found + shift

    return Resource(
        raw=data,
        source=Source(
            file=file,
            line=object_line,
            origin=origin if origin != file else "",
            line_of=line_of,
        ),
    )

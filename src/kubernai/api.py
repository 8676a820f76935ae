"""The library entry points: load manifests and lint them without the CLI."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kubernai.config import Config
from kubernai.engine import Report, run, select_rules
from kubernai.load.files import LoadResult, load_paths, load_text


def lint(
    paths: Iterable[str] = (),
    *,
    text: str | None = None,
    config: Config | None = None,
    rules: Sequence[str] = (),
) -> Report:
    """Check files and folders, or a manifest ``text``, and return the report."""
    settings = config or Config()
    if text is not None:
        loaded = LoadResult()
        load_text(text, "<text>", result=loaded)
    else:
        loaded = load_paths(paths)
    return run(loaded, config=settings, rules=select_rules(settings, only=rules))


__all__ = ["lint", "load_paths"]

"""``kubernai site build``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from kubernai.errors import InputError


def run_site(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    """Build the static site."""
    if args.site_command != "build":
        raise InputError("site needs an ACTION: build (see `kubernai site --help`)")
    from kubernai.site.build import build_site

    written = build_site(Path(args.out), base_url=args.base_url)
    print(f"wrote {len(written)} files to {args.out}", file=stderr)
    return 0

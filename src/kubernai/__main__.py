"""``python -m kubernai``."""

from kubernai.cli.main import entry

entry()

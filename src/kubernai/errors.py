"""The one exception tree of kubernai.

```
KubernaiError            exit code 3 unless a subclass says otherwise
├── InputError           exit code 2: a path, stdin or an argument cannot be used
│   └── ManifestError    exit code 2: names the file and the 1-based line
├── ConfigError          exit code 2: .kubernai.yaml or --config is wrong
└── ClusterError         exit code 2: the cluster cannot be read
```

Library code raises these; only ``kubernai.cli`` prints them and exits.
"""

from __future__ import annotations

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class KubernaiError(Exception):
    """Base of every error kubernai raises on purpose."""

    exit_code = EXIT_INTERNAL


class InputError(KubernaiError):
    """A path, stdin or an argument that cannot be used."""

    exit_code = EXIT_USAGE


class ManifestError(InputError):
    """A manifest that cannot be read, located by file and line."""

    def __init__(self, file: str, line: int, reason: str) -> None:
        super().__init__(f"{file}:{line}: {reason}")
        self.file = file
        self.line = line
        self.reason = reason


class ConfigError(KubernaiError):
    """A configuration file or option that is wrong."""

    exit_code = EXIT_USAGE


class ClusterError(KubernaiError):
    """A live cluster that cannot be reached or read."""

    exit_code = EXIT_USAGE

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"


def require_shared(path: Path) -> Path:
    """Skip, with the reason shown, when ../shared is not beside the checkout."""
    if not path.exists():
        pytest.skip(f"{path} is absent: ../shared is not beside this checkout")
    return path


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path, monkeypatch):
    """Run each test in an empty folder so that no .kubernai.yaml leaks in."""
    monkeypatch.chdir(tmp_path)

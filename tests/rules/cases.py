"""Load the per-rule YAML case files of tests/rules/cases/."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CASES_DIR = Path(__file__).parent / "cases"
CASE_KEYS = {"pass", "fail", "expect", "config", "skip"}
EXPECT_KEYS = {"path", "line", "message", "severity"}


class CaseFileError(ValueError):
    pass


@dataclass
class Case:
    rule: str
    name: str
    text: str
    should_fail: bool
    file: Path
    expect: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] | None = None
    skip: str = ""

    @property
    def id(self) -> str:
        return f"{self.rule}-{self.name}"


def load_case_file(path: Path) -> list[Case]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("rule"), str):
        raise CaseFileError(f"{path}: needs a top-level 'rule: CODE'")
    rule = data["rule"]
    cases = []
    for name, body in data.items():
        if name == "rule":
            continue
        if not isinstance(body, dict):
            raise CaseFileError(f"{path}: case {name!r} must be a mapping")
        unknown = set(body) - CASE_KEYS
        if unknown:
            raise CaseFileError(
                f"{path}: case {name!r} has unknown keys {sorted(unknown)}"
            )
        if ("pass" in body) == ("fail" in body):
            raise CaseFileError(f"{path}: case {name!r} needs exactly one of pass/fail")
        should_fail = "fail" in body
        prefix = "fail_" if should_fail else "pass_"
        if not name.startswith(prefix):
            raise CaseFileError(f"{path}: case {name!r} must start with {prefix}")
        expect = body.get("expect") or []
        for entry in expect:
            if not isinstance(entry, dict) or set(entry) - EXPECT_KEYS:
                raise CaseFileError(
                    f"{path}: case {name!r}: bad expect entry {entry!r}"
                )
        if expect and not should_fail:
            raise CaseFileError(f"{path}: case {name!r}: expect is for fail cases")
        text = body["fail"] if should_fail else body["pass"]
        if not isinstance(text, str):
            raise CaseFileError(f"{path}: case {name!r}: the manifest must be a string")
        cases.append(
            Case(
                rule=rule,
                name=name,
                text=text,
                should_fail=should_fail,
                file=path,
                expect=expect,
                config=body.get("config"),
                skip=body.get("skip") or "",
            )
        )
    return cases


def all_case_files() -> list[Path]:
    return sorted(CASES_DIR.rglob("*.yml"))


def all_cases() -> list[Case]:
    return [case for path in all_case_files() for case in load_case_file(path)]

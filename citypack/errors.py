"""Pack problems, each precise enough to fix: which file, which feature, which field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    file: str  # relative to the pack directory
    message: str
    feature: str | None = None  # "feature 3 (futian)" or "plans/fire.zh.md section 2"
    field: str | None = None  # "properties.name_zh", "sla.default.high"

    def __str__(self) -> str:
        where = self.file
        if self.feature:
            where += f", {self.feature}"
        if self.field:
            where += f", {self.field}"
        return f"{where}: {self.message}"


class PackError(ValueError):
    """A city pack that cannot be used; ``problems`` lists every problem found, not just the first."""

    def __init__(self, directory: str, problems: list[Problem]) -> None:
        self.directory = directory
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"city pack {directory}: {len(problems)} problem(s)\n{lines}")

"""One error family for user mistakes: the CLI prints these as one line, without a traceback.

Anything else that escapes is a bug and keeps its traceback.
"""
from __future__ import annotations

from dataclasses import dataclass


class KindcastError(Exception):
    """A user mistake (bad input, bad settings, missing file). ``str(err)`` is the one-line message."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the producer's input, naming the file and the field."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}"


class ValidationFailed(KindcastError):
    """Every problem found in the show or an episode, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


def problem_lines(problems, warnings=()) -> list[tuple[bool, str]]:
    """Warnings, then problems, as the lines kindcast prints for them (all on stderr: the flag is True)."""
    return [(True, f"warning: {w}") for w in warnings] + [(True, f"error: {p}") for p in problems]

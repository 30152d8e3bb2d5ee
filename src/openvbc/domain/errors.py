"""Errors a user can fix, carried as values so every shell reports them the same way."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class InputIssue:
    """One problem with one field of one row of one input file."""

    file: str
    line: int | None
    field: str | None
    message: str

    def render(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            where += f" [{self.field}]"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message}


class UserError(Exception):
    """A mistake in what the user asked for or supplied (exit code 2, no traceback)."""


@dataclass
class InvalidInput(UserError):
    """Input rejected as a whole; ``issues`` lists every problem found (not only the first)."""

    issues: list[InputIssue] = field(default_factory=list)

    def __str__(self) -> str:
        head = f"{len(self.issues)} problem(s) in the input; nothing was loaded from the failing file(s)"
        shown = "\n".join(issue.render() for issue in self.issues[:200])
        more = "" if len(self.issues) <= 200 else f"\n... and {len(self.issues) - 200} more"
        return f"{head}\n{shown}{more}"

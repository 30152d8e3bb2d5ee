"""The result of mapping FHIR input: plan-package rows, skip counts and issues.

Rows use the plan-package layout (``openvbc.interop.plan_package``) so FHIR input goes through
the same validator and loader as a CSV package. The package files for coded clinical facts do
not (yet) carry the canonical tables' ``additional_codes`` column; value-set matching needs
every coding, so those five kinds carry it as one extra trailing column (see
docs/fhir-import.md). Once the package adds the column the list below picks it up unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openvbc.domain.errors import InputIssue
from openvbc.interop.plan_package import PACKAGE_FILES_BY_NAME

FhirRow = tuple[str, int, dict[str, str | None]]
"""(source label, 1-based line or entry number, row keyed by package column)."""

ROW_KINDS: tuple[str, ...] = (
    "members",
    "providers",
    "coverage",
    "fills",
    "claims",
    "claim_lines",
    "conditions",
    "encounters",
    "observations",
    "procedures",
    "medication_orders",
)

# Kinds whose canonical table has ``additional_codes`` (openvbc.store.tables).
CODED_KINDS: frozenset[str] = frozenset(
    {"conditions", "encounters", "observations", "procedures", "medication_orders"}
)


def columns_for(kind: str) -> tuple[str, ...]:
    """The columns of a row of this kind: the package header, plus ``additional_codes`` if coded."""
    columns = PACKAGE_FILES_BY_NAME[kind].columns
    if kind in CODED_KINDS and "additional_codes" not in columns:
        columns = (*columns, "additional_codes")
    return columns


_COLUMNS: dict[str, tuple[str, ...]] = {kind: columns_for(kind) for kind in ROW_KINDS}


@dataclass
class FhirExtract:
    """Rows per package file, resources not mapped (per type), and problems found.

    ``issue_member_keys`` names, for each resource label that has an issue, the member
    (Patient logical id) the resource is about, when it names one: the measures count bad
    input per patient (docs/measures.md) and an issue only carries the resource's label.
    """

    rows: dict[str, list[FhirRow]] = field(default_factory=lambda: {kind: [] for kind in ROW_KINDS})
    skipped: dict[str, int] = field(default_factory=dict)
    issues: list[InputIssue] = field(default_factory=list)
    issue_member_keys: dict[str, str] = field(default_factory=dict)

    def add_row(self, kind: str, label: str, line: int, values: dict[str, str | None]) -> None:
        """Add a row; unknown columns are a programming error, missing ones become empty."""
        columns = _COLUMNS[kind]
        extra = set(values) - set(columns)
        if extra:
            raise KeyError(f"{kind} has no column(s) {sorted(extra)}")
        self.rows[kind].append((label, line, {column: values.get(column) for column in columns}))

    def skip(self, what: str, count: int = 1) -> None:
        self.skipped[what] = self.skipped.get(what, 0) + count

    def add_issue(self, label: str, line: int | None, field_name: str | None, message: str) -> None:
        self.issues.append(InputIssue(file=label, line=line, field=field_name, message=message))

    def merge(self, other: FhirExtract) -> None:
        for kind, rows in other.rows.items():
            self.rows.setdefault(kind, []).extend(rows)
        for what, count in other.skipped.items():
            self.skip(what, count)
        self.issues.extend(other.issues)
        self.issue_member_keys.update(other.issue_member_keys)

    def counts(self) -> dict[str, int]:
        """Number of rows per package file (for reports and tests)."""
        return {kind: len(rows) for kind, rows in self.rows.items()}

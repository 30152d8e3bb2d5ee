"""Errors leave the API as FHIR OperationOutcome, mapped to HTTP status in one table.

The model is Medplum's ``outcomes.ts`` (``notFound``, ``accessDenied``, ``badRequest`` and a
``getStatus`` table). Issue type codes are FHIR R4 ValueSet ``issue-type``
(http://hl7.org/fhir/R4/valueset-issue-type.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openvbc.domain.errors import InputIssue

FHIR_JSON = "application/fhir+json"

# issue type code -> HTTP status (FHIR R4 http.html#ops and the operation pages)
OUTCOME_STATUS: dict[str, int] = {
    "invalid": 400,
    "structure": 400,
    "required": 400,
    "value": 400,
    "login": 401,
    "expired": 401,
    "security": 401,
    "forbidden": 403,
    "not-found": 404,
    "not-supported": 405,
    "conflict": 409,
    "deleted": 410,
    "multiple-matches": 412,
    "too-long": 413,
    "processing": 422,
    "business-rule": 422,
    "duplicate": 422,
    "too-costly": 429,
    "exception": 500,
    "transient": 503,
}


@dataclass
class ApiError(Exception):
    """An error answer: FHIR issue code, human text, optional FHIRPath expressions."""

    code: str
    text: str
    expression: list[str] | None = None
    issues: list[InputIssue] | None = None
    headers: dict[str, str] | None = None

    @property
    def status(self) -> int:
        return OUTCOME_STATUS.get(self.code, 500)

    def __str__(self) -> str:
        return self.text


def operation_outcome(error: ApiError) -> dict[str, Any]:
    """The OperationOutcome body; input issues become one issue each, with their location."""
    severity = "fatal" if error.status >= 500 else "error"
    issues: list[dict[str, Any]] = []
    for issue in error.issues or []:
        item: dict[str, Any] = {"severity": "error", "code": error.code, "diagnostics": issue.render()}
        item["details"] = {"text": issue.message}
        if issue.field:
            item["expression"] = [issue.field]
        issues.append(item)
    if not issues:
        item = {"severity": severity, "code": error.code, "details": {"text": error.text}}
        if error.expression:
            item["expression"] = error.expression
        issues.append(item)
    return {"resourceType": "OperationOutcome", "issue": issues}


def informational_outcome(text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational", "details": {"text": text}}],
    }

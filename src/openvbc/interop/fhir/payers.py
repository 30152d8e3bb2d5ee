"""Line of business from a Coverage's payer typology.

Source of Payment Typology (PHDSC / NAHDO, https://nahdo.org/sopt), as expanded in the CMS
"Payer Type" value set 2.16.840.1.114222.4.11.3591 version 20221118 (eCQM content
qicore-2024): the first digit is the top-level class -- 1 Medicare, 2 Medicaid, 3 other
government, 4 corrections, 5 private insurance, 6 Blue Cross/Blue Shield, 7 managed care
unspecified, 8 no payment, 9 other. SOPT has no code for ACA marketplace (exchange) plans, so
``exchange`` is never inferred; plans that need it state it in their CSV package.
"""

from __future__ import annotations

from openvbc.interop.fhir.datatypes import JsonObject, codings_of

SOPT_SYSTEM = "https://nahdo.org/sopt"
UNKNOWN_LINE_OF_BUSINESS = "unknown"

_BY_FIRST_DIGIT: dict[str, str] = {
    "1": "medicare",
    "2": "medicaid",
    "5": "commercial",
    "6": "commercial",
}


def line_of_business_for(coverage: JsonObject) -> str:
    """``medicare`` | ``medicaid`` | ``commercial`` | ``other`` | ``unknown`` from Coverage.type."""
    for system, code in codings_of(coverage.get("type")):
        if system == SOPT_SYSTEM and code[:1].isdigit():
            return _BY_FIRST_DIGIT.get(code[0], "other")
    return UNKNOWN_LINE_OF_BUSINESS

"""Hand-written care plans for the golden and round-trip tests.

Case "adherence": a community pharmacist's comprehensive review of a member on metformin and
lisinopril. Codes and their displays come from public HL7 content:
- DTP SNOMED 697958005 "Suspected noncompliance with therapeutic regimen (situation)" and
  intervention SNOMED 713116003 "Monitoring adherence to medication regime (regime/therapy)":
  HL7/PhCP-r4 examples (phcp-medication-therapy-condition-example, phcp-intervention-procedure-example).
- Intervention SNOMED 410123007 "Medication regimen compliance education" and planned
  intervention 733901008 "Referral to self-management support service": HL7/PhCP-r4 examples.
- Encounter type SNOMED 185389009 "Follow-up visit": HL7/PhCP-r4 phcp-encounter-example.
- HbA1c LOINC 4548-4 (goal code): the US Core / eCQM HbA1c code.
- RxNorm 860975 / 314076: metformin 500 mg ER tablet and lisinopril 10 mg tablet (NLM RxNorm, public).
The second DTP has no code: it shows an uncoded problem kept as free text.

Expected content of the rendered documents (the golden tests check these by hand):
- CDA: 3 document templates (…22.1.1, …22.1.15, …37.1.1), code 52521-2; sections 75310-3 (2 health
  concerns, one coded 697958005, one nullFlavor OTH), 61146-7 (1 goal, RSON → problem dtp-1),
  62387-6 (1 done + 1 planned intervention), 11383-7 (1 outcome, GEVL → goal-1), 10160-0 (2
  medications, then 3 dispenses pointing at med-1, med-1, med-2), 48768-6 (1 coverage).
- FHIR: a document Bundle whose first entry is the Composition, then Patient, Practitioner,
  Organization, Encounter, 2 Conditions, 1 Goal, 1 Procedure (done) + 1 ServiceRequest (planned),
  1 Observation (outcome), 2 MedicationStatements, 3 MedicationDispenses, 1 Coverage and its payer
  Organization: 1 + 3 + 1 + 2 + 1 + 2 + 1 + 2 + 3 + 2 = 18 entries.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from openvbc.domain.careplan import (
    CareEncounter,
    CarePlan,
    Code,
    CoverageEntry,
    DispenseEntry,
    Goal,
    Intervention,
    MedicationEntry,
    MedicationTherapyProblem,
    Outcome,
    Patient,
    Pharmacist,
    Pharmacy,
)

CENTRAL = timezone(timedelta(hours=-6))

ADHERENCE_PLAN = CarePlan(
    id="cp-2025-0001",
    title="Pharmacist Care Plan",
    patient=Patient("M000123", "Ada", "Lovelace", date(1956, 4, 2), "F"),
    author=Pharmacist("1234567893", "Grace", "Hopper"),
    pharmacy=Pharmacy("1245319599", "Main Street Pharmacy"),
    created_at=datetime(2025, 3, 14, 9, 30, tzinfo=CENTRAL),
    period_start=date(2025, 3, 14),
    period_end=date(2025, 9, 14),
    encounter=CareEncounter(
        "enc-1",
        Code("snomed", "185389009", "Follow-up visit"),
        datetime(2025, 3, 14, 9, 0, tzinfo=CENTRAL),
        datetime(2025, 3, 14, 9, 35, tzinfo=CENTRAL),
    ),
    problems=(
        MedicationTherapyProblem(
            "dtp-1",
            Code("snomed", "697958005", "Suspected noncompliance with therapeutic regimen (situation)"),
            "Misses evening metformin doses about twice a week",
            "active",
            date(2025, 3, 14),
            ("med-1",),
        ),
        MedicationTherapyProblem("dtp-2", None, "Cannot open child-resistant caps", "active", None, ()),
    ),
    goals=(
        Goal(
            "goal-1",
            "HbA1c below 8 percent",
            Code("loinc", "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"),
            "active",
            date(2025, 3, 14),
            date(2025, 9, 14),
            ("dtp-1",),
        ),
    ),
    interventions=(
        Intervention(
            "int-1",
            "Taught dose pairing with the evening meal",
            Code("snomed", "410123007", "Medication regimen compliance education"),
            "completed",
            date(2025, 3, 14),
            ("dtp-1",),
        ),
        Intervention(
            "int-2",
            "Refer to diabetes self-management education",
            Code("snomed", "733901008", "Referral to self-management support service"),
            "planned",
            date(2025, 4, 1),
            ("dtp-1", "dtp-2"),
        ),
    ),
    outcomes=(
        Outcome(
            "out-1",
            "Patient reports taking evening doses",
            None,
            "6 of 7 days",
            date(2025, 3, 28),
            ("goal-1",),
        ),
    ),
    medications=(
        MedicationEntry(
            "med-1",
            Code("rxnorm", "860975", "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet"),
            "Metformin ER 500 mg tablet",
            "Take 2 tablets by mouth with the evening meal",
            "active",
            date(2024, 1, 10),
            None,
        ),
        MedicationEntry(
            "med-2",
            Code("rxnorm", "314076", "lisinopril 10 MG Oral Tablet"),
            "Lisinopril 10 mg tablet",
            "Take 1 tablet by mouth daily",
            "active",
            date(2023, 6, 1),
            None,
        ),
    ),
    dispenses=(
        DispenseEntry(
            "disp-1",
            "med-1",
            Code("ndc", "99999000101", "metformin 500 mg"),
            Decimal("60"),
            30,
            date(2025, 1, 15),
            "1245319599",
        ),
        DispenseEntry(
            "disp-2",
            "med-1",
            Code("ndc", "99999000101", "metformin 500 mg"),
            Decimal("60"),
            30,
            date(2025, 2, 20),
            "1245319599",
        ),
        DispenseEntry(
            "disp-3",
            "med-2",
            Code("ndc", "99999004501", "lisinopril 10 mg"),
            Decimal("30"),
            30,
            date(2025, 2, 20),
            "1245319599",
        ),
    ),
    coverages=(CoverageEntry("cov-1", "M000123", "Example Health Plan", "PIE-2025"),),
)

# A minimal plan: no encounter, no entries beyond one free-text problem, UTC time.
MINIMAL_PLAN = CarePlan(
    id="cp-min",
    title="Pharmacist Care Plan",
    patient=Patient("M9", "Sam", "Doe", date(1970, 1, 1), "U"),
    author=Pharmacist(None, "Pat", "Pharmacist"),
    pharmacy=Pharmacy(None, "Corner Pharmacy"),
    created_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    period_start=date(2025, 1, 2),
    problems=(MedicationTherapyProblem("p1", None, "Unclear instructions on inhaler use"),),
)

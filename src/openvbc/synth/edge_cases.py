"""Planted edge cases: hand-made members at the start of the first chunk.

Each case is a member whose attributes are fixed before the chunk is drawn (so conditions,
visits and coverage stay consistent) and whose decisive rows are then replaced with rows written
here. The expected outcome of each case is worked out by hand in ``expected`` (and in
docs/synthetic-plan.md) and listed in manifest.json with the member key, so measure and PDC
tests can look the members up. Rule references: CMS165 (BP < 140/90, most recent reading,
lowest systolic and diastolic of the last day, ED/inpatient readings excluded, ages 18-85),
CMS122 (most recent HbA1c or GMI > 9.0 %), PQA PDC (IPSD at least 91 days before year end,
overlap shift within an ingredient, no stacking across ingredients, insulin and
sacubitril/valsartan exclusions, hospice/ESRD exclusions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from openvbc.synth.arrays import epoch_day
from openvbc.synth.case_rows import CaseWriter
from openvbc.synth.clinical import A1C, DIASTOLIC, GMI, SMOKING, SYSTOLIC
from openvbc.synth.drugs import DrugCatalogue
from openvbc.synth.population import NO_DAY, MemberBatch, PlanYear
from openvbc.synth.providers import ProviderNetwork
from openvbc.synth.tables import ChunkTables, drop_member_rows

BP_CODES = [SYSTOLIC, DIASTOLIC]


@dataclass(frozen=True)
class EdgeCase:
    name: str
    description: str
    expected: str
    age: int = 60
    htn: bool = False
    dm: bool = False
    tobacco: bool = False


CASES: list[EdgeCase] = [
    EdgeCase(
        "bp_exactly_140_90",
        "Hypertensive; most recent BP (1 Dec) is exactly 140/90, an earlier one 150/95.",
        "CMS165 numerator not met: control needs systolic < 140 and diastolic < 90.",
        htn=True,
    ),
    EdgeCase(
        "bp_only_in_ed",
        "Hypertensive; the only BP readings of the year were taken in the ED (128/78).",
        "CMS165 numerator not met: ED and inpatient readings are excluded, so no eligible BP.",
        htn=True,
        age=55,
    ),
    EdgeCase(
        "bp_two_readings_last_day",
        "Hypertensive; two BP panels on 31 Dec: 150/85 then 135/95.",
        "CMS165 representative BP is 135/85 (lowest systolic, lowest diastolic of the day): controlled.",
        htn=True,
        age=70,
    ),
    EdgeCase(
        "a1c_exactly_9",
        "Diabetic; HbA1c 9.4 % in March, most recent 9.0 % on 1 Oct.",
        "CMS122 numerator not met (9.0 is not > 9.0): counts as glycaemic control for the inverse measure.",
        dm=True,
        age=50,
    ),
    EdgeCase(
        "gmi_most_recent",
        "Diabetic; HbA1c 8.5 % in February, then a CGM GMI of 7.4 % on 20 Nov (14-day window).",
        "Most recent glycaemic status is the GMI 7.4 %: CMS122 numerator not met; GSD < 8 met.",
        dm=True,
        age=45,
    ),
    EdgeCase(
        "first_fill_last_90_days",
        "Atorvastatin 30-day fills on 20 Oct, 19 Nov and 19 Dec only.",
        "No PDC-STA: the index date is within the last 90 days of the year (IPSD after 2 Oct).",
        age=58,
    ),
    EdgeCase(
        "same_day_two_ingredients",
        "Metformin and glipizide 30-day fills on the same days, every 30 days from 5 Jan.",
        "PDC-DR counts each day once (no stacking across ingredients): PDC = union of covered days / days "
        "from 5 Jan to 31 Dec.",
        dm=True,
        age=62,
    ),
    EdgeCase(
        "overlap_cascade",
        "Lisinopril 30-day fills every 25 days from 2 Jan (10 fills).",
        "Overlaps shift forward within the ingredient: 300 contiguous covered days from 2 Jan; PDC-RASA = "
        "300 / days from 2 Jan to 31 Dec.",
        htn=True,
        age=66,
    ),
    EdgeCase(
        "death_mid_year",
        "Hypertensive member who dies on 30 June; coverage ends that day.",
        "Measurement periods end at death; no rows after 30 June.",
        htn=True,
        age=78,
    ),
    EdgeCase(
        "age_85_at_year_end",
        "Hypertensive member born 31 Dec (year - 85): 85 on the last day of the year.",
        "In the CMS165 initial population (ages 18-85 at the end of the period).",
        htn=True,
        age=85,
    ),
    EdgeCase(
        "age_86_at_year_end",
        "Hypertensive member born 30 Dec (year - 86): 86 at year end.",
        "Outside the CMS165 age range (older than 85).",
        htn=True,
        age=86,
    ),
    EdgeCase(
        "hospice",
        "Hypertensive member in hospice from 1 Sep (HCPCS hospice encounter and claim).",
        "Excluded from CMS165/CMS122/CMS138 and from PDC (hospice).",
        htn=True,
        age=80,
    ),
    EdgeCase(
        "esrd",
        "Hypertensive member with ESRD (N18.6) and monthly dialysis (CPT 90935).",
        "Excluded from CMS165 and from PDC (ESRD).",
        htn=True,
        age=64,
    ),
    EdgeCase(
        "insulin_user",
        "Diabetic on metformin (90-day fills) who also fills insulin glargine.",
        "Excluded from PDC-DR (insulin fill).",
        dm=True,
        age=57,
    ),
    EdgeCase(
        "sacubitril_switch",
        "Losartan until May, then sacubitril/valsartan from June.",
        "Excluded from PDC-RASA (sacubitril/valsartan fill).",
        htn=True,
        age=72,
    ),
    EdgeCase(
        "disenrolled_mid_year",
        "Member whose coverage ends on 30 April.",
        "Continuous-enrolment checks fail; the PDC period ends at disenrolment.",
        htn=True,
        age=44,
    ),
    EdgeCase(
        "no_claims",
        "Member with coverage but no encounters, claims or fills at all.",
        "Not in any measure denominator; not attributable by fills.",
        age=30,
    ),
    EdgeCase(
        "pharmacy_tie",
        "Atorvastatin fills alternate between two pharmacies, three each (last one at B).",
        "Plurality attribution ties 3-3; the tie-break by most recent fill picks pharmacy B.",
        age=52,
    ),
    EdgeCase(
        "discharge_to_hospice",
        "Inpatient stay ending with discharge to hospice (NUBC 50, SNOMED 428361000124107).",
        "Hospice exclusion via the discharge disposition.",
        htn=True,
        age=83,
    ),
    EdgeCase(
        "tobacco_quit",
        "Smoker on 1 Mar (449868002), former smoker on 1 Sep (8517006).",
        "Tobacco-free at the most recent screening (PIE tobacco-free outcome met); CMS138 screened.",
        tobacco=True,
        age=41,
    ),
]


@dataclass
class Planted:
    index: dict[str, int] = field(default_factory=dict)  # case name -> member index in the chunk


def plant_members(batch: MemberBatch, plan_year: PlanYear) -> Planted:
    """Fix the attributes of the first members of the chunk to the edge cases."""
    planted = Planted()
    ndays = plan_year.days
    for i, case in enumerate(CASES[: batch.size]):
        planted.index[case.name] = i
        birth_day = date(plan_year.year - case.age, 1 + (i % 12), 1 + (i % 27))
        if case.name == "age_85_at_year_end":
            birth_day = date(plan_year.year - 85, 12, 31)
        if case.name == "age_86_at_year_end":
            birth_day = date(plan_year.year - 86, 12, 30)
        batch.age[i] = case.age
        batch.birth[i] = epoch_day(birth_day)
        batch.band[i] = 9 if case.age >= 85 else (8 if case.age >= 75 else (7 if case.age >= 65 else 6))
        if case.age < 65:
            batch.band[i] = int(np.searchsorted([0, 5, 18, 25, 35, 45, 55, 65], case.age, side="right") - 1)
        batch.htn[i], batch.dm[i], batch.dm_type1[i], batch.tobacco[i] = (
            case.htn,
            case.dm,
            False,
            case.tobacco,
        )
        batch.esrd[i] = case.name == "esrd"
        batch.tobacco_quit[i] = plan_year_day(plan_year, 6, 1) if case.name == "tobacco_quit" else NO_DAY
        batch.start[i], batch.end[i], batch.death[i] = 0, ndays - 1, NO_DAY
        batch.disenrolled[i] = False
        batch.gap_start[i] = batch.gap_end[i] = NO_DAY
        batch.hospice[i], batch.hospice_via_discharge[i] = NO_DAY, False
        batch.no_care[i] = case.name == "no_claims"
        batch.lob[i] = 2 if case.age >= 65 else 0
        batch.pcp[i] = max(batch.pcp[i], 0)
        if case.name == "death_mid_year":
            batch.death[i] = batch.end[i] = plan_year_day(plan_year, 6, 30)
        if case.name == "disenrolled_mid_year":
            batch.end[i] = plan_year_day(plan_year, 4, 30)
            batch.disenrolled[i] = True
        if case.name == "hospice":
            batch.hospice[i] = plan_year_day(plan_year, 9, 1)
        if case.name == "discharge_to_hospice":
            batch.hospice[i] = plan_year_day(plan_year, 10, 15)
            batch.hospice_via_discharge[i] = True
    return planted


def plan_year_day(plan_year: PlanYear, month: int, day: int) -> int:
    return (date(plan_year.year, month, day) - date(plan_year.year, 1, 1)).days


def apply(
    planted: Planted,
    batch: MemberBatch,
    network: ProviderNetwork,
    catalogue: DrugCatalogue,
    plan_year: PlanYear,
    out: ChunkTables,
) -> list[dict[str, str]]:
    """Replace the decisive rows of each planted member; return the manifest entries."""
    writer = CaseWriter(batch, network, catalogue, plan_year, out)
    y = plan_year.year
    for name, i in planted.index.items():
        key = writer.key(i)
        if name in ("bp_exactly_140_90", "bp_only_in_ed", "bp_two_readings_last_day"):
            drop_member_rows(out, "observations", [key], BP_CODES)
            writer.office_visit(i, date(y, 3, 15))
        if name == "bp_exactly_140_90":
            writer.bp(i, date(y, 6, 3), 10, 150, 95, "ambulatory")
            writer.bp(i, date(y, 12, 1), 10, 140, 90, "ambulatory")
        elif name == "bp_only_in_ed":
            writer.bp(i, date(y, 11, 10), 22, 128, 78, "ed")
        elif name == "bp_two_readings_last_day":
            writer.bp(i, date(y, 12, 31), 9, 150, 85, "ambulatory")
            writer.bp(i, date(y, 12, 31), 9.5, 135, 95, "ambulatory")
        elif name in ("a1c_exactly_9", "gmi_most_recent"):
            drop_member_rows(out, "observations", [key], [A1C, GMI])
            writer.office_visit(i, date(y, 3, 15))
            if name == "a1c_exactly_9":
                writer.lab(i, date(y, 3, 20), A1C, 9.4)
                writer.lab(i, date(y, 10, 1), A1C, 9.0)
            else:
                writer.lab(i, date(y, 2, 12), A1C, 8.5)
                writer.lab(i, date(y, 11, 20), GMI, 7.4, window_days=14)
        elif name == "tobacco_quit":
            drop_member_rows(out, "observations", [key], [SMOKING])
            writer.office_visit(i, date(y, 3, 1))
            writer.smoking(i, date(y, 3, 1), "449868002")
            writer.smoking(i, date(y, 9, 1), "8517006")
        if name in _FILL_CASES:
            drop_member_rows(out, "fills", [key])
            for when, ingredient, days, pharmacy in _FILL_CASES[name](y):
                writer.fill(i, when, ingredient, days, pharmacy)
        if name == "no_claims":
            for file_name in (
                "fills",
                "claims",
                "encounters",
                "observations",
                "medication_orders",
                "mtm_encounters",
                "adt_events",
                "procedures",
            ):
                drop_member_rows(out, file_name, [key])
    writer.flush()
    return [
        {
            "case": case.name,
            "member_key": writer.key(planted.index[case.name]),
            "description": case.description,
            "expected": case.expected,
        }
        for case in CASES
        if case.name in planted.index
    ]


def _every(start: date, step: int, count: int) -> list[date]:
    return [start + timedelta(days=step * k) for k in range(count)]


_FILL_CASES = {
    "first_fill_last_90_days": lambda y: [
        (d, "atorvastatin", 30, 0) for d in (date(y, 10, 20), date(y, 11, 19), date(y, 12, 19))
    ],
    "same_day_two_ingredients": lambda y: [
        (d, ing, 30, 0) for d in _every(date(y, 1, 5), 30, 12) for ing in ("metformin", "glipizide")
    ],
    "overlap_cascade": lambda y: [(d, "lisinopril", 30, 0) for d in _every(date(y, 1, 2), 25, 10)],
    "insulin_user": lambda y: (
        [(d, "metformin", 90, 0) for d in _every(date(y, 1, 8), 90, 4)]
        + [(d, "insulin glargine", 30, 0) for d in _every(date(y, 2, 1), 30, 10)]
    ),
    "sacubitril_switch": lambda y: (
        [(d, "losartan", 30, 0) for d in _every(date(y, 1, 3), 30, 5)]
        + [(d, "sacubitril|valsartan", 30, 0) for d in _every(date(y, 6, 1), 30, 7)]
    ),
    "pharmacy_tie": lambda y: [(date(y, m, 10), "atorvastatin", 30, 0 if m % 2 else 1) for m in range(1, 7)],
}

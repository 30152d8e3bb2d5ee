"""Hand-computed PDC cases. Every expected number is worked out in the comment beside it.

Day counts use: Jan 31, Feb 28 (2018 and 2025 are not leap years), Mar 31, Apr 30, May 31,
Jun 30, Jul 31, Aug 31, Sep 30, Oct 31, Nov 30, Dec 31.
The PQA cases (``pqa-*``) are the claims of the PQA test vectors for PDC-DR (pdc-dr.js,
https://www.pqaalliance.org/assets/Measures/pdc-dr.js.txt, measurement year 2018): the vector gives
each claim's dateOfFirstDose / dateOfLastDose; the PDC figures are ours, by hand, from those dates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pdc_scenario import Scenario

D = date


@dataclass(frozen=True)
class Golden:
    name: str
    measure: str
    year: int
    build: Callable[[Scenario, int], None]
    expected: dict[str, Any]
    inpatient_adjustment: bool = False
    reason_contains: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _fills(member: int, *fills: tuple[date, int | None, str | None]) -> Callable[[Scenario, int], None]:
    def build(s: Scenario, m: int) -> None:
        s.member(m)
        for day, supply, ingredient in fills:
            s.fill(m, day, supply, ingredient)

    return build


def _with(
    setup: Callable[[Scenario, int], object], *fills: tuple[date, int | None, str | None], **member: Any
) -> Callable[[Scenario, int], None]:
    def build(s: Scenario, m: int) -> None:
        s.member(m, **member)
        for day, supply, ingredient in fills:
            s.fill(m, day, supply, ingredient)
        setup(s, m)

    return build


def _nothing(s: Scenario, m: int) -> None:
    return None


MET, GLI = "metformin", "glipizide"
SIM, ATO, ROS = "simvastatin", "atorvastatin", "rosuvastatin"

CASES: list[Golden] = [
    # --- PQA test vectors (PDC-DR, 2018) --------------------------------------------------------
    # metformin 01-01 x90 -> 01-01..03-31 (90); glipizide 04-01 x90 -> 04-01..06-29 (90).
    # Two dates; IPSD 01-01; period 365 days; covered 180; 180/365 = 0.493 < 0.8.
    Golden(
        "pqa-1-two-drugs-in-sequence",
        "PDC-DR",
        2018,
        _fills(0, (D(2018, 1, 1), 90, MET), (D(2018, 4, 1), 90, GLI)),
        {"initial_population": True, "numerator": False, "covered_days": 180, "period_days": 365},
    ),
    # metformin and glipizide both on 01-01 x90: one date of service -> not in the denominator;
    # different drugs are not stacked, so covered = 01-01..03-31 = 90.
    Golden(
        "pqa-2-same-day-two-drugs",
        "PDC-DR",
        2018,
        _fills(0, (D(2018, 1, 1), 90, MET), (D(2018, 1, 1), 90, GLI)),
        {"initial_population": False, "covered_days": 90, "period_days": 365},
        reason_contains="fewer than 2",
    ),
    # 03-25 x90 -> 03-25..06-22; 07-05 x90 -> 07-05..10-02; 09-25 x90 overlaps, first dose 10-03 -> 12-31
    # (as in the vector). IPSD 03-25: period = 7 (Mar 25-31) + 275 (Apr..Dec) = 282; covered 270;
    # 270/282 = 0.957 >= 0.8.
    Golden(
        "pqa-3-refill-shifted-to-10-03",
        "PDC-DR",
        2018,
        _fills(0, (D(2018, 3, 25), 90, MET), (D(2018, 7, 5), 90, MET), (D(2018, 9, 25), 90, MET)),
        {
            "initial_population": True,
            "numerator": True,
            "covered_days": 270,
            "period_days": 282,
            "index_date": D(2018, 3, 25),
        },
    ),
    # 01-01 -> 03-31; 03-25 shifted to 04-01..06-29; 07-05..10-02; 10-15 x90 would end 2019-01-12, truncated
    # to 12-31: 17 + 30 + 31 = 78 days. Covered 90+90+90+78 = 348 of 365 = 0.953.
    Golden(
        "pqa-4-shift-and-truncate",
        "PDC-DR",
        2018,
        _fills(
            0,
            (D(2018, 1, 1), 90, MET),
            (D(2018, 3, 25), 90, MET),
            (D(2018, 7, 5), 90, MET),
            (D(2018, 10, 15), 90, MET),
        ),
        {"initial_population": True, "numerator": True, "covered_days": 348, "period_days": 365},
    ),
    # 10-04 x30 -> 10-04..11-02; 11-01 x30 shifted to 11-03..12-02 (as in the vector);
    # 12-15 x30 -> 12-15..12-31
    # (17). IPSD 10-04: period 28 + 30 + 31 = 89 days < 91 -> not in the denominator. Covered 30+30+17 = 77.
    Golden(
        "pqa-5-late-index-date",
        "PDC-DR",
        2018,
        _fills(0, (D(2018, 10, 4), 30, MET), (D(2018, 11, 1), 30, MET), (D(2018, 12, 15), 30, MET)),
        {"initial_population": False, "covered_days": 77, "period_days": 89},
        reason_contains="shorter than 91",
    ),
    # --- hand-computed, PDC-STA 2025 ------------------------------------------------------------
    # Cascading early refills, x30 every 20 days: 01-01..01-30; 01-21 -> 01-31..03-01; 02-10 -> 03-02..03-31;
    # 03-02 -> 04-01..04-30. Each shift carries the previous one (not only the previous theoretical end):
    # covered = Jan 1..Apr 30 = 31+28+31+30 = 120 of 365.
    Golden(
        "cascading-early-refills",
        "PDC-STA",
        2025,
        _fills(
            0,
            (D(2025, 1, 1), 30, SIM),
            (D(2025, 1, 21), 30, SIM),
            (D(2025, 2, 10), 30, SIM),
            (D(2025, 3, 2), 30, SIM),
        ),
        {"initial_population": True, "numerator": False, "covered_days": 120, "period_days": 365},
    ),
    # Two statins the same day are counted concurrently, not stacked: 01-01..03-31 once (90); atorvastatin
    # 04-01 x90 -> 04-01..06-29 (90). Covered 180 of 365.
    Golden(
        "same-day-two-ingredients",
        "PDC-STA",
        2025,
        _fills(0, (D(2025, 1, 1), 90, ATO), (D(2025, 1, 1), 90, ROS), (D(2025, 4, 1), 90, ATO)),
        {"initial_population": True, "covered_days": 180, "period_days": 365},
    ),
    # Class switch: simvastatin 01-01..03-31; simvastatin 03-15 shifted to 04-01..06-29;
    # atorvastatin 05-01 x90
    # is another ingredient, so not shifted: 05-01..07-29; union Apr 1..Jul 29 = 30+31+30+29 = 120;
    # atorvastatin 07-30 x90 -> 07-30..10-27 (2+31+30+27 = 90). Covered 90+120+90 = 300 of 365 = 0.822 >= 0.8.
    Golden(
        "class-switch",
        "PDC-STA",
        2025,
        _fills(
            0,
            (D(2025, 1, 1), 90, SIM),
            (D(2025, 3, 15), 90, SIM),
            (D(2025, 5, 1), 90, ATO),
            (D(2025, 7, 30), 90, ATO),
        ),
        {"initial_population": True, "numerator": True, "covered_days": 300, "period_days": 365},
    ),
    # amlodipine|atorvastatin 01-01 x90 is an atorvastatin fill (01-01..03-31);
    # atorvastatin 03-01 x90 is the same
    # ingredient, shifted to 04-01..06-29. Covered Jan 1..Jun 29 = 31+28+31+30+31+29 = 180.
    Golden(
        "combination-product",
        "PDC-STA",
        2025,
        _fills(0, (D(2025, 1, 1), 90, "amlodipine|atorvastatin"), (D(2025, 3, 1), 90, ATO)),
        {"initial_population": True, "covered_days": 180, "period_days": 365},
    ),
    # Death 06-30: period Jan 1..Jun 30 = 181 days; 01-01..03-31 (90) + 04-01..06-29 (90) = 180;
    # a fill dated after death (data error) is ignored. 180/181 = 0.994.
    Golden(
        "death-mid-year",
        "PDC-STA",
        2025,
        _with(
            _nothing,
            (D(2025, 1, 1), 90, SIM),
            (D(2025, 4, 1), 90, SIM),
            (D(2025, 7, 15), 90, SIM),
            death=D(2025, 6, 30),
        ),
        {
            "initial_population": True,
            "numerator": True,
            "covered_days": 180,
            "period_days": 181,
            "period_end": D(2025, 6, 30),
            "last_fill_date": D(2025, 4, 1),
        },
    ),
    # Disenrolment 08-31: 02-01 x90 -> 02-01..05-01 (28+31+30+1 = 90);
    # 05-02 x90 -> 05-02..07-30 (30+30+30 = 90);
    # 08-01 x90 truncated at 08-31 (31). Period Feb 1..Aug 31 = 28+31+30+31+30+31+31 = 212; covered 211.
    Golden(
        "disenrolment",
        "PDC-STA",
        2025,
        _with(
            _nothing,
            (D(2025, 2, 1), 90, SIM),
            (D(2025, 5, 2), 90, SIM),
            (D(2025, 8, 1), 90, SIM),
            coverage=[(D(2024, 1, 1), D(2025, 8, 31))],
        ),
        {
            "initial_population": True,
            "numerator": True,
            "covered_days": 211,
            "period_days": 212,
            "period_end": D(2025, 8, 31),
        },
    ),
    # First fill 10-03 is inside the last 90 days (Oct 3..Dec 31 = 29+30+31 = 90): not in the denominator.
    Golden(
        "index-in-last-90-days",
        "PDC-STA",
        2025,
        _fills(0, (D(2025, 10, 3), 30, SIM), (D(2025, 11, 2), 30, SIM)),
        {"initial_population": False, "period_days": 90},
        reason_contains="shorter than 91",
    ),
    # First fill 10-02: treatment period Oct 2..Dec 31 = 30+30+31 = 91 days -> in. 10-02..10-31 (30) +
    # 11-01..11-30 (30) = 60 of 91 = 0.659.
    Golden(
        "index-exactly-91-days",
        "PDC-STA",
        2025,
        _fills(0, (D(2025, 10, 2), 30, SIM), (D(2025, 11, 1), 30, SIM)),
        {"initial_population": True, "numerator": False, "covered_days": 60, "period_days": 91},
    ),
    # 01-01 x180 -> 01-01..06-29 (180); 06-15 x200 shifted to 06-30, would end 2026-01-15, truncated at 12-31:
    # 1+31+31+30+31+30+31 = 185. Covered 365 of 365: PDC exactly 1, never above.
    Golden(
        "supply-past-period-end",
        "PDC-STA",
        2025,
        _fills(0, (D(2025, 1, 1), 180, SIM), (D(2025, 6, 15), 200, SIM)),
        {"initial_population": True, "numerator": True, "covered_days": 365, "period_days": 365, "pdc": 1.0},
    ),
    # Hospice: HCPCS Q5003 (Hospice Encounter value set) on 09-01. In the denominator, excluded.
    Golden(
        "hospice-encounter",
        "PDC-STA",
        2025,
        _with(
            lambda s, m: s.encounter(m, D(2025, 9, 1), "hcpcs", "Q5003"),
            (D(2025, 1, 1), 90, SIM),
            (D(2025, 4, 1), 90, SIM),
        ),
        {"initial_population": True, "denominator_exclusion": True, "numerator": False},
        reason_contains="hospice",
    ),
    # Hospice: an institutional claim with type of bill 0811 (hospice, non-hospital based).
    Golden(
        "hospice-bill-type",
        "PDC-STA",
        2025,
        _with(
            lambda s, m: s.claim(m, D(2025, 11, 1), bill_type="0811"),
            (D(2025, 1, 1), 90, SIM),
            (D(2025, 4, 1), 90, SIM),
        ),
        {"initial_population": True, "denominator_exclusion": True, "numerator": False},
    ),
    # ESRD on the problem list (ICD-10-CM N18.6, onset 2020): excluded although adherent (365/365).
    Golden(
        "esrd-condition",
        "PDC-STA",
        2025,
        _with(
            lambda s, m: s.condition(m, "icd10cm", "N18.6", D(2020, 5, 1)),
            (D(2025, 1, 1), 180, SIM),
            (D(2025, 6, 30), 200, SIM),
        ),
        {"initial_population": True, "denominator_exclusion": True, "numerator": False},
        reason_contains="esrd",
    ),
    # ESRD from claims: diagnosis N186 (no dot, as claims carry it) and dialysis CPT 90935.
    Golden(
        "esrd-claims",
        "PDC-STA",
        2025,
        _with(
            lambda s, m: s.claim(m, D(2025, 3, 3), diagnoses=("N186",), procedures=("90935",)),
            (D(2025, 1, 1), 90, SIM),
            (D(2025, 4, 1), 90, SIM),
        ),
        {"initial_population": True, "denominator_exclusion": True},
    ),
    # Bad input: supply 0 and -30 and a fill with no known ingredient are counted, never used:
    # 01-01..03-31 + 04-01..06-29 = 180 of 365; bad_fills = 3.
    Golden(
        "bad-fills-counted",
        "PDC-STA",
        2025,
        _with(
            lambda s, m: s.fill(m, D(2025, 5, 1), 30, None, ""),
            (D(2025, 1, 1), 90, SIM),
            (D(2025, 2, 1), 0, SIM),
            (D(2025, 3, 1), -30, SIM),
            (D(2025, 4, 1), 90, SIM),
        ),
        {"initial_population": True, "covered_days": 180, "period_days": 365, "bad_fills": 3},
    ),
    # Only bad fills: a row that says so, no PDC.
    Golden(
        "only-bad-fills",
        "PDC-STA",
        2025,
        _fills(0, (D(2025, 2, 1), 0, SIM), (D(2025, 3, 1), None, SIM)),
        {"initial_population": False, "bad_fills": 2, "covered_days": 0},
        reason_contains="no usable fill",
    ),
    # Age 15 on 2025-12-31: not in the initial population.
    Golden(
        "under-18",
        "PDC-STA",
        2025,
        _with(_nothing, (D(2025, 1, 1), 90, SIM), (D(2025, 4, 1), 90, SIM), birth=D(2010, 1, 1)),
        {"initial_population": False},
        reason_contains="younger than 18",
    ),
    # Coverage starts 06-01, first fill 01-01: not covered on the index date.
    Golden(
        "not-enrolled-on-index-date",
        "PDC-STA",
        2025,
        _with(_nothing, (D(2025, 1, 1), 90, SIM), (D(2025, 4, 1), 90, SIM), coverage=[(D(2025, 6, 1), None)]),
        {"initial_population": False},
        reason_contains="no drug coverage",
    ),
    # Inpatient stay 02-01..02-11 (censored 02-01..02-10, 10 days: Medicare counts the discharge day out).
    # Adjustment off: 01-01..03-31 + 04-01..06-29 = 180 of 365.
    Golden(
        "inpatient-adjustment-off",
        "PDC-STA",
        2025,
        _with(
            lambda s, m: s.stay(m, D(2025, 2, 1), D(2025, 2, 11)),
            (D(2025, 1, 1), 90, SIM),
            (D(2025, 4, 1), 90, SIM),
        ),
        {"initial_population": True, "covered_days": 180, "period_days": 365},
    ),
    # Adjustment on: the 10 stay days leave the period (355) and the first fill's supply pauses
    # during the stay:
    # Jan 1..31 (31) + Feb 11..Apr 10 (18+31+10 = 59) = 90; the 04-01 refill now overlaps and shifts to
    # Apr 11..Jul 9 (20+31+30+9 = 90). Covered 180 of 355 = 0.507.
    Golden(
        "inpatient-adjustment-on",
        "PDC-STA",
        2025,
        _with(
            lambda s, m: s.stay(m, D(2025, 2, 1), D(2025, 2, 11)),
            (D(2025, 1, 1), 90, SIM),
            (D(2025, 4, 1), 90, SIM),
        ),
        {"initial_population": True, "covered_days": 180, "period_days": 355},
        inpatient_adjustment=True,
    ),
    # --- drug exclusions -------------------------------------------------------------------------
    # PDC-DR: metformin 01-01 x90 and 04-01 x90 (180 of 365) plus one insulin glargine fill:
    # in the denominator, excluded.
    Golden(
        "insulin-user-excluded",
        "PDC-DR",
        2025,
        _fills(
            0, (D(2025, 1, 1), 90, MET), (D(2025, 4, 1), 90, MET), (D(2025, 6, 1), 30, "insulin glargine")
        ),
        {"initial_population": True, "denominator_exclusion": True, "numerator": False},
        reason_contains="insulin glargine",
    ),
    # PDC-DR: sitagliptin|metformin 01-01 x90 counts for both ingredients; metformin 02-01 x90 shifts to
    # 04-01..06-29 on the metformin stream; the sitagliptin stream covers 01-01..03-31. Union 180 of 365.
    Golden(
        "dr-combination",
        "PDC-DR",
        2025,
        _fills(0, (D(2025, 1, 1), 90, "sitagliptin|metformin"), (D(2025, 2, 1), 90, MET)),
        {"initial_population": True, "covered_days": 180, "period_days": 365},
    ),
    # PDC-RASA: sacubitril/valsartan user excluded; its fill never counts as ARB days.
    Golden(
        "sacubitril-valsartan-excluded",
        "PDC-RASA",
        2025,
        _fills(
            0,
            (D(2025, 1, 1), 90, "lisinopril"),
            (D(2025, 4, 1), 90, "lisinopril"),
            (D(2025, 7, 1), 90, "sacubitril|valsartan"),
        ),
        {"initial_population": True, "denominator_exclusion": True, "covered_days": 180},
        reason_contains="sacubitril",
    ),
    # PDC-RASA: lisinopril|hydrochlorothiazide counts as lisinopril only: 01-01..03-31,
    # then lisinopril 03-01 x90
    # shifted to 04-01..06-29; losartan 07-01 x90 -> 07-01..09-28 (31+31+28 = 90). Covered 270 of 365 = 0.740.
    Golden(
        "rasa-combination-and-switch",
        "PDC-RASA",
        2025,
        _fills(
            0,
            (D(2025, 1, 1), 90, "lisinopril|hydrochlorothiazide"),
            (D(2025, 3, 1), 90, "lisinopril"),
            (D(2025, 7, 1), 90, "losartan"),
        ),
        {"initial_population": True, "numerator": False, "covered_days": 270, "period_days": 365},
    ),
]


def build_all() -> tuple[Scenario, dict[str, int]]:
    """One scenario holding every case, each under its own member id."""
    scenario = Scenario()
    members = {}
    for number, case in enumerate(CASES, start=1):
        case.build(scenario, number)
        members[case.name] = number
    return scenario, members

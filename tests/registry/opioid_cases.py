"""Golden opioid cases: every expected MME and verdict is worked out by hand beside the rows.

MME/day of a fill = strength x (quantity x unit_days / days_supply) x CDC 2022 factor.
Day offsets count from 2025-01-01 (Jan has 31 days, Feb 28): Jan 31 = 30, Feb 1 = 31, Mar 2 = 60,
Mar 3 = 61, Apr 1 = 90, Apr 2 = 91, Jun 1 = 151.
"""

from __future__ import annotations

from datetime import date

from registry.world import ALPRAZ, FENT25, HYDRO10, LORAZ, METH10, MORPH30, OXY5, OXY10, TRAM50, D, World

ADULT = D(1970, 3, 15)


def _monthly(
    world: World, member: int, ndc: str, days: list[date], quantity: float, supply: int = 30
) -> None:
    for day in days:
        world.add_fill(member, ndc, day, supply, quantity)


FOUR_MONTHS = [D(2025, 1, 1), D(2025, 1, 31), D(2025, 3, 2), D(2025, 4, 1)]


def build_opioid_world() -> World:
    w = World()
    for member in range(1, 17):
        w.add_member(member, D(2007, 6, 1) if member == 9 else ADULT)
    # 1: oxycodone 10 mg, 180 tablets / 30 days = 6 a day -> 60 mg x 1.5 = 90 MME/day; four back-to-back
    #    fills cover days 0..119 -> 120 consecutive days >= 90 -> OHD numerator.
    _monthly(w, 1, OXY10, FOUR_MONTHS, 180)
    # 2: hydrocodone 10 mg, 267 / 30 = 8.9 a day -> 89 mg x 1.0 = 89 MME/day: never >= 90 -> not met.
    _monthly(w, 2, HYDRO10, FOUR_MONTHS, 267)
    # 3: 90 MME/day on days 0..29, 30..59 and 60..88 (174 tablets / 29 days = 6 a day) = 89 days, then
    #    a gap and 30 more days from Jun 1 -> longest run 89 < 90 -> not met.
    _monthly(w, 3, OXY10, [D(2025, 1, 1), D(2025, 1, 31)], 180)
    w.add_fill(3, OXY10, D(2025, 3, 2), 29, 174)
    w.add_fill(3, OXY10, D(2025, 6, 1), 30, 180)
    # 4: morphine ER 30 mg x 60/30 = 60 MME + tramadol 50 mg x 120/30 x 0.2 = 40 MME -> 100 MME/day on
    #    days 31..120 (fills Feb 1, Mar 3, Apr 2) = exactly 90 consecutive days -> met.
    for day in (D(2025, 2, 1), D(2025, 3, 3), D(2025, 4, 2)):
        w.add_fill(4, MORPH30, day, 30, 60)
        w.add_fill(4, TRAM50, day, 30, 120)
    # 5: like 1, but an active breast cancer diagnosis -> excluded.
    _monthly(w, 5, OXY10, FOUR_MONTHS, 180)
    w.add_condition(5, "C50.911", D(2024, 5, 1))
    # 6: like 1, but a claim with sickle-cell disease D57.1 in June -> excluded.
    _monthly(w, 6, OXY10, FOUR_MONTHS, 180)
    w.add_claim_diagnosis(6, "D571", D(2025, 6, 1))
    # 7: two opioid fills on the same date -> one date of service -> not in the denominator.
    w.add_fill(7, OXY5, D(2025, 1, 5), 30, 60)
    w.add_fill(7, OXY5, D(2025, 1, 5), 30, 60)
    # 8: 7 + 7 = 14 days' supply < 15 -> not in the denominator.
    w.add_fill(8, OXY5, D(2025, 1, 1), 7, 14)
    w.add_fill(8, OXY5, D(2025, 1, 10), 7, 14)
    # 9: born 2007-06-01, 17 on 2025-01-01 -> under 18 -> not in the denominator (fills as 1).
    _monthly(w, 9, OXY10, FOUR_MONTHS, 180)
    # 10: oxycodone 5 mg x 60/30 = 15 MME, days 0..59; alprazolam Jan 16 (15..44) and Feb 15 (45..74):
    #     both supplied on days 15..59 = 45 days >= 30, two benzodiazepine dates -> COB numerator.
    _monthly(w, 10, OXY5, [D(2025, 1, 1), D(2025, 1, 31)], 60)
    _monthly(w, 10, ALPRAZ, [D(2025, 1, 16), D(2025, 2, 15)], 30)
    # 11: opioid days 0..29 (two 15-day fills); lorazepam Jan 2 for 14 days (1..14) and Jan 16 for 15
    #     (15..29): overlap days 1..29 = 29 < 30 -> not met.
    _monthly(w, 11, OXY5, [D(2025, 1, 1), D(2025, 1, 16)], 30, supply=15)
    w.add_fill(11, LORAZ, D(2025, 1, 2), 14, 14)
    w.add_fill(11, LORAZ, D(2025, 1, 16), 15, 15)
    # 12: as 11 but lorazepam from Jan 1 (0..14) -> overlap 0..29 = 30 -> met.
    _monthly(w, 12, OXY5, [D(2025, 1, 1), D(2025, 1, 16)], 30, supply=15)
    _monthly(w, 12, LORAZ, [D(2025, 1, 1), D(2025, 1, 16)], 15, supply=15)
    # 13: 60 days of overlap but a single benzodiazepine fill date -> not met.
    _monthly(w, 13, OXY5, [D(2025, 1, 1), D(2025, 1, 31)], 60)
    w.add_fill(13, ALPRAZ, D(2025, 1, 1), 90, 90)
    # 14: like 1, but a hospice encounter (HCPCS G9473, Hospice Encounter value set) in May -> excluded.
    _monthly(w, 14, OXY10, FOUR_MONTHS, 180)
    w.add_encounter(14, D(2025, 5, 3), code="G9473", code_system="hcpcs", setting="home")
    # 15: fentanyl 25 mcg/hr patch, 10 patches / 30 days, 72 h each -> 10 x 3 / 30 = 1 patch on
    #     -> 25 x 2.4 = 60 MME/day, days 0..59 -> not met (60 < 90).
    _monthly(w, 15, FENT25, [D(2025, 1, 1), D(2025, 1, 31)], 10)
    # 16: methadone 10 mg, 60 / 30 = 2 a day -> 20 mg x 4.7 = 94 MME/day, days 0..59 -> run 60 -> not met.
    _monthly(w, 16, METH10, [D(2025, 1, 1), D(2025, 1, 31)], 60)
    return w


EXPECTED_PEAK_MME = {1: 90.0, 2: 89.0, 3: 90.0, 4: 100.0, 10: 15.0, 15: 60.0, 16: 94.0}
EXPECTED_DENOMINATOR = {1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 15, 16}
EXPECTED_EXCLUDED = {5, 6, 14}
EXPECTED_OHD = {1, 4}
EXPECTED_COB = {10, 12}
EXPECTED_RUN = {1: 120, 2: 0, 3: 89, 4: 90, 15: 0, 16: 60}

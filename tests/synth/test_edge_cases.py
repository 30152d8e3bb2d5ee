"""The planted edge cases are present with the values their expectations were worked out from."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from openvbc.synth.edge_cases import CASES

from .generated import YEAR, GeneratedPlan


def rows(frame: pd.DataFrame, member_key: str) -> pd.DataFrame:
    return frame[frame.member_key == member_key]


def test_every_case_is_listed_in_the_manifest(plan: GeneratedPlan) -> None:
    listed = {case["case"] for case in plan.manifest.edge_cases}
    assert listed == {case.name for case in CASES}
    assert all(case["expected"] and case["member_key"].startswith("M") for case in plan.manifest.edge_cases)


def test_bp_exactly_140_90_is_the_most_recent_reading(plan: GeneratedPlan) -> None:
    bp = rows(plan.frame("observations"), plan.case("bp_exactly_140_90"))
    bp = bp[bp.code.isin(["8480-6", "8462-4"])].sort_values("effective_at")
    last = bp[bp.effective_at == bp.effective_at.max()]
    assert dict(zip(last.code, last.value.astype(float), strict=True)) == {"8480-6": 140.0, "8462-4": 90.0}
    assert last.panel_key.nunique() == 1


def test_bp_only_in_ed(plan: GeneratedPlan) -> None:
    bp = rows(plan.frame("observations"), plan.case("bp_only_in_ed"))
    bp = bp[bp.code.isin(["8480-6", "8462-4"])]
    assert len(bp) == 2 and set(bp.setting) == {"ed"}


def test_two_readings_on_the_last_day(plan: GeneratedPlan) -> None:
    bp = rows(plan.frame("observations"), plan.case("bp_two_readings_last_day"))
    bp = bp[bp.code.isin(["8480-6", "8462-4"])]
    assert set(bp.effective_at.str[:10]) == {f"{YEAR}-12-31"}
    lowest = bp.groupby("code").value.apply(lambda v: v.astype(float).min())
    assert (lowest["8480-6"], lowest["8462-4"]) == (135.0, 85.0)  # 150/85 and 135/95 → 135/85


def test_a1c_exactly_9_and_gmi(plan: GeneratedPlan) -> None:
    a1c = rows(plan.frame("observations"), plan.case("a1c_exactly_9")).sort_values("effective_at")
    a1c = a1c[a1c.code == "4548-4"]
    assert a1c.value.astype(float).tolist() == [9.4, 9.0]
    gmi = rows(plan.frame("observations"), plan.case("gmi_most_recent"))
    last = gmi[gmi.code.isin(["4548-4", "97506-0"])].sort_values("effective_at").iloc[-1]
    assert (
        last.code == "97506-0" and float(last.value) == 7.4 and last.effective_end.startswith(f"{YEAR}-11-20")
    )


def test_first_fill_in_the_last_90_days(plan: GeneratedPlan) -> None:
    fills = rows(plan.frame("fills"), plan.case("first_fill_last_90_days"))
    first = date.fromisoformat(fills.fill_date.min())
    assert first > date(YEAR, 12, 31) - timedelta(days=90)
    assert len(fills) == 3


def test_same_day_fills_of_two_ingredients(plan: GeneratedPlan) -> None:
    fills = rows(plan.frame("fills"), plan.case("same_day_two_ingredients"))
    per_day = fills.groupby("fill_date").ingredient.apply(set)
    assert (per_day == {"metformin", "glipizide"}).all() and len(per_day) == 12


def test_overlap_cascade_shifts_to_300_contiguous_days(plan: GeneratedPlan) -> None:
    """Hand calculation with the PQA shift: each 30-day fill starts when the previous supply ends."""
    fills = rows(plan.frame("fills"), plan.case("overlap_cascade")).sort_values("fill_date")
    covered_until = None
    covered = 0
    for fill in fills.itertuples():
        start = date.fromisoformat(fill.fill_date)
        if covered_until is not None and start <= covered_until:
            start = covered_until + timedelta(days=1)
        covered_until = start + timedelta(days=int(fill.days_supply) - 1)
        covered += int(fill.days_supply)
    assert covered == 300 and covered_until == date(YEAR, 1, 2) + timedelta(days=299)
    period = (date(YEAR, 12, 31) - date(YEAR, 1, 2)).days + 1
    assert round(covered / period, 3) == round(300 / period, 3)  # 300/365 = 0.822 in 2024


def test_exclusion_members(plan: GeneratedPlan) -> None:
    insulin = rows(plan.frame("fills"), plan.case("insulin_user"))
    assert insulin.drug_class.str.contains("insulins").any()
    switch = rows(plan.frame("fills"), plan.case("sacubitril_switch"))
    assert switch.ingredient.eq("sacubitril|valsartan").any() and switch.ingredient.eq("losartan").any()
    esrd = rows(plan.frame("conditions"), plan.case("esrd"))
    assert "N18.6" in set(esrd.code)
    hospice = rows(plan.frame("encounters"), plan.case("hospice"))
    assert hospice.code_system.eq("hcpcs").any()
    discharge = rows(plan.frame("encounters"), plan.case("discharge_to_hospice"))
    assert discharge.discharge_disposition.isin(["428361000124107", "428371000124100"]).any()


def test_age_boundary_death_and_disenrolment(plan: GeneratedPlan) -> None:
    members = plan.frame("members").set_index("member_key")
    assert members.loc[plan.case("age_85_at_year_end"), "birth_date"] == f"{YEAR - 85}-12-31"
    assert members.loc[plan.case("age_86_at_year_end"), "birth_date"] == f"{YEAR - 86}-12-30"
    dead = plan.case("death_mid_year")
    assert members.loc[dead, "death_date"] == f"{YEAR}-06-30"
    for name in ("fills", "encounters", "observations"):
        frame = rows(plan.frame(name), dead)
        column = {"fills": "fill_date", "encounters": "start_at", "observations": "effective_at"}[name]
        assert (frame[column].str[:10] <= f"{YEAR}-06-30").all()
    coverage = rows(plan.frame("coverage"), plan.case("disenrolled_mid_year"))
    assert coverage.end_date.tolist() == [f"{YEAR}-04-30"]


def test_no_claims_and_pharmacy_tie(plan: GeneratedPlan) -> None:
    quiet = plan.case("no_claims")
    for name in ("fills", "claims", "encounters", "observations"):
        assert rows(plan.frame(name), quiet).empty
    tie = rows(plan.frame("fills"), plan.case("pharmacy_tie")).sort_values("fill_date")
    counts = tie.pharmacy_npi.value_counts()
    assert counts.tolist() == [3, 3]
    assert tie.iloc[-1].pharmacy_npi != tie.iloc[0].pharmacy_npi


def test_tobacco_quit(plan: GeneratedPlan) -> None:
    status = rows(plan.frame("observations"), plan.case("tobacco_quit"))
    status = status[status.code == "72166-2"].sort_values("effective_at")
    assert status.value_code.tolist() == ["449868002", "8517006"]

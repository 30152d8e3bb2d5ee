"""Distributions of a 20,000-member plan fall in the ranges docs/synthetic-plan.md promises.

Tolerances are wide enough for sampling noise at this size (a proportion near 0.25 from ~15,000
adults has a standard error of ~0.004) and narrow enough to catch a broken parameter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .generated import YEAR, GeneratedPlan

TOBACCO_USER = {"449868002", "428041000124106"}
PDC_CLASSES = {
    "PDC-STA": {"statins"},
    "PDC-RASA": {"ace_inhibitors", "angiotensin_receptor_blockers", "direct_renin_inhibitors"},
    "PDC-DR": {
        "biguanides",
        "sulfonylureas",
        "thiazolidinediones",
        "dpp4_inhibitors",
        "glp1_receptor_agonists",
        "meglitinides",
        "sglt2_inhibitors",
    },
}


def adults(plan: GeneratedPlan) -> pd.DataFrame:
    members = plan.frame("members")
    age = YEAR - members.birth_date.str[:4].astype(int)
    return members[age >= 18]


def test_ages_and_sex(plan: GeneratedPlan) -> None:
    members = plan.frame("members")
    age = YEAR - members.birth_date.str[:4].astype(int)
    assert age.min() >= 0 and age.max() <= 100
    assert 0.15 <= (age >= 65).mean() <= 0.30
    assert 0.47 <= (members.sex == "F").mean() <= 0.56
    assert set(members.sex) <= {"F", "M", "U"}
    shares = members.line_of_business.value_counts(normalize=True)
    assert 0.50 <= shares["commercial"] <= 0.62 and 0.12 <= shares["medicare"] <= 0.21


def test_chronic_condition_prevalence_among_adults(plan: GeneratedPlan) -> None:
    conditions = plan.frame("conditions")
    adult_keys = adults(plan).member_key
    hypertensive = adult_keys.isin(conditions.loc[conditions.code == "I10", "member_key"]).mean()
    diabetic = adult_keys.isin(conditions.loc[conditions.code.str.match(r"E1[01]\."), "member_key"]).mean()
    assert 0.20 <= hypertensive <= 0.32
    assert 0.08 <= diabetic <= 0.14


def test_current_tobacco_use_among_screened_adults(plan: GeneratedPlan) -> None:
    observations = plan.frame("observations")
    status = (
        observations[observations.code == "72166-2"].sort_values("effective_at").groupby("member_key").tail(1)
    )
    status = status[status.member_key.isin(adults(plan).member_key)]
    assert 0.09 <= status.value_code.isin(TOBACCO_USER).mean() <= 0.15


def test_bp_control_among_hypertensives(plan: GeneratedPlan) -> None:
    """Most recent non-ED, non-inpatient day; lowest systolic and diastolic of that day (CBP rule)."""
    observations = plan.frame("observations")
    hypertensive = set(plan.frame("conditions").query("code == 'I10'").member_key)
    bp = observations[
        observations.code.isin(["8480-6", "8462-4"]) & ~observations.setting.isin(["ed", "inpatient"])
    ]
    bp = bp.assign(day=bp.effective_at.str[:10], value=bp.value.astype(float))
    bp = bp[bp.member_key.isin(hypertensive)]
    last = bp[bp.day == bp.groupby("member_key").day.transform("max")]
    representative = last.groupby(["member_key", "code"]).value.min().unstack()
    controlled = (representative["8480-6"] < 140) & (representative["8462-4"] < 90)
    assert 0.52 <= controlled.mean() <= 0.70
    assert len(representative) / len(hypertensive) >= 0.85  # most hypertensives have a BP


def test_a1c_above_9_share_among_tested_diabetics(plan: GeneratedPlan) -> None:
    observations = plan.frame("observations")
    glycaemic = observations[observations.code.isin(["4548-4", "97506-0"])]
    latest = glycaemic.sort_values("effective_at").groupby("member_key").tail(1)
    assert 0.12 <= (latest.value.astype(float) > 9.0).mean() <= 0.24
    assert (glycaemic.unit == "%").all()
    assert (glycaemic.code == "97506-0").any()


def test_fill_volume_pharmacies_and_home_pharmacy(plan: GeneratedPlan) -> None:
    fills = plan.frame("fills")
    per_member = len(fills) / len(plan.frame("members"))
    assert 12 <= per_member <= 18
    pharmacies = plan.frame("providers").query("kind == 'pharmacy' and parent_npi.isna()", engine="python")
    assert len(pharmacies) >= 1
    # Share of each member's fills at their most used pharmacy: ~75 % home plus chance matches.
    counts = fills.groupby(["member_key", "pharmacy_npi"]).size()
    top = counts.groupby(level=0).max() / counts.groupby(level=0).sum()
    busy = fills.member_key.value_counts()
    assert 0.70 <= top[busy[busy >= 10].index].mean() <= 0.90
    # Long tail: the busiest pharmacy fills several times the median pharmacy.
    per_pharmacy = fills.pharmacy_npi.value_counts()
    assert per_pharmacy.iloc[0] >= 3 * per_pharmacy.median()


def test_adherence_pdc_like_mean(plan: GeneratedPlan) -> None:
    """Days supply in the year over days from first fill to 31 Dec, capped at 1 (a simple PDC proxy)."""
    fills = plan.frame("fills")
    fills = fills.assign(date=pd.to_datetime(fills.fill_date), days=fills.days_supply.astype(int))
    year_end = pd.Timestamp(f"{YEAR}-12-31")
    means = []
    for classes in PDC_CLASSES.values():
        in_class = fills[fills.drug_class.str.split("|").map(lambda c, wanted=classes: bool(set(c) & wanted))]
        per = in_class.groupby("member_key").agg(
            first=("date", "min"), dates=("date", "nunique"), days=("days", "sum")
        )
        per = per[(per.dates >= 2) & (per["first"] <= year_end - pd.Timedelta(days=90))]
        period = (year_end - per["first"]).dt.days + 1
        means.append(float(np.minimum(per.days, period).div(period).mean()))
    assert all(0.68 <= mean <= 0.86 for mean in means), means


def test_events_of_every_kind_exist(plan: GeneratedPlan) -> None:
    encounters = plan.frame("encounters")
    assert {"ambulatory", "ed", "inpatient", "home"} <= set(encounters.setting)
    assert (
        encounters.query("setting == 'ambulatory'")
        .code.isin(["99202", "99203", "99204", "99205", "99212", "99213", "99214", "99215"])
        .all()
    )
    observations = plan.frame("observations")
    assert {"ed", "inpatient", "home", "ambulatory"} <= set(observations.setting.dropna())
    bp = observations[observations.code == "8480-6"]
    assert bp.panel_key.notna().any() and bp.panel_key.isna().any()
    members = plan.frame("members")
    assert members.death_date.notna().sum() > 20
    coverage = plan.frame("coverage")
    assert (coverage.end_date.dropna() < f"{YEAR}-12-31").sum() > 500  # disenrolments and deaths
    mtm = plan.frame("mtm_encounters")
    assert set(mtm.kind) == {"CMR", "TMR", "FOLLOWUP"} and set(mtm.patient_status) == {"new", "established"}
    assert mtm.minutes.astype(int).between(5, 90).all()
    assert plan.frame("conditions").code.isin(["N18.6"]).any()
    claim_lines = plan.frame("claim_lines")
    assert {"99605", "99606", "99607", "90935", "99490"} <= set(claim_lines.procedure_code)

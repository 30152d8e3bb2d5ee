"""Clinical facts: problem-list conditions, blood pressure, HbA1c/GMI and tobacco status.

Blood pressure and A1c follow a per-member latent level plus a linear trajectory across the
year and reading noise, so "most recent value" measures (CMS165, CMS122) see realistic
movement. Codes: I10, E11.9/E11.65/E10.9, N18.6 (eCQM value sets); LOINC 8480-6/8462-4 (BP,
one panel_key per panel), 4548-4 (HbA1c, %), 97506-0 (GMI), 72166-2 with SNOMED answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openvbc.synth.arrays import (
    BoolArray,
    FloatArray,
    IntArray,
    choose,
    join_keys,
    null_where,
    take_strings,
    to_date32,
    to_timestamp,
)
from openvbc.synth.population import NO_DAY, MemberBatch, PlanYear
from openvbc.synth.profile import Profile
from openvbc.synth.tables import ChunkTables, event_keys, seconds

SYSTOLIC, DIASTOLIC, A1C, GMI, SMOKING = "8480-6", "8462-4", "4548-4", "97506-0", "72166-2"


@dataclass
class LatentClinical:
    systolic: FloatArray
    diastolic: FloatArray
    bp_slope: FloatArray
    a1c: FloatArray
    a1c_slope: FloatArray


def draw_latent(rng: np.random.Generator, batch: MemberBatch, profile: Profile) -> LatentClinical:
    bp = profile.section("utilisation", "bp_readings")
    n = batch.size
    z_s, z_d = rng.standard_normal(n), rng.standard_normal(n)
    s_mean = np.where(batch.htn, bp["hypertensive_systolic"]["mean"], bp["normotensive_systolic"]["mean"])
    s_sd = np.where(batch.htn, bp["hypertensive_systolic"]["sd"], bp["normotensive_systolic"]["sd"])
    d_mean = np.where(batch.htn, bp["hypertensive_diastolic"]["mean"], bp["normotensive_diastolic"]["mean"])
    d_sd = np.where(batch.htn, bp["hypertensive_diastolic"]["sd"], bp["normotensive_diastolic"]["sd"])
    a1c = profile.section("utilisation", "a1c")
    return LatentClinical(
        systolic=s_mean + s_sd * z_s,
        # Diastolic pressure correlates with systolic (r ≈ 0.6).
        diastolic=d_mean + d_sd * (0.6 * z_s + 0.8 * z_d),
        bp_slope=np.where(
            batch.htn, rng.normal(bp["slope_per_year"]["mean"], bp["slope_per_year"]["sd"], n), 0.0
        ),
        a1c=np.maximum(a1c["minimum"], rng.normal(a1c["mean"], a1c["sd"], n)),
        a1c_slope=rng.normal(a1c["slope_per_year"]["mean"], a1c["slope_per_year"]["sd"], n),
    )


def add_conditions(
    rng: np.random.Generator, batch: MemberBatch, profile: Profile, plan_year: PlanYear, out: ChunkTables
) -> None:
    """Problem-list conditions: hypertension, diabetes, ESRD and tobacco use."""
    cfg = profile.section("chronic_conditions")
    dm2_codes, dm2_p = profile.weighted("chronic_conditions", "diabetes", "type2_codes")
    n = batch.size
    dm_code = np.where(
        batch.dm_type1, cfg["diabetes"]["type1_code"], np.array(dm2_codes)[choose(rng, dm2_p, n)]
    )
    kinds = [
        (batch.htn, np.full(n, "I10", dtype=object), "H"),
        (batch.dm, dm_code.astype(object), "D"),
        (batch.esrd, np.full(n, cfg["esrd"]["code"]["code"], dtype=object), "K"),
        (batch.tobacco, np.full(n, "F17.210", dtype=object), "T"),
    ]
    owners, codes, tags = [], [], []
    for mask, kind_code, kind_tag in kinds:
        holders = np.flatnonzero(mask)
        owners.append(holders)
        codes.append(kind_code[holders])
        tags.append(np.full(len(holders), kind_tag, dtype=object))
    owner = np.concatenate(owners)
    order = np.argsort(owner, kind="stable")
    owner = owner[order]
    code = np.concatenate(codes)[order]
    tag = np.concatenate(tags)[order]
    m = len(owner)
    # Onset: most members carry the diagnosis from earlier years; some are diagnosed during the
    # year (first half / second half matters for CMS165's denominator).
    u = rng.random(m)
    onset = np.where(
        u < 0.85,
        -rng.integers(30, 15 * 365, m),
        np.where(u < 0.95, rng.integers(0, 181, m), rng.integers(181, plan_year.days - 1, m)),
    )
    onset = np.minimum(onset, batch.end[owner])
    # Nobody is diagnosed before birth (the importer rejects such rows).
    onset = np.maximum(onset, batch.birth[owner] - plan_year.first_day)
    out.add(
        "conditions",
        {
            "condition_key": join_keys(
                event_keys("C", batch.number, "P", owner), "-", pa.array(tag.tolist())
            ),
            "member_key": batch.keys(owner),
            "code_system": "icd10cm",
            "code": pa.array(code.tolist(), pa.string()),
            "category": "problem-list-item",
            "clinical_status": "active",
            "verification_status": "confirmed",
            "onset_date": to_date32(plan_year.first_day + onset),
            # Recorded a few days after onset, but never after the member's last covered day
            # (31 December, death or disenrolment): a plan-year extract holds nothing later.
            "recorded_date": to_date32(
                plan_year.first_day
                + np.maximum(onset, np.minimum(onset + rng.integers(0, 20, m), batch.end[owner]))
            ),
            "source": "ehr",
        },
    )


def bp_values(
    rng: np.random.Generator,
    latent: LatentClinical,
    profile: Profile,
    owner: IntArray,
    day: IntArray,
    acute: BoolArray,
    plan_year: PlanYear,
) -> tuple[IntArray, IntArray]:
    """Systolic and diastolic readings (mmHg, integers) for members ``owner`` on ``day``."""
    bp = profile.section("utilisation", "bp_readings")
    t = day / plan_year.days - 0.5
    offset = np.where(acute, bp["ed_inpatient_offset"], 0.0)
    noise = bp["reading_noise_sd"]
    sys = latent.systolic[owner] + latent.bp_slope[owner] * t + offset + rng.normal(0, noise, len(owner))
    dia = (
        latent.diastolic[owner]
        + latent.bp_slope[owner] * t * 0.5
        + offset * 0.5
        + rng.normal(0, noise * 0.7, len(owner))
    )
    systolic = np.clip(np.rint(sys), 85, 240).astype(np.int64)
    diastolic = np.clip(np.rint(dia), 45, 140).astype(np.int64)
    return systolic, np.minimum(diastolic, systolic - 20)


def add_bp_observations(
    rng: np.random.Generator,
    batch: MemberBatch,
    out: ChunkTables,
    owner: IntArray,
    at_seconds: IntArray,
    systolic: IntArray,
    diastolic: IntArray,
    setting: str,
    source: str,
    encounter_key: pa.Array | None,
    panel_share: float,
    tag: str,
) -> None:
    """Two rows per reading (systolic, diastolic); panels share a ``panel_key``, the rest do not."""
    m = len(owner)
    if m == 0:
        return
    order = np.argsort(owner, kind="stable")
    owner, at_seconds, systolic, diastolic = (
        owner[order],
        at_seconds[order],
        systolic[order],
        diastolic[order],
    )
    if encounter_key is not None:
        encounter_key = encounter_key.take(pa.array(order))
    base = event_keys("O", batch.number, tag, owner)
    panel = null_where(join_keys(base, "-P"), rng.random(m) >= panel_share)
    both = np.concatenate([np.arange(m), np.arange(m)])
    is_dia = np.r_[np.zeros(m, bool), np.ones(m, bool)]
    sequence = np.lexsort((is_dia, both))
    idx, dia = both[sequence], is_dia[sequence]
    take = pa.array(idx)
    out.add(
        "observations",
        {
            "observation_key": join_keys(base.take(take), pc.if_else(pa.array(dia), "-D", "-S")),
            "member_key": batch.keys(owner[idx]),
            "code_system": "loinc",
            "code": pc.if_else(pa.array(dia), DIASTOLIC, SYSTOLIC),
            "category": "vital-signs",
            "status": "final",
            "value": pa.array(np.where(dia, diastolic[idx], systolic[idx]).astype(np.float64)),
            "unit": "mm[Hg]",
            "effective_at": to_timestamp(at_seconds[idx]),
            "panel_key": panel.take(take),
            "encounter_key": None if encounter_key is None else encounter_key.take(take),
            "setting": setting,
            "source": source,
        },
    )


def add_home_bp(
    rng: np.random.Generator,
    batch: MemberBatch,
    latent: LatentClinical,
    profile: Profile,
    plan_year: PlanYear,
    out: ChunkTables,
) -> None:
    """Home (device) readings sent by some hypertensive members: CMS165 accepts them."""
    bp = profile.section("utilisation", "bp_readings")
    senders = batch.htn & ~batch.no_care & (rng.random(batch.size) < bp["home_device_share"])
    count = np.where(senders, rng.integers(3, 9, batch.size), 0)
    owner = np.repeat(np.arange(batch.size), count)
    day = batch.start[owner] + np.floor(rng.random(len(owner)) * (batch.end[owner] - batch.start[owner] + 1))
    day = day.astype(np.int64)
    keep = batch.covered(owner, day)
    owner, day = owner[keep], day[keep]
    sys, dia = bp_values(rng, latent, profile, owner, day, np.zeros(len(owner), bool), plan_year)
    at = seconds(plan_year.first_day + day, rng.integers(6 * 3600, 22 * 3600, len(owner)))
    add_bp_observations(rng, batch, out, owner, at, sys, dia, "home", "device", None, 0.0, "H")


def add_a1c(
    rng: np.random.Generator,
    batch: MemberBatch,
    latent: LatentClinical,
    profile: Profile,
    plan_year: PlanYear,
    out: ChunkTables,
) -> None:
    """HbA1c lab results (a few members' last result is a CGM-derived GMI over 14 days)."""
    cfg = profile.section("utilisation", "a1c")
    counts, count_p = profile.weighted("utilisation", "a1c", "tests_per_year")
    n = batch.size
    tests = np.where(batch.dm, np.array([int(c) for c in counts])[choose(rng, count_p, n)], 0)
    owner = np.repeat(np.arange(n), tests)
    span = batch.end[owner] - batch.start[owner] + 1
    day = (batch.start[owner] + np.floor(rng.random(len(owner)) * span)).astype(np.int64)
    keep = batch.covered(owner, day)
    owner, day = owner[keep], day[keep]
    order = np.lexsort((day, owner))
    owner, day = owner[order], day[order]
    m = len(owner)
    t = day / plan_year.days - 0.5
    value = np.round(
        latent.a1c[owner] + latent.a1c_slope[owner] * t + rng.normal(0, cfg["reading_noise_sd"], m), 1
    )
    value = np.clip(value, 4.0, 15.0)
    last = np.r_[owner[1:] != owner[:-1], True] if m else np.zeros(0, bool)
    gmi = last & (rng.random(m) < cfg["gmi_share"])
    at = seconds(plan_year.first_day + day, rng.integers(7 * 3600, 12 * 3600, m))
    out.add(
        "observations",
        {
            "observation_key": event_keys("O", batch.number, "A", owner),
            "member_key": batch.keys(owner),
            "code_system": "loinc",
            "code": pc.if_else(pa.array(gmi), GMI, A1C),
            "category": "laboratory",
            "status": "final",
            "value": pa.array(value),
            "unit": "%",
            "effective_at": to_timestamp(at),
            # GMI summarises a 14-day sensor window ending on the assessment date.
            "effective_end": null_where(to_timestamp(at), ~gmi),
            "setting": "ambulatory",
            "source": "ehr",
        },
    )


def smoking_answer(
    rng: np.random.Generator, batch: MemberBatch, profile: Profile, owner: IntArray, day: IntArray
) -> tuple[pa.Array, BoolArray]:
    """SNOMED smoking-status answer for each screening, and whether it reports a current user."""
    cfg = profile.section("utilisation", "tobacco_screening")
    user_codes, user_p = profile.weighted("utilisation", "tobacco_screening", "user_codes")
    quit_day = batch.tobacco_quit[owner]
    current = batch.tobacco[owner] & ((quit_day == NO_DAY) | (day < quit_day))
    former = (batch.tobacco[owner] & ~current) | (rng.random(len(owner)) < cfg["former_smoker_share"])
    non_user = take_strings(
        [cfg["non_user_codes"]["never"], cfg["non_user_codes"]["former"]], former.astype(np.int64)
    )
    user = take_strings(user_codes, choose(rng, user_p, len(owner)))
    return pc.if_else(pa.array(current), user, non_user), current

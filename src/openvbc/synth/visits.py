"""Primary care office visits: encounters, professional claims, vitals and tobacco screening.

Visit counts are Poisson by age band (NAMCS rates) plus an extra mean per chronic condition;
codes come from the eCQM Office Visit value set (CPT 99202-99215), so the measure engine finds
its qualifying encounters. Hypertensive members have a BP at most visits, other adults at some;
adults are screened for tobacco (LOINC 72166-2) and some current users get cessation counselling
(CPT 99406, eCQM Tobacco Use Cessation Counseling value set).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openvbc.synth.arrays import choose, join_keys, join_present, take_strings, to_date32, to_timestamp
from openvbc.synth.clinical import SMOKING, LatentClinical, add_bp_observations, bp_values, smoking_answer
from openvbc.synth.population import MemberBatch, PlanYear
from openvbc.synth.profile import Profile
from openvbc.synth.providers import ProviderNetwork
from openvbc.synth.tables import ChunkTables, event_keys, seconds

COMMON_DIAGNOSES = ["Z00.00", "J06.9", "M54.50", "R05.9", "Z23", "K21.9", "J30.9", "F41.1", "E78.5", "L30.9"]


def chronic_diagnoses(batch: MemberBatch, owner: np.ndarray, fallback: pa.Array) -> pa.Array:
    """``|``-joined ICD-10-CM codes of the member's chronic conditions, else ``fallback``."""
    htn = pc.if_else(pa.array(batch.htn[owner]), "I10", pa.scalar(None, pa.string()))
    dm_code = pc.if_else(pa.array(batch.dm_type1[owner]), "E10.9", "E11.9")
    dm = pc.if_else(pa.array(batch.dm[owner]), dm_code, pa.scalar(None, pa.string()))
    esrd = pc.if_else(pa.array(batch.esrd[owner]), "N18.6", pa.scalar(None, pa.string()))
    joined = join_present(htn, dm, esrd)
    return pc.if_else(pc.equal(joined, ""), fallback, joined)


def add_office_visits(
    rng: np.random.Generator,
    batch: MemberBatch,
    latent: LatentClinical,
    profile: Profile,
    network: ProviderNetwork,
    plan_year: PlanYear,
    out: ChunkTables,
) -> np.ndarray:
    """All office visits of the chunk; returns the number of visits per member."""
    cfg = profile.section("utilisation", "office_visits")
    n = batch.size
    mean = profile.by_band("utilisation", "office_visits", "mean_by_band")[batch.band]
    mean = mean + cfg["chronic_extra_mean"] * (batch.htn.astype(int) + batch.dm)
    count = rng.poisson(mean)
    chronic = batch.htn | batch.dm
    count = np.where(chronic & (count == 0) & (rng.random(n) < 0.93), 1, count)
    count = np.where(batch.no_care, 0, count)
    owner = np.repeat(np.arange(n), count)
    span = batch.end[owner] - batch.start[owner] + 1
    day = (batch.start[owner] + np.floor(rng.random(len(owner)) * span)).astype(np.int64)
    keep = batch.covered(owner, day)
    owner, day = owner[keep], day[keep]
    order = np.lexsort((day, owner))
    owner, day = owner[order], day[order]
    m = len(owner)
    start = seconds(plan_year.first_day + day, 8 * 3600 + 900 * rng.integers(0, 36, m))
    end = start + 60 * rng.integers(15, 45, m)
    est_codes, est_p = profile.weighted("utilisation", "office_visits", "established_codes")
    new_codes, new_p = profile.weighted("utilisation", "office_visits", "new_codes")
    new = rng.random(m) < cfg["new_patient_share"]
    code = pc.if_else(
        pa.array(new),
        take_strings(new_codes, choose(rng, new_p, m)),
        take_strings(est_codes, choose(rng, est_p, m)),
    )
    clinician = np.where(batch.pcp[owner] >= 0, batch.pcp[owner], choose(rng, network.clinician_weight, m))
    clinician_npi = network.clinician_npi.take(pa.array(clinician))
    practice_npi = network.practice_npi.take(pa.array(network.clinician_practice[clinician]))
    encounter_key = event_keys("E", batch.number, "V", owner)
    member_key = batch.keys(owner)
    prices = cfg["allowed_amount"]
    allowed = pc.cast(pc.index_in(code, pa.array(list(prices))), pa.int64())
    allowed_values = np.array([float(prices[c]) for c in prices])[np.asarray(allowed)]
    out.add(
        "encounters",
        {
            "encounter_key": encounter_key,
            "member_key": member_key,
            "setting": "ambulatory",
            "code_system": "cpt",
            "code": code,
            "status": "finished",
            "start_at": to_timestamp(start),
            "end_at": to_timestamp(end),
            "provider_npi": clinician_npi,
            "facility_npi": practice_npi,
            "source": "ehr",
        },
    )

    # Tobacco screening at the first visit of the year (and again after a quit date).
    first = np.r_[True, owner[1:] != owner[:-1]] if m else np.zeros(0, bool)
    last = np.r_[owner[1:] != owner[:-1], True] if m else np.zeros(0, bool)
    screen_cfg = profile.section("utilisation", "tobacco_screening")
    screened = first & (batch.age[owner] >= 12) & (rng.random(m) < screen_cfg["screened_share"])
    rescreen = last & ~first & (batch.tobacco_quit[owner] >= 0) & (day > batch.tobacco_quit[owner])
    screen = np.flatnonzero(screened | rescreen)
    answer, current = smoking_answer(rng, batch, profile, owner[screen], day[screen])
    out.add(
        "observations",
        {
            "observation_key": join_keys(encounter_key.take(pa.array(screen)), "-TOB"),
            "member_key": member_key.take(pa.array(screen)),
            "code_system": "loinc",
            "code": SMOKING,
            "category": "survey",  # a screening assessment: CMS138 counts category survey only
            "status": "final",
            "value_code_system": "snomed",
            "value_code": answer,
            "effective_at": to_timestamp(start[screen] + 300),
            "encounter_key": encounter_key.take(pa.array(screen)),
            "setting": "ambulatory",
            "source": "ehr",
        },
    )
    counselled = screen[current & (rng.random(len(screen)) < screen_cfg["cessation_counselling_share"])]
    counsel = np.zeros(m, bool)
    counsel[counselled] = True
    out.add(
        "procedures",
        {
            "procedure_key": join_keys(encounter_key.take(pa.array(counselled)), "-CESS"),
            "member_key": member_key.take(pa.array(counselled)),
            "code_system": "cpt",
            "code": "99406",
            "kind": "performed",
            "status": "completed",
            "performed_start": to_timestamp(start[counselled] + 600),
            "performed_end": to_timestamp(start[counselled] + 600 + 660),
            "encounter_key": encounter_key.take(pa.array(counselled)),
            "source": "ehr",
        },
    )

    # Blood pressure at the visit.
    bp_cfg = profile.section("utilisation", "bp_readings")
    adult = batch.age[owner] >= 18
    takes_bp = np.where(
        batch.htn[owner], rng.random(m) < 0.95, adult & (rng.random(m) < bp_cfg["adult_screen_share"])
    )
    with_bp = np.flatnonzero(takes_bp)
    sys, dia = bp_values(
        rng, latent, profile, owner[with_bp], day[with_bp], np.zeros(len(with_bp), bool), plan_year
    )
    add_bp_observations(
        rng,
        batch,
        out,
        owner[with_bp],
        start[with_bp] + 240,
        sys,
        dia,
        "ambulatory",
        "ehr",
        encounter_key.take(pa.array(with_bp)),
        bp_cfg["panel_share"],
        "V",
    )

    # Professional claim, one per visit; a second line for cessation counselling.
    fallback = take_strings(COMMON_DIAGNOSES, rng.integers(0, len(COMMON_DIAGNOSES), m))
    claim_key = event_keys("C", batch.number, "V", owner)
    service = to_date32(plan_year.first_day + day)
    out.add(
        "claims",
        {
            "claim_key": claim_key,
            "member_key": member_key,
            "claim_type": "professional",
            "billing_npi": practice_npi,
            "from_date": service,
            "to_date": service,
            "place_of_service": "11",
            "diagnosis_codes": chronic_diagnoses(batch, owner, fallback),
            "allowed_amount": pa.array(allowed_values + np.where(counsel, 16.0, 0.0)),
            "paid_amount": pa.array(np.round((allowed_values + np.where(counsel, 16.0, 0.0)) * 0.8, 2)),
        },
    )
    out.add(
        "claim_lines",
        {
            "claim_key": claim_key,
            "line_number": 1,
            "procedure_code": code,
            "service_date": service,
            "units": 1.0,
            "rendering_npi": clinician_npi,
            "place_of_service": "11",
            "allowed_amount": pa.array(allowed_values),
        },
    )
    c = pa.array(counselled)
    out.add(
        "claim_lines",
        {
            "claim_key": claim_key.take(c),
            "line_number": 2,
            "procedure_code": "99406",
            "service_date": service.take(c),
            "units": 1.0,
            "rendering_npi": clinician_npi.take(c),
            "place_of_service": "11",
            "allowed_amount": 16.0,
        },
    )
    return np.bincount(owner, minlength=n)

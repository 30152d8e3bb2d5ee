"""Emergency care: ED visits, and the admissions they and direct referrals lead to.

ED visits (NHAMCS rates, higher for Medicaid) produce encounters, institutional claims and the
ADT events a health information exchange would send: A04 at ED registration, some A08 updates,
A03 at ED discharge. Readings taken in the ED carry ``setting`` ed (CMS165 excludes them).
Admitted ED patients, direct admissions (HCUP rates) and hospice members discharged to hospice
are gathered here and written by :mod:`openvbc.synth.admissions`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openvbc.synth.admissions import add_admissions
from openvbc.synth.adt_rows import AdtRows
from openvbc.synth.arrays import choose, join_keys, take_strings, to_date32, to_timestamp
from openvbc.synth.clinical import LatentClinical, add_bp_observations, bp_values
from openvbc.synth.population import LINES_OF_BUSINESS, MemberBatch, PlanYear
from openvbc.synth.profile import Profile
from openvbc.synth.providers import ProviderNetwork
from openvbc.synth.tables import HOUR, ChunkTables, event_keys, seconds
from openvbc.synth.visits import chronic_diagnoses

ED_DIAGNOSES = ["R07.9", "R10.9", "S93.401A", "J06.9", "R51.9", "N39.0", "K52.9", "S61.419A"]


def add_ed_and_inpatient(
    rng: np.random.Generator,
    batch: MemberBatch,
    latent: LatentClinical,
    profile: Profile,
    network: ProviderNetwork,
    plan_year: PlanYear,
    out: ChunkTables,
    adt: AdtRows,
) -> None:
    cfg = profile.section("utilisation")
    n = batch.size
    medicaid = batch.lob == LINES_OF_BUSINESS.index("medicaid")
    rate = profile.by_band("utilisation", "ed_visits", "rate_by_band")[batch.band]
    rate = np.where(medicaid, rate * cfg["ed_visits"]["medicaid_multiplier"], rate)
    owner = np.repeat(np.arange(n), np.where(batch.no_care, 0, rng.poisson(rate)))
    day = batch.start[owner] + np.floor(rng.random(len(owner)) * (batch.end[owner] - batch.start[owner] + 1))
    day = day.astype(np.int64)
    keep = batch.covered(owner, day)
    owner, day = owner[keep], day[keep]
    order = np.lexsort((day, owner))
    owner, day = owner[order], day[order]
    m = len(owner)
    arrive = seconds(plan_year.first_day + day, rng.integers(0, 24 * HOUR, m))
    leave = arrive + rng.integers(2 * HOUR, 9 * HOUR, m)
    hospital = np.where(
        rng.random(m) < 0.8, batch.home_hospital[owner], choose(rng, network.hospital_weight, m)
    )
    hospital_npi = network.hospital_npi.take(pa.array(hospital))
    codes, code_p = profile.weighted("utilisation", "ed_visits", "cpt_codes")
    code = take_strings(codes, choose(rng, code_p, m))
    admitted = rng.random(m) < cfg["ed_visits"]["admitted_share"]
    # An admitted patient must still be covered on the day of discharge (checked below).
    encounter_key = event_keys("E", batch.number, "ED", owner)
    member_key = batch.keys(owner)
    out.add(
        "encounters",
        {
            "encounter_key": encounter_key,
            "member_key": member_key,
            "setting": "ed",
            "code_system": "cpt",
            "code": code,
            "status": "finished",
            "start_at": to_timestamp(arrive),
            "end_at": to_timestamp(leave),
            "facility_npi": hospital_npi,
            "source": "claim",
        },
    )
    fallback = take_strings(ED_DIAGNOSES, rng.integers(0, len(ED_DIAGNOSES), m))
    claim_key = event_keys("C", batch.number, "ED", owner)
    service = to_date32(plan_year.first_day + day)
    allowed = np.round(rng.lognormal(np.log(900), 0.6, m), 2)
    out.add(
        "claims",
        {
            "claim_key": claim_key,
            "member_key": member_key,
            "claim_type": "institutional",
            "billing_npi": hospital_npi,
            "from_date": service,
            "to_date": service,
            "place_of_service": "23",
            "bill_type": "0131",
            "diagnosis_codes": pc.binary_join_element_wise(
                fallback, chronic_diagnoses(batch, owner, fallback), "|"
            ),
            "allowed_amount": pa.array(allowed),
            "paid_amount": pa.array(np.round(allowed * 0.8, 2)),
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
            "place_of_service": "23",
            "allowed_amount": pa.array(allowed),
        },
    )
    bp_taken = np.flatnonzero((batch.age[owner] >= 18) & (rng.random(m) < 0.7))
    sys, dia = bp_values(
        rng, latent, profile, owner[bp_taken], day[bp_taken], np.ones(len(bp_taken), bool), plan_year
    )
    add_bp_observations(
        rng,
        batch,
        out,
        owner[bp_taken],
        arrive[bp_taken] + 1200,
        sys,
        dia,
        "ed",
        "ehr",
        encounter_key.take(pa.array(bp_taken)),
        1.0,
        "ED",
    )

    visit = join_keys(encounter_key, "")
    adt.add(owner, "A04", "E", arrive, arrive, None, hospital, visit, None)
    update = rng.random(m) < cfg["ed_visits"]["update_message_share"]
    u = np.flatnonzero(update)
    adt.add(
        owner[u], "A08", "E", arrive[u] + HOUR, arrive[u], None, hospital[u], visit.take(pa.array(u)), None
    )
    discharged = np.flatnonzero(~admitted)
    adt.add(
        owner[discharged],
        "A03",
        "E",
        leave[discharged],
        arrive[discharged],
        leave[discharged],
        hospital[discharged],
        visit.take(pa.array(discharged)),
        np.full(len(discharged), "01", dtype=object),
    )

    # Admissions: from the ED, direct, and (for some hospice members) a discharge to hospice.
    direct_rate = profile.by_band("utilisation", "admissions", "direct_rate_by_band")[batch.band]
    d_owner = np.repeat(np.arange(n), np.where(batch.no_care, 0, rng.poisson(direct_rate)))
    d_day = batch.start[d_owner] + np.floor(
        rng.random(len(d_owner)) * (batch.end[d_owner] - batch.start[d_owner])
    )
    d_admit = seconds(
        plan_year.first_day + d_day.astype(np.int64), rng.integers(6 * HOUR, 15 * HOUR, len(d_owner))
    )
    ed_in = np.flatnonzero(admitted)
    h_owner = np.flatnonzero(batch.hospice_via_discharge)
    los_h = rng.integers(2, 7, len(h_owner))
    h_admit = seconds(
        plan_year.first_day + np.maximum(batch.start[h_owner], batch.hospice[h_owner] - los_h),
        rng.integers(6 * HOUR, 15 * HOUR, len(h_owner)),
    )
    a_owner = np.concatenate([owner[ed_in], d_owner, h_owner])
    a_admit = np.concatenate([leave[ed_in], d_admit, h_admit])
    a_hospital = np.concatenate([hospital[ed_in], batch.home_hospital[d_owner], batch.home_hospital[h_owner]])
    to_hospice = np.r_[np.zeros(len(ed_in) + len(d_owner), bool), np.ones(len(h_owner), bool)]
    from_ed = np.r_[np.ones(len(ed_in), bool), np.zeros(len(d_owner) + len(h_owner), bool)]
    ed_visit = pa.concat_arrays(
        [visit.take(pa.array(ed_in)), pa.nulls(len(d_owner) + len(h_owner), pa.string())]
    )
    los = 1 + rng.poisson(cfg["admissions"]["length_of_stay_mean_days"] - 1, len(a_owner))
    a_admit_day = a_admit // 86_400 - plan_year.first_day
    discharge_day = np.where(to_hospice, batch.hospice[a_owner], a_admit_day + los)
    a_discharge = seconds(
        plan_year.first_day + discharge_day, rng.integers(10 * HOUR, 18 * HOUR, len(a_owner))
    )
    a_discharge = np.maximum(a_discharge, a_admit + 4 * HOUR)
    ok = (
        batch.covered(a_owner, discharge_day)
        & batch.covered(a_owner, a_admit_day)
        & (discharge_day < plan_year.days)
    )
    sel = np.flatnonzero(ok)
    order = np.lexsort((a_admit[sel], a_owner[sel]))
    sel = sel[order]
    add_admissions(
        rng,
        batch,
        latent,
        profile,
        network,
        plan_year,
        out,
        adt,
        a_owner[sel],
        a_admit[sel],
        a_discharge[sel],
        a_hospital[sel],
        to_hospice[sel],
        from_ed[sel],
        ed_visit.take(pa.array(sel)),
    )

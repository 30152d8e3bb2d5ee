"""Hospital care: ED visits, admissions and discharges, hospice and dialysis, plus TCM/CCM claims.

ED visits (NHAMCS rates, higher for Medicaid) and admissions (HCUP rates) produce encounters,
institutional claims and the ADT events a health information exchange would send: A04 at ED
registration, A01 at admission, A03 at discharge, some A08 updates. Readings taken in the ED
or hospital carry ``setting`` ed/inpatient (CMS165 excludes them). Hospice members get hospice
encounters/claims (eCQM Hospice Encounter HCPCS codes) or an inpatient discharge to hospice
(SNOMED 428361000124107 / NUBC 50); ESRD members get monthly dialysis (CPT 90935).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openvbc.synth.arrays import BoolArray, IntArray, choose, join_keys, take_strings, to_date32, to_timestamp
from openvbc.synth.clinical import LatentClinical, add_bp_observations, bp_values
from openvbc.synth.population import LINES_OF_BUSINESS, NO_DAY, MemberBatch, PlanYear
from openvbc.synth.profile import Profile
from openvbc.synth.providers import ProviderNetwork
from openvbc.synth.tables import ChunkTables, event_keys, seconds
from openvbc.synth.visits import chronic_diagnoses

ED_DIAGNOSES = ["R07.9", "R10.9", "S93.401A", "J06.9", "R51.9", "N39.0", "K52.9", "S61.419A"]
INPATIENT_DIAGNOSES = ["I50.9", "J18.9", "N17.9", "A41.9", "I21.4", "J44.1", "I63.9", "K57.92"]
HOUR = 3600


@dataclass
class AdtRows:
    """ADT events of a chunk, before keys and messages are made (see :mod:`openvbc.synth.adt`)."""

    owner: list[IntArray] = field(default_factory=list)
    trigger: list[np.ndarray] = field(default_factory=list)
    patient_class: list[np.ndarray] = field(default_factory=list)
    event_at: list[IntArray] = field(default_factory=list)
    admit_at: list[IntArray] = field(default_factory=list)
    discharge_at: list[IntArray] = field(default_factory=list)  # -1 = none
    facility: list[IntArray] = field(default_factory=list)
    visit: list[pa.Array] = field(default_factory=list)
    disposition: list[np.ndarray] = field(default_factory=list)  # "" = none

    def add(
        self,
        owner: IntArray,
        trigger: str,
        patient_class: str,
        event_at: IntArray,
        admit_at: IntArray,
        discharge_at: IntArray | None,
        facility: IntArray,
        visit: pa.Array,
        disposition: np.ndarray | None,
    ) -> None:
        m = len(owner)
        self.owner.append(owner)
        self.trigger.append(np.full(m, trigger, dtype=object))
        self.patient_class.append(np.full(m, patient_class, dtype=object))
        self.event_at.append(event_at)
        self.admit_at.append(admit_at)
        self.discharge_at.append(np.full(m, -1, dtype=np.int64) if discharge_at is None else discharge_at)
        self.facility.append(facility)
        self.visit.append(visit)
        self.disposition.append(np.full(m, "", dtype=object) if disposition is None else disposition)


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
    _add_admissions(
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


def _add_admissions(
    rng: np.random.Generator,
    batch: MemberBatch,
    latent: LatentClinical,
    profile: Profile,
    network: ProviderNetwork,
    plan_year: PlanYear,
    out: ChunkTables,
    adt: AdtRows,
    owner: IntArray,
    admit: IntArray,
    discharge: IntArray,
    hospital: IntArray,
    to_hospice: BoolArray,
    from_ed: BoolArray,
    ed_visit: pa.Array,
) -> None:
    cfg = profile.section("utilisation", "admissions")
    m = len(owner)
    dispositions = cfg["dispositions"]
    routine = [d for d in dispositions if d["nubc"] not in ("50", "51")]
    hospice = [d for d in dispositions if d["nubc"] in ("50", "51")]
    pick = choose(rng, np.array([d["share"] for d in routine]), m)
    pick_h = choose(rng, np.array([d["share"] for d in hospice]), m)
    nubc = np.where(
        to_hospice,
        np.array([d["nubc"] for d in hospice])[pick_h],
        np.array([d["nubc"] for d in routine])[pick],
    )
    snomed = np.where(
        to_hospice,
        np.array([d["snomed"] for d in hospice])[pick_h],
        np.array([d["snomed"] for d in routine])[pick],
    )
    codes, code_p = profile.weighted("utilisation", "admissions", "snomed_codes")
    code = take_strings(codes, choose(rng, code_p, m))
    hospital_npi = network.hospital_npi.take(pa.array(hospital))
    encounter_key = event_keys("E", batch.number, "IP", owner)
    member_key = batch.keys(owner)
    out.add(
        "encounters",
        {
            "encounter_key": encounter_key,
            "member_key": member_key,
            "setting": "inpatient",
            "code_system": "snomed",
            "code": code,
            "status": "finished",
            "start_at": to_timestamp(admit),
            "end_at": to_timestamp(discharge),
            "discharge_disposition": pa.array(snomed.tolist(), pa.string()),
            "facility_npi": hospital_npi,
            "source": "claim",
        },
    )
    fallback = take_strings(INPATIENT_DIAGNOSES, rng.integers(0, len(INPATIENT_DIAGNOSES), m))
    claim_key = event_keys("C", batch.number, "IP", owner)
    from_date = to_date32(admit // 86_400)
    to_date = to_date32(discharge // 86_400)
    allowed = np.round(rng.lognormal(np.log(14_000), 0.7, m), 2)
    out.add(
        "claims",
        {
            "claim_key": claim_key,
            "member_key": member_key,
            "claim_type": "institutional",
            "billing_npi": hospital_npi,
            "from_date": from_date,
            "to_date": to_date,
            "place_of_service": "21",
            "bill_type": "0111",
            "discharge_status": pa.array(nubc.tolist(), pa.string()),
            "diagnosis_codes": pc.binary_join_element_wise(
                fallback, chronic_diagnoses(batch, owner, fallback), "|"
            ),
            "allowed_amount": pa.array(allowed),
            "paid_amount": pa.array(np.round(allowed * 0.85, 2)),
        },
    )
    out.add(
        "claim_lines",
        {
            "claim_key": claim_key,
            "line_number": 1,
            "procedure_code": "99223",
            "service_date": from_date,
            "units": 1.0,
            "place_of_service": "21",
            "allowed_amount": 210.0,
        },
    )
    bp_taken = np.flatnonzero((batch.age[owner] >= 18) & (rng.random(m) < 0.8))
    day = admit[bp_taken] // 86_400 - plan_year.first_day
    sys, dia = bp_values(rng, latent, profile, owner[bp_taken], day, np.ones(len(bp_taken), bool), plan_year)
    add_bp_observations(
        rng,
        batch,
        out,
        owner[bp_taken],
        admit[bp_taken] + 2 * HOUR,
        sys,
        dia,
        "inpatient",
        "ehr",
        encounter_key.take(pa.array(bp_taken)),
        1.0,
        "IP",
    )
    # An admission from the ED keeps the ED visit number (PV1-19), as most HIE feeds do.
    visit = pc.coalesce(ed_visit, encounter_key)
    adt.add(owner, "A01", "I", admit, admit, None, hospital, visit, None)
    adt.add(owner, "A03", "I", discharge, admit, discharge, hospital, visit, nubc.astype(object))

    # Transitional care management after discharges home (CPT 99495/99496) for some members.
    home = np.isin(nubc, ["01", "06"]) & (rng.random(m) < 0.35)
    t = np.flatnonzero(home)
    tcm_day = discharge[t] // 86_400 + rng.integers(7, 15, len(t)) - plan_year.first_day
    covered = batch.covered(owner[t], tcm_day) & (tcm_day < plan_year.days)
    t, tcm_day = t[covered], tcm_day[covered]
    t_owner = owner[t]
    practice = network.clinician_practice[np.maximum(batch.pcp[t_owner], 0)]
    tcm_code = np.where(rng.random(len(t)) < 0.4, "99496", "99495")
    tcm_key = event_keys("C", batch.number, "TCM", t_owner)
    service = to_date32(plan_year.first_day + tcm_day)
    tcm_allowed = np.where(tcm_code == "99496", 278.0, 202.0)
    out.add(
        "claims",
        {
            "claim_key": tcm_key,
            "member_key": batch.keys(t_owner),
            "claim_type": "professional",
            "billing_npi": network.practice_npi.take(pa.array(practice)),
            "from_date": service,
            "to_date": service,
            "place_of_service": "11",
            "diagnosis_codes": fallback.take(pa.array(t)),
            "allowed_amount": pa.array(tcm_allowed),
            "paid_amount": pa.array(np.round(tcm_allowed * 0.8, 2)),
        },
    )
    out.add(
        "claim_lines",
        {
            "claim_key": tcm_key,
            "line_number": 1,
            "procedure_code": pa.array(tcm_code.tolist(), pa.string()),
            "service_date": service,
            "units": 1.0,
            "rendering_npi": network.clinician_npi.take(pa.array(np.maximum(batch.pcp[t_owner], 0))),
            "place_of_service": "11",
            "allowed_amount": pa.array(tcm_allowed),
        },
    )


def add_hospice_and_dialysis(
    rng: np.random.Generator,
    batch: MemberBatch,
    profile: Profile,
    network: ProviderNetwork,
    plan_year: PlanYear,
    out: ChunkTables,
) -> None:
    h = np.flatnonzero(batch.hospice != NO_DAY)
    codes = profile.section("hospice", "hcpcs_codes")
    code = take_strings(codes, rng.integers(0, len(codes), len(h)))
    start_day = batch.hospice[h]
    end_day = np.minimum(batch.end[h], start_day + 30)
    start = seconds(plan_year.first_day + start_day, 10 * HOUR)
    end = seconds(plan_year.first_day + end_day, 17 * HOUR)
    hospital = network.hospital_npi.take(pa.array(batch.home_hospital[h]))
    key = event_keys("E", batch.number, "HS", h)
    out.add(
        "encounters",
        {
            "encounter_key": key,
            "member_key": batch.keys(h),
            "setting": "home",
            "code_system": "hcpcs",
            "code": code,
            "status": "finished",
            "start_at": to_timestamp(start),
            "end_at": to_timestamp(end),
            "facility_npi": hospital,
            "source": "claim",
        },
    )
    claim_key = event_keys("C", batch.number, "HS", h)
    days = (end_day - start_day + 1).astype(np.float64)
    allowed = np.round(days * 215.0, 2)
    out.add(
        "claims",
        {
            "claim_key": claim_key,
            "member_key": batch.keys(h),
            "claim_type": "institutional",
            "billing_npi": hospital,
            "from_date": to_date32(plan_year.first_day + start_day),
            "to_date": to_date32(plan_year.first_day + end_day),
            "place_of_service": "12",
            "bill_type": "0812",
            "diagnosis_codes": "Z51.5",
            "allowed_amount": pa.array(allowed),
            "paid_amount": pa.array(allowed),
        },
    )
    out.add(
        "claim_lines",
        {
            "claim_key": claim_key,
            "line_number": 1,
            "procedure_code": code,
            "service_date": to_date32(plan_year.first_day + start_day),
            "units": pa.array(days),
            "place_of_service": "12",
            "allowed_amount": pa.array(allowed),
        },
    )

    # Dialysis: one monthly claim (13 sessions) and a procedure record per covered month.
    e = np.flatnonzero(batch.esrd)
    owner = np.repeat(e, 12)
    month_day = np.tile(np.round(np.arange(12) * plan_year.days / 12 + 14).astype(np.int64), len(e))
    keep = batch.covered(owner, month_day)
    owner, month_day = owner[keep], month_day[keep]
    service = to_date32(plan_year.first_day + month_day)
    dial_key = event_keys("C", batch.number, "DI", owner)
    hospital = network.hospital_npi.take(pa.array(batch.home_hospital[owner]))
    out.add(
        "claims",
        {
            "claim_key": dial_key,
            "member_key": batch.keys(owner),
            "claim_type": "institutional",
            "billing_npi": hospital,
            "from_date": service,
            "to_date": service,
            "place_of_service": "65",
            "bill_type": "0721",
            "diagnosis_codes": "N18.6",
            "allowed_amount": 3_250.0,
            "paid_amount": 2_600.0,
        },
    )
    out.add(
        "claim_lines",
        {
            "claim_key": dial_key,
            "line_number": 1,
            "procedure_code": "90935",
            "service_date": service,
            "units": 13.0,
            "place_of_service": "65",
            "allowed_amount": 3_250.0,
        },
    )
    out.add(
        "procedures",
        {
            "procedure_key": event_keys("P", batch.number, "DI", owner),
            "member_key": batch.keys(owner),
            "code_system": "cpt",
            "code": "90935",
            "kind": "performed",
            "status": "completed",
            "performed_start": to_timestamp(seconds(plan_year.first_day + month_day, 8 * HOUR)),
            "performed_end": to_timestamp(seconds(plan_year.first_day + month_day, 12 * HOUR)),
            "source": "claim",
        },
    )


def add_ccm(
    rng: np.random.Generator,
    batch: MemberBatch,
    network: ProviderNetwork,
    plan_year: PlanYear,
    out: ChunkTables,
) -> None:
    """Chronic care management (CPT 99490) months for some members with two or more chronic conditions."""
    eligible = (batch.chronic_count() >= 2) & (batch.pcp >= 0) & (rng.random(batch.size) < 0.12)
    e = np.flatnonzero(eligible)
    first_month = rng.integers(0, 12, len(e))
    owner = np.repeat(e, 12)
    month = np.tile(np.arange(12), len(e))
    keep = month >= np.repeat(first_month, 12)
    month_end = (
        np.array(
            [
                (np.datetime64(f"{plan_year.year}-{m + 1:02d}-01") + np.timedelta64(31, "D"))
                .astype("datetime64[M]")
                .astype("datetime64[D]")
                .astype(np.int64)
                - 1
                for m in range(12)
            ]
        )
        - plan_year.first_day
    )
    day = month_end[month]
    keep &= batch.covered(owner, day) & (rng.random(len(owner)) < 0.8)
    owner, day = owner[keep], day[keep]
    key = event_keys("C", batch.number, "CCM", owner)
    service = to_date32(plan_year.first_day + day)
    clinician = batch.pcp[owner]
    out.add(
        "claims",
        {
            "claim_key": key,
            "member_key": batch.keys(owner),
            "claim_type": "professional",
            "billing_npi": network.practice_npi.take(pa.array(network.clinician_practice[clinician])),
            "from_date": service,
            "to_date": service,
            "place_of_service": "11",
            "diagnosis_codes": chronic_diagnoses(
                batch, owner, pa.array(np.full(len(owner), "F17.210").tolist(), pa.string())
            ),
            "allowed_amount": 60.0,
            "paid_amount": 48.0,
        },
    )
    out.add(
        "claim_lines",
        {
            "claim_key": key,
            "line_number": 1,
            "procedure_code": "99490",
            "service_date": service,
            "units": 1.0,
            "rendering_npi": network.clinician_npi.take(pa.array(clinician)),
            "place_of_service": "11",
            "allowed_amount": 60.0,
        },
    )

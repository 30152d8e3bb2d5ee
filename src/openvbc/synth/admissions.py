"""Inpatient admissions: encounters, institutional claims, ADT A01/A03, and TCM after discharge.

Length of stay and dispositions follow AHRQ HCUP figures (see the profile); an admission from
the ED keeps the ED visit number. Readings taken in hospital carry ``setting`` inpatient
(CMS165 excludes them). A discharge to hospice carries SNOMED 428361000124107 / NUBC 50 or 51.
Some discharges home get a transitional care management claim (CPT 99495/99496) 7-14 days later.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openvbc.synth.adt_rows import AdtRows
from openvbc.synth.arrays import BoolArray, IntArray, choose, take_strings, to_date32, to_timestamp
from openvbc.synth.clinical import LatentClinical, add_bp_observations, bp_values
from openvbc.synth.population import MemberBatch, PlanYear
from openvbc.synth.profile import Profile
from openvbc.synth.providers import ProviderNetwork
from openvbc.synth.tables import HOUR, ChunkTables, event_keys
from openvbc.synth.visits import chronic_diagnoses

INPATIENT_DIAGNOSES = ["I50.9", "J18.9", "N17.9", "A41.9", "I21.4", "J44.1", "I63.9", "K57.92"]


def add_admissions(
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
    """Inpatient stays (sorted by member and admission): encounter, claim, BP, A01/A03 and TCM."""
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

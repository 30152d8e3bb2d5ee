"""Medication therapy management encounters by pharmacists, with minutes, and their claims.

Eligibility mirrors Part D MTM targeting (42 CFR 423.153(d)): several chronic conditions and
several maintenance drugs. A share of eligible members get a CMR (annual), some TMRs
(quarterly-ish) and follow-ups, with minutes drawn per kind; a share are billed with CPT
99605 (new) / 99606 (established) for the first 15 minutes and +99607 per further 15 minutes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openvbc.synth.arrays import IntArray, to_date32, to_timestamp
from openvbc.synth.population import LINES_OF_BUSINESS, MemberBatch, PlanYear
from openvbc.synth.profile import Profile
from openvbc.synth.providers import ProviderNetwork
from openvbc.synth.tables import ChunkTables, event_keys, seconds

KINDS = ["CMR", "TMR", "FOLLOWUP"]


def add_mtm(
    rng: np.random.Generator,
    batch: MemberBatch,
    drugs_per_member: IntArray,
    profile: Profile,
    network: ProviderNetwork,
    plan_year: PlanYear,
    out: ChunkTables,
) -> None:
    cfg = profile.section("mtm")
    n = batch.size
    medicare = batch.lob == LINES_OF_BUSINESS.index("medicare")
    chronic = batch.htn.astype(int) + batch.dm + batch.esrd
    eligible = (
        (batch.age >= 18)
        & (drugs_per_member >= cfg["eligible_min_drugs"] - medicare)
        & (chronic >= cfg["eligible_min_chronic"] - medicare)
    )
    cmr = eligible & (rng.random(n) < cfg["cmr_share"])
    tmr_n = np.where(cmr, rng.poisson(cfg["tmr_per_year_mean"], n), 0)
    fu_n = np.where(cmr & (rng.random(n) < cfg["followup_share"]), rng.integers(1, 3, n), 0)
    counts = cmr.astype(np.int64) + tmr_n + fu_n
    owner = np.repeat(np.arange(n), counts)
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    kind = np.where(rank == 0, 0, np.where(rank <= np.repeat(tmr_n, counts), 1, 2))
    span = batch.end[owner] - batch.start[owner] + 1
    # CMR first, then TMRs and follow-ups later in the year.
    base = batch.start[owner] + np.floor(rng.random(len(owner)) * span * 0.5).astype(np.int64)
    day = np.where(kind == 0, base, base + np.floor(rng.random(len(owner)) * span * 0.5).astype(np.int64))
    day = np.minimum(day, batch.end[owner])
    keep = batch.covered(owner, day)
    owner, kind, day = owner[keep], kind[keep], day[keep]
    order = np.lexsort((kind, day, owner))
    owner, kind, day = owner[order], kind[order], day[order]
    m = len(owner)
    minutes = np.zeros(m, dtype=np.int64)
    for index, name in enumerate(("cmr_minutes", "tmr_minutes", "followup_minutes")):
        dist = cfg[name]
        drawn = np.rint(rng.normal(dist["mean"], dist["sd"], m)).astype(np.int64)
        minutes = np.where(kind == index, np.clip(drawn, dist["min"], dist["max"]), minutes)
    first = np.r_[True, owner[1:] != owner[:-1]] if m else np.zeros(0, bool)
    new = first & (rng.random(m) < cfg["new_patient_share"])
    pharmacy = batch.home_pharmacy[owner]
    pharmacist = pharmacy * network.pharmacists_per_pharmacy + rng.integers(
        0, network.pharmacists_per_pharmacy, m
    )
    start = seconds(plan_year.first_day + day, 9 * 3600 + 900 * rng.integers(0, 32, m))
    pharmacy_npi = network.pharmacy_npi.take(pa.array(pharmacy))
    pharmacist_npi = network.pharmacist_npi.take(pa.array(pharmacist))
    key = event_keys("T", batch.number, "MTM", owner)
    member_key = batch.keys(owner)
    service = to_date32(plan_year.first_day + day)
    out.add(
        "mtm_encounters",
        {
            "mtm_key": key,
            "member_key": member_key,
            "pharmacist_npi": pharmacist_npi,
            "pharmacy_npi": pharmacy_npi,
            "service_date": service,
            "kind": pa.array(np.array(KINDS)[kind].tolist(), pa.string()),
            "minutes": pa.array(minutes.astype(np.int32)),
            "patient_status": pc.if_else(pa.array(new), "new", "established"),
            "start_at": to_timestamp(start),
            "end_at": to_timestamp(start + 60 * minutes),
        },
    )

    billed = np.flatnonzero(rng.random(m) < cfg["claim_share"])
    b = pa.array(billed)
    claim_key = event_keys("C", batch.number, "MTM", owner[billed])
    extra_units = np.maximum(0, np.ceil((minutes[billed] - 15) / 15)).astype(np.int64)
    allowed_first = 60.0
    allowed = allowed_first + 30.0 * extra_units
    out.add(
        "claims",
        {
            "claim_key": claim_key,
            "member_key": member_key.take(b),
            "claim_type": "professional",
            "billing_npi": pharmacy_npi.take(b),
            "from_date": service.take(b),
            "to_date": service.take(b),
            "place_of_service": "01",
            "diagnosis_codes": "Z79.899",
            "allowed_amount": pa.array(allowed),
            "paid_amount": pa.array(np.round(allowed * 0.9, 2)),
        },
    )
    out.add(
        "claim_lines",
        {
            "claim_key": claim_key,
            "line_number": 1,
            "procedure_code": pc.if_else(pa.array(new[billed]), "99605", "99606"),
            "service_date": service.take(b),
            "units": 1.0,
            "rendering_npi": pharmacist_npi.take(b),
            "place_of_service": "01",
            "allowed_amount": allowed_first,
        },
    )
    more = np.flatnonzero(extra_units > 0)
    mo = pa.array(more)
    out.add(
        "claim_lines",
        {
            "claim_key": claim_key.take(mo),
            "line_number": 2,
            "procedure_code": "99607",
            "service_date": service.take(b).take(mo),
            "units": pa.array(extra_units[more].astype(np.float64)),
            "rendering_npi": pharmacist_npi.take(b).take(mo),
            "place_of_service": "01",
            "allowed_amount": pa.array(30.0 * extra_units[more]),
        },
    )

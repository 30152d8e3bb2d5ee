"""Chronic care management: monthly CPT 99490 claims for some members with two or more chronic
conditions and a PCP (CMS CCM requirements; the 12 % uptake is a project assumption)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from openvbc.synth.arrays import to_date32
from openvbc.synth.population import MemberBatch, PlanYear
from openvbc.synth.providers import ProviderNetwork
from openvbc.synth.tables import ChunkTables, event_keys
from openvbc.synth.visits import chronic_diagnoses


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

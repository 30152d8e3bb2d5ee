"""Dialysis for ESRD members: one monthly claim (13 sessions, CPT 90935, eCQM Dialysis Services)
and a procedure record per covered month, which drive the ESRD exclusions of CMS165 and PDC."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from openvbc.synth.arrays import to_date32, to_timestamp
from openvbc.synth.population import MemberBatch, PlanYear
from openvbc.synth.providers import ProviderNetwork
from openvbc.synth.tables import HOUR, ChunkTables, event_keys, seconds


def add_dialysis(batch: MemberBatch, network: ProviderNetwork, plan_year: PlanYear, out: ChunkTables) -> None:
    """Mid-month dialysis claims and procedures for every covered month of each ESRD member."""
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

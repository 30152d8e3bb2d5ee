"""Hospice care: an encounter and an institutional claim from the day a member enters hospice.

Codes are the eCQM Hospice Encounter HCPCS codes listed in the profile (Q5003, T2042, G9473);
hospice members drive the hospice exclusions of CMS165/CMS122 and PQA PDC.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from openvbc.synth.arrays import take_strings, to_date32, to_timestamp
from openvbc.synth.population import NO_DAY, MemberBatch, PlanYear
from openvbc.synth.profile import Profile
from openvbc.synth.providers import ProviderNetwork
from openvbc.synth.tables import HOUR, ChunkTables, event_keys, seconds


def add_hospice(
    rng: np.random.Generator,
    batch: MemberBatch,
    profile: Profile,
    network: ProviderNetwork,
    plan_year: PlanYear,
    out: ChunkTables,
) -> None:
    """A hospice encounter and claim (30 days at most) for members who enter hospice."""
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

"""Engagement in MTM: which attributed members completed a CMR/TMR in the period (Ibis).

The contract says which encounter kinds count (``engagement.kinds``) and whether the encounter
must be with the member's attributed pharmacy (``engagement.same_pharmacy``): PIE pays the
second tier for engagement of the pharmacy's own attributed members (domain-rules.md §A3).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis

from openvbc.domain.contract import ProgramContract
from openvbc.engine.canonical import CanonicalTables


def select_encounters(tables: CanonicalTables, kinds: tuple[str, ...], start: date, end: date) -> Any:
    """MTM encounters of the given kinds in [start, end], with the pharmacy's dense key."""
    mtm, provider = tables["mtm_encounter"], tables["provider"]
    rows = mtm.filter(
        mtm.kind.isin(list(kinds))
        & (mtm.service_date >= ibis.date(start))
        & (mtm.service_date <= ibis.date(end))
    )
    pharmacies = provider.filter(provider.kind == "pharmacy").select(
        encounter_pharmacy_id=provider.provider_id.cast("int64"), npi=provider.npi
    )
    joined = rows.left_join(pharmacies, rows.pharmacy_npi == pharmacies.npi)
    return joined.select(
        mtm_key=joined.mtm_key,
        member_id=joined.member_id.cast("int64"),
        pharmacy_npi=joined.pharmacy_npi,
        encounter_pharmacy_id=joined.encounter_pharmacy_id,
        service_date=joined.service_date,
        kind=joined.kind,
        minutes=joined.minutes.cast("int64"),
        patient_status=joined.patient_status,
    )


def find_engaged_members(tables: CanonicalTables, contract: ProgramContract, attribution: Any) -> Any:
    """Per attributed member: engaged (bool), first engagement date, engagements, and why.

    ``attribution`` is the output of :func:`openvbc.engine.attribution.attribute_pharmacies`.
    """
    spec = contract.engagement
    encounters = select_encounters(tables, spec.kinds, contract.period_start, contract.period_end)
    attributed = attribution.filter(attribution.provider_id.notnull()).select("member_id", "provider_id")
    if spec.same_pharmacy:
        condition = [
            attributed.member_id == encounters.member_id,
            attributed.provider_id == encounters.encounter_pharmacy_id,
        ]
    else:
        condition = [attributed.member_id == encounters.member_id]
    hits = attributed.join(encounters, condition).select(
        member_id=attributed.member_id, service_date=encounters.service_date
    )
    per_member = hits.group_by("member_id").aggregate(
        first_engaged=hits.service_date.min(), engagements=hits.member_id.count()
    )
    j = attributed.left_join(per_member, "member_id").select(
        "member_id", "provider_id", "first_engaged", "engagements"
    )
    kinds = "/".join(spec.kinds)
    where = " at the attributed pharmacy" if spec.same_pharmacy else ""
    engaged = j.first_engaged.notnull()
    return j.select(
        member_id=j.member_id,
        pharmacy_id=j.provider_id,
        engaged=engaged,
        first_engaged=j.first_engaged,
        engagements=j.engagements.fill_null(0),
        reason=ibis.ifelse(
            engaged,
            "engaged: "
            + j.engagements.cast("string")
            + f" {kinds}{where}, first on "
            + j.first_engaged.cast("string"),
            ibis.literal(
                f"not engaged: no completed {kinds}{where} in {contract.period_start}..{contract.period_end}"
            ),
        ),
    )

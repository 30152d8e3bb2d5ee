"""What is in the store: counts and the prevalence of the conditions the programs target.

Prevalence uses the same value sets as the measures (matched by OID), so the demo's
"hypertension" is the measure's "Essential Hypertension", not a second definition.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

from sqlalchemy import Engine, and_, func, or_, select

from openvbc.rules.loader import load_value_set
from openvbc.store.tables import (
    adt_event,
    condition,
    coverage,
    fill,
    medical_claim,
    member,
    mtm_encounter,
    observation,
    provider,
)

ESSENTIAL_HYPERTENSION_OID = "2.16.840.1.113883.3.464.1003.104.12.1011"
DIABETES_OID = "2.16.840.1.113883.3.464.1003.103.12.1001"
TOBACCO_USER_OID = "2.16.840.1.113883.3.526.3.1170"
TOBACCO_STATUS_LOINC = "72166-2"


@dataclass(frozen=True)
class PlanSummary:
    year: int
    members: int
    adults: int
    coverage_spans: int
    pharmacies: int
    practices: int
    clinicians: int
    fills: int
    claims: int
    observations: int
    adt_events: int
    mtm_encounters: int
    hypertension_rate: float
    diabetes_rate: float
    tobacco_use_rate: float  # current users among adults with a tobacco status recorded in the year

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _codes_by_system(oid: str) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for system, code in load_value_set(oid).codes:
        grouped.setdefault(system, []).append(code)
    return grouped


def _condition_members(oid: str, year_end: date) -> object:
    """Select member ids with a condition in the value set that began by the end of the year."""
    clauses = [
        and_(condition.c.code_system == system, condition.c.code.in_(codes))
        for system, codes in _codes_by_system(oid).items()
    ]
    # ICD-10-CM arrives with or without the dot; value sets carry the dotted form.
    dotted = [
        and_(condition.c.code_system == "icd10cm", condition.c.code.in_([c.replace(".", "") for c in codes]))
        for system, codes in _codes_by_system(oid).items()
        if system == "icd10cm"
    ]
    return (
        select(condition.c.member_id)
        .where(or_(*clauses, *dotted))
        .where(or_(condition.c.onset_date.is_(None), condition.c.onset_date <= year_end))
        .where(
            or_(
                condition.c.verification_status.is_(None),
                condition.c.verification_status.notin_(["refuted", "entered-in-error"]),
            )
        )
        .distinct()
    )


def summarize_plan(engine: Engine, year: int) -> PlanSummary:
    """Counts per table and prevalence among adults (age >= 18 at the end of ``year``)."""
    year_start, year_end = date(year, 1, 1), date(year, 12, 31)
    adult_cutoff = date(year - 18, 12, 31)
    with engine.connect() as con:

        def count(table: object, *where: object) -> int:
            query = select(func.count()).select_from(table)  # type: ignore[arg-type]
            for clause in where:
                query = query.where(clause)  # type: ignore[arg-type]
            return int(con.execute(query).scalar_one())

        adults_q = select(member.c.member_id).where(member.c.birth_date <= adult_cutoff)
        adults = count(member, member.c.birth_date <= adult_cutoff)

        def adult_share(members_subquery: object) -> float:
            if adults == 0:
                return 0.0
            hits = count(
                member,
                member.c.birth_date <= adult_cutoff,
                member.c.member_id.in_(members_subquery),  # type: ignore[arg-type]
            )
            return hits / adults

        tobacco_codes = [code for _system, code in load_value_set(TOBACCO_USER_OID).codes]
        latest = (
            select(observation.c.member_id, func.max(observation.c.effective_at).label("latest"))
            .where(observation.c.code == TOBACCO_STATUS_LOINC)
            .where(observation.c.effective_at >= year_start)
            .where(observation.c.effective_at < date(year + 1, 1, 1))
            .group_by(observation.c.member_id)
            .subquery()
        )
        users = (
            select(observation.c.member_id)
            .join(
                latest,
                and_(
                    latest.c.member_id == observation.c.member_id,
                    latest.c.latest == observation.c.effective_at,
                ),
            )
            .where(observation.c.code == TOBACCO_STATUS_LOINC)
            .where(observation.c.value_code.in_(tobacco_codes))
            .distinct()
        )
        del adults_q
        screened = select(latest.c.member_id)
        screened_adults = count(member, member.c.birth_date <= adult_cutoff, member.c.member_id.in_(screened))
        users_adults = count(member, member.c.birth_date <= adult_cutoff, member.c.member_id.in_(users))
        return PlanSummary(
            year=year,
            members=count(member),
            adults=adults,
            coverage_spans=count(coverage),
            pharmacies=count(provider, provider.c.kind == "pharmacy"),
            practices=count(provider, provider.c.kind == "practice"),
            clinicians=count(provider, provider.c.kind == "clinician"),
            fills=count(fill),
            claims=count(medical_claim),
            observations=count(observation),
            adt_events=count(adt_event),
            mtm_encounters=count(mtm_encounter),
            hypertension_rate=adult_share(_condition_members(ESSENTIAL_HYPERTENSION_OID, year_end)),
            diabetes_rate=adult_share(_condition_members(DIABETES_OID, year_end)),
            tobacco_use_rate=users_adults / screened_adults if screened_adults else 0.0,
        )

"""MTM targeting and risk ranking (Ibis), from the contract's ``targeting`` section.

The test has the shape of the Part D MTM rule (42 CFR 423.153(d), domain-rules.md §A2): a member
is targeted when they have at least ``min_conditions`` core chronic conditions, take at least
``min_maintenance_drugs`` distinct maintenance drugs, and their drug cost over the look-back
reaches ``min_annual_drug_cost``. All three numbers and the condition list are contract data.

Risk score (openvbc's own, stated here and in docs/program-year.md): conditions + maintenance
drugs / 2 + drug cost / cost threshold. It orders members for outreach; it is not a clinical model.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis

from openvbc.domain.contract import ProgramContract
from openvbc.engine.attribution import months_back
from openvbc.engine.canonical import CanonicalTables

TARGETING_COLUMNS = (
    "member_id",
    "conditions",
    "condition_names",
    "maintenance_drugs",
    "drug_cost",
    "targeted",
    "risk_score",
    "risk_rank",
    "reason",
)


def _condition_hits(
    tables: CanonicalTables, prefixes: dict[str, tuple[str, ...]], start: date, end: date
) -> Any:
    """(member_id, condition name) for every core condition coded on a problem list or a claim."""
    parts = []
    if "condition" in tables:
        cond = tables["condition"]
        cond = cond.filter(
            (cond.code_system == "icd10cm")
            & (cond.abatement_date.isnull() | (cond.abatement_date >= ibis.date(start)))
        )
        parts.append(cond.select(member_id=cond.member_id.cast("int64"), code=cond.code.replace(".", "")))
    if "claim_diagnosis" in tables and "medical_claim" in tables:
        dx, claim = tables["claim_diagnosis"], tables["medical_claim"]
        dated = dx.join(claim.select("claim_id", "from_date"), "claim_id")
        dated = dated.filter((dated.from_date >= ibis.date(start)) & (dated.from_date <= ibis.date(end)))
        parts.append(dated.select(member_id=dated.member_id.cast("int64"), code=dated.code.replace(".", "")))
    if not parts:
        raise KeyError("targeting needs the condition or claim_diagnosis table")
    codes = parts[0]
    for part in parts[1:]:
        codes = codes.union(part, distinct=False)
    branches = [
        (ibis.or_(*[codes.code.startswith(p) for p in codes_of]), ibis.literal(name))
        for name, codes_of in prefixes.items()
    ]
    named = codes.mutate(condition=ibis.cases(*branches, else_=ibis.null("string")))
    return named.filter(named.condition.notnull()).select("member_id", "condition").distinct()


def target_members(
    tables: CanonicalTables, contract: ProgramContract, as_of: date, drug_reference: Any
) -> Any:
    """One row per member: counts, cost, targeted flag, risk score and rank (1 = highest risk).

    ``drug_reference`` is a table (ndc11, ingredient, is_maintenance) from the shipped NDC list.
    """
    spec = contract.targeting
    if spec is None:
        raise ValueError(f"{contract.rule_file} has no targeting section")
    start = months_back(as_of, spec.lookback_months)
    hits = _condition_hits(tables, dict(spec.chronic_conditions), start, as_of)
    conditions = hits.group_by("member_id").aggregate(
        conditions=hits.condition.count(),
        condition_names=hits.condition.collect().sort().join("|"),
    )
    fill = tables["fill"]
    fills = fill.filter((fill.fill_date >= ibis.date(start)) & (fill.fill_date <= ibis.date(as_of)))
    maintenance = drug_reference.filter(drug_reference.is_maintenance).select(
        ref_ndc=drug_reference.ndc11, ref_ingredient=drug_reference.ingredient
    )
    drugs = fills.join(maintenance, fills.ndc11 == maintenance.ref_ndc)
    drugs = drugs.group_by(drugs.member_id.cast("int64").name("member_id")).aggregate(
        maintenance_drugs=drugs.ref_ingredient.nunique()
    )
    cost = fills.group_by(fills.member_id.cast("int64").name("member_id")).aggregate(
        cost_cents=(fills.allowed_amount.fill_null(0) * 100).round().cast("int64").sum()
    )
    member = tables["member"].select(member_id=tables["member"].member_id.cast("int64"))
    j = (
        member.left_join(conditions, "member_id")
        .select("member_id", "conditions", "condition_names")
        .left_join(drugs, "member_id")
        .select("member_id", "conditions", "condition_names", "maintenance_drugs")
        .left_join(cost, "member_id")
        .select("member_id", "conditions", "condition_names", "maintenance_drugs", "cost_cents")
    )
    n_cond = j.conditions.fill_null(0).cast("int64")
    n_drugs = j.maintenance_drugs.fill_null(0).cast("int64")
    cents = j.cost_cents.fill_null(0)
    threshold_cents = int(spec.min_annual_drug_cost * 100)
    targeted = (
        (n_cond >= spec.min_conditions) & (n_drugs >= spec.min_maintenance_drugs) & (cents >= threshold_cents)
    )
    score = (
        n_cond.cast("float64") + n_drugs.cast("float64") / 2 + cents.cast("float64") / max(threshold_cents, 1)
    )
    facts = (
        _s(n_cond)
        + " core condition(s), "
        + _s(n_drugs)
        + " maintenance drug(s), drug cost $"
        + (cents / 100).cast("decimal(14, 2)").cast("string")
    )
    wanted = (
        f" (needs >= {spec.min_conditions}, >= {spec.min_maintenance_drugs}, >= ${spec.min_annual_drug_cost})"
    )
    out = j.select(
        member_id=j.member_id,
        conditions=n_cond,
        condition_names=j.condition_names.fill_null(""),
        maintenance_drugs=n_drugs,
        drug_cost=(cents / 100).cast("float64"),
        targeted=targeted,
        risk_score=score.round(4),
        reason=ibis.ifelse(targeted, "targeted: " + facts, "not targeted: " + facts + wanted),
    )
    return out.mutate(
        risk_rank=ibis.row_number().over(order_by=[ibis.desc(out.risk_score), out.member_id]) + 1
    ).select(*TARGETING_COLUMNS)


def _s(value: Any) -> Any:
    return value.cast("string")

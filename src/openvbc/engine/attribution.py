"""Members to pharmacies and to primary care practices, with a reason for every member (Ibis).

Pharmacy methods (domain-rules.md §A10, §A6):

* ``plurality_fills``: the pharmacy with the most fills in the look-back; ties go to the pharmacy
  with the most recent fill, then to the lowest pharmacy id (so the answer never depends on row
  order or backend);
* ``pqa_days_supply``: PQA pharmacy measures: the pharmacy with at least 51 % (contract setting)
  of the days supply of target-medication claims; nobody when no pharmacy reaches it.

Practice method ``mssp_allowed_charges`` (42 CFR 425.402, simplified to one plan): step 1, the
practice whose primary care clinicians billed the plurality of allowed charges for primary care
services; step 2, for members with no such service, the plurality across all clinicians.

Every function returns one row per member of the plan (eligible or not) with the columns of
:data:`ATTRIBUTION_COLUMNS`, so methods line up side by side and nobody is silently dropped.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import ibis

from openvbc.domain.contract import PharmacyAttribution, PracticeAttribution, ProgramContract
from openvbc.engine.canonical import CanonicalTables

ATTRIBUTION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("member_id", "int64"),
    ("as_of", "date"),
    ("provider_kind", "string"),
    ("method", "string"),
    ("provider_id", "int64"),
    ("provider_npi", "string"),
    ("share", "float64"),
    ("reason", "string"),
)
ATTRIBUTION_COLUMN_NAMES = tuple(name for name, _ in ATTRIBUTION_COLUMNS)


def months_back(as_of: date, months: int) -> date:
    """First day of a look-back of ``months`` whole months ending on ``as_of`` (inclusive)."""
    if as_of.day == calendar.monthrange(as_of.year, as_of.month)[1]:
        # A month end looks back over whole calendar months (Feb 28 -> from Mar 1 a year earlier).
        year, month = divmod(as_of.year * 12 + as_of.month - months, 12)
        return date(year, month + 1, 1)
    month_index = as_of.year * 12 + as_of.month - 1 - months
    year, month = divmod(month_index, 12)
    day = min(as_of.day, calendar.monthrange(year, month + 1)[1])
    return date(year, month + 1, day) + timedelta(days=1)


def month_ends(start: date, end: date) -> list[date]:
    """Every month end from ``start``'s month through ``end`` (the monthly snapshot dates)."""
    out = []
    year, month = start.year, start.month
    while True:
        last = date(year, month, calendar.monthrange(year, month)[1])
        if last > end:
            break
        out.append(last)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _text(value: Any) -> Any:
    return value.cast("string")


def find_eligible_members(tables: CanonicalTables, contract: ProgramContract, as_of: date) -> Any:
    """member_id, eligible, eligibility_reason: in a program line of business and alive on ``as_of``."""
    member, coverage = tables["member"], tables["coverage"]
    day = ibis.date(as_of)
    lobs = list(contract.lines_of_business)
    active = coverage.filter(
        (coverage.start_date <= day) & (coverage.end_date.isnull() | (coverage.end_date >= day))
    )
    in_program = (
        active.filter(active.line_of_business.isin(lobs))
        .group_by("member_id")
        .aggregate(program_coverage=active.member_id.count())
    )
    any_cover = active.group_by("member_id").aggregate(any_coverage=active.member_id.count())
    joined = (
        member.select("member_id", "death_date")
        .left_join(in_program, "member_id")
        .select("member_id", "death_date", "program_coverage")
        .left_join(any_cover, "member_id")
        .select("member_id", "death_date", "program_coverage", "any_coverage")
    )
    dead = joined.death_date.notnull() & (joined.death_date <= day)
    reason = ibis.cases(
        (dead, "not eligible: died " + _text(joined.death_date)),
        (joined.program_coverage.notnull(), "eligible"),
        (
            joined.any_coverage.notnull(),
            ibis.literal(f"not eligible: covered on {as_of} but not in {'/'.join(lobs)}"),
        ),
        else_=ibis.literal(f"not eligible: no coverage on {as_of}"),
    )
    return joined.select(
        member_id=joined.member_id.cast("int64"),
        eligible=~dead & joined.program_coverage.notnull(),
        eligibility_reason=reason,
    )


def _pharmacy_units(tables: CanonicalTables, spec: PharmacyAttribution, start: date, as_of: date) -> Any:
    """Fills in the look-back as (member, pharmacy, n, days, last) rows, before aggregation."""
    fill = tables["fill"]
    rows = fill.filter(
        (fill.fill_date >= ibis.date(start))
        & (fill.fill_date <= ibis.date(as_of))
        & fill.pharmacy_id.notnull()
    )
    if spec.method == "pqa_days_supply":
        # drug_class may hold several '|'-joined classes (combination products); any target class counts.
        # Plain substring tests rather than arrays: array functions differ between the backends.
        padded = "|" + rows.drug_class.fill_null("") + "|"
        hits = [padded.contains(f"|{name}|") for name in spec.pqa_drug_classes]
        rows = rows.filter(ibis.or_(*hits))
    return rows.select(
        member_id=rows.member_id.cast("int64"),
        pharmacy_id=rows.pharmacy_id.cast("int64"),
        days=rows.days_supply.cast("int64"),
        fill_date=rows.fill_date,
    )


def rank_pharmacies(units: Any, method: str) -> Any:
    """Per (member, pharmacy): fills, days, last fill, the member's totals and the rank (0 = winner)."""
    pairs = units.group_by(["member_id", "pharmacy_id"]).aggregate(
        n=units.member_id.count(),
        days=units.days.sum(),
        last_fill=units.fill_date.max(),
    )
    by_member = ibis.window(group_by="member_id")
    primary = pairs.days if method == "pqa_days_supply" else pairs.n
    order = [ibis.desc(primary), ibis.desc(pairs.last_fill), pairs.pharmacy_id]
    return pairs.mutate(
        total_n=pairs.n.sum().over(by_member),
        total_days=pairs.days.sum().over(by_member),
        pharmacies=pairs.pharmacy_id.count().over(by_member),
        rank=ibis.row_number().over(group_by="member_id", order_by=order),
    )


def attribute_pharmacies(
    tables: CanonicalTables, contract: ProgramContract, as_of: date, method: str | None = None
) -> Any:
    """One row per member: the attributed pharmacy on ``as_of`` (or none) and why."""
    spec = contract.pharmacy_attribution
    if method is not None and method != spec.method:
        if method not in ("plurality_fills", "pqa_days_supply"):
            raise ValueError(f"unknown pharmacy attribution method {method!r}")
        spec = replace(spec, method=method)  # type: ignore[arg-type]  # checked just above
    start = months_back(as_of, spec.lookback_months)
    ranked = rank_pharmacies(_pharmacy_units(tables, spec, start, as_of), spec.method)
    top = ranked.filter(ranked.rank == 0)
    provider = tables["provider"].select(
        provider_id=tables["provider"].provider_id.cast("int64"), npi=tables["provider"].npi
    )
    top = top.left_join(provider, top.pharmacy_id == provider.provider_id).select(
        "member_id", "pharmacy_id", "npi", "n", "days", "last_fill", "total_n", "total_days", "pharmacies"
    )
    eligible = find_eligible_members(tables, contract, as_of)
    j = eligible.left_join(top, "member_id").select(
        "member_id",
        "eligible",
        "eligibility_reason",
        "pharmacy_id",
        "npi",
        "n",
        "days",
        "last_fill",
        "total_n",
        "total_days",
        "pharmacies",
    )
    window = f"{start}..{as_of}"
    if spec.method == "pqa_days_supply":
        share = j.days.cast("float64") / j.total_days.cast("float64")
        # Compare in integers: days / total >= p / q  <=>  days * q >= p * total.
        p, q = spec.pqa_min_share.as_integer_ratio()
        reaches = (j.days * q) >= (j.total_days * p)
        pct = ((j.days * 100) / j.total_days).floor().cast("int64")
        won = (
            "attributed: "
            + _text(j.days)
            + " of "
            + _text(j.total_days)
            + " days supply of target drugs ("
            + _text(pct)
            + f" %, >= {_pct(spec.pqa_min_share)}) at pharmacy "
            + j.npi.fill_null("?")
            + f" in {window}"
        )
        lost = (
            "not attributed: the top pharmacy "
            + j.npi.fill_null("?")
            + " has "
            + _text(pct)
            + f" % of target-drug days supply in {window}, below {_pct(spec.pqa_min_share)}"
        )
        nothing = f"not attributed: no target-drug fills in {window}"
    else:
        share = j.n.cast("float64") / j.total_n.cast("float64")
        reaches = ibis.literal(True)
        pct = ((j.n * 100) / j.total_n).floor().cast("int64")
        tie_note = ibis.ifelse(j.pharmacies > 1, " across " + _text(j.pharmacies) + " pharmacies", "")
        won = (
            "attributed: "
            + _text(j.n)
            + " of "
            + _text(j.total_n)
            + " fills ("
            + _text(pct)
            + " %) at pharmacy "
            + j.npi.fill_null("?")
            + tie_note
            + ", last fill "
            + _text(j.last_fill)
            + f" (plurality, ties to most recent fill, in {window})"
        )
        lost = ibis.literal("")
        nothing = f"not attributed: no fills in {window}"
    has_fills = j.pharmacy_id.notnull()
    attributed = j.eligible & has_fills & reaches
    reason = ibis.cases(
        (~j.eligible, j.eligibility_reason),
        (~has_fills, ibis.literal(nothing)),
        (attributed, won),
        else_=lost,
    )
    return j.select(
        member_id=j.member_id,
        as_of=ibis.date(as_of),
        provider_kind=ibis.literal("pharmacy"),
        method=ibis.literal(spec.method),
        provider_id=ibis.ifelse(attributed, j.pharmacy_id, ibis.null("int64")),
        provider_npi=ibis.ifelse(attributed, j.npi, ibis.null("string")),
        share=ibis.ifelse(has_fills & j.eligible, share, ibis.null("float64")),
        reason=reason,
    )


def _pct(share: Any) -> str:
    return f"{float(share * 100):g} %"


def attribute_practices(tables: CanonicalTables, contract: ProgramContract, as_of: date) -> Any:
    """One row per member: the attributed practice (MSSP-style steps 1-2) on ``as_of`` and why."""
    spec: PracticeAttribution | None = contract.practice_attribution
    if spec is None:
        raise ValueError(f"{contract.rule_file} has no attribution.practice section")
    start = months_back(as_of, spec.lookback_months)
    line, claim, provider = tables["claim_line"], tables["medical_claim"], tables["provider"]
    lines = line.filter(
        (line.service_date >= ibis.date(start))
        & (line.service_date <= ibis.date(as_of))
        & line.procedure_code.isin(list(spec.primary_care_codes))
    )
    lines = lines.join(claim.select("claim_id", "billing_npi"), "claim_id")
    clinicians = provider.filter(provider.kind == "clinician").select(
        clinician_npi=provider.npi, taxonomy=provider.taxonomy, parent_npi=provider.parent_npi
    )
    lines = lines.left_join(clinicians, lines.rendering_npi == clinicians.clinician_npi)
    # Practice = the clinician's parent organisation, else the billing NPI of the claim.
    lines = lines.select(
        member_id=lines.member_id.cast("int64"),
        practice_npi=lines.parent_npi.fill_null(lines.billing_npi),
        cents=(lines.allowed_amount.fill_null(0) * 100).round().cast("int64"),
        service_date=lines.service_date,
        is_pcp=lines.taxonomy.isin(list(spec.primary_care_taxonomies)).fill_null(False),
    )
    has_pcp = lines.filter(lines.is_pcp).select("member_id").distinct().mutate(has_pcp=ibis.literal(True))
    lines = lines.left_join(has_pcp, "member_id").select(
        "member_id", "practice_npi", "cents", "service_date", "is_pcp", "has_pcp"
    )
    # Step 1 keeps primary-care-clinician lines; step 2 (no PCP service at all) keeps every line.
    used = lines.filter(lines.is_pcp | lines.has_pcp.isnull())
    pairs = used.group_by(["member_id", "practice_npi"]).aggregate(
        cents=used.cents.sum(),
        last=used.service_date.max(),
        step=ibis.ifelse(used.is_pcp.any(), 1, 2),
    )
    ranked = pairs.mutate(
        total=pairs.cents.sum().over(ibis.window(group_by="member_id")),
        rank=ibis.row_number().over(
            group_by="member_id", order_by=[ibis.desc(pairs.cents), ibis.desc(pairs.last), pairs.practice_npi]
        ),
    )
    top = ranked.filter(ranked.rank == 0)
    practices = provider.filter(provider.kind == "practice").select(
        practice_id=provider.provider_id.cast("int64"), npi=provider.npi
    )
    top = top.left_join(practices, top.practice_npi == practices.npi).select(
        "member_id", "practice_npi", "practice_id", "cents", "total", "last", "step"
    )
    eligible = find_eligible_members(tables, contract, as_of)
    j = eligible.left_join(top, "member_id").select(
        "member_id",
        "eligible",
        "eligibility_reason",
        "practice_npi",
        "practice_id",
        "cents",
        "total",
        "last",
        "step",
    )
    window = f"{start}..{as_of}"
    pct = ibis.ifelse(j.total > 0, ((j.cents * 100) / j.total).floor().cast("int64"), 0)
    dollars = (j.cents / 100).cast("decimal(14, 2)").cast("string")
    who = ibis.ifelse(j.step == 1, "by primary care clinicians (step 1)", "by any clinician (step 2)")
    won = (
        "attributed: $"
        + dollars
        + " ("
        + _text(pct)
        + " %) of primary care allowed charges "
        + who
        + " at practice "
        + j.practice_npi
        + ", last service "
        + _text(j.last)
        + f" in {window}"
    )
    attributed = j.eligible & j.practice_npi.notnull()
    reason = ibis.cases(
        (~j.eligible, j.eligibility_reason),
        (attributed, won),
        else_=ibis.literal(f"not attributed: no primary care service in {window}"),
    )
    return j.select(
        member_id=j.member_id,
        as_of=ibis.date(as_of),
        provider_kind=ibis.literal("practice"),
        method=ibis.literal(spec.method),
        provider_id=ibis.ifelse(attributed, j.practice_id, ibis.null("int64")),
        provider_npi=ibis.ifelse(attributed, j.practice_npi, ibis.null("string")),
        share=ibis.ifelse(
            attributed & (j.total > 0),
            j.cents.cast("float64") / j.total.cast("float64"),
            ibis.null("float64"),
        ),
        reason=reason,
    )


def snapshot_pharmacies(
    tables: CanonicalTables, contract: ProgramContract, dates: Sequence[date], methods: Sequence[str] = ()
) -> Any:
    """Pharmacy attribution at each date (monthly snapshots) for one or more methods, stacked."""
    chosen = list(methods) or [contract.pharmacy_attribution.method]
    parts = [attribute_pharmacies(tables, contract, day, method) for day in dates for method in chosen]
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part, distinct=False)
    return out

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
    return _eligibility(tables, contract, as_of)


def _eligibility(tables: CanonicalTables, contract: ProgramContract, on: date | Any) -> Any:
    """Eligibility on one date (a ``date``) or on every ``as_of`` of a table of dates (snapshots).

    With a table, the result has an ``as_of`` column and one row per member and date; coverage is
    joined to the dates once instead of stacking one query per date.
    """
    member, coverage = tables["member"], tables["coverage"]
    lobs = list(contract.lines_of_business)
    people = member.select(member_id=member.member_id.cast("int64"), death_date=member.death_date)
    if isinstance(on, date):
        day: Any = ibis.date(on)
        keys = ["member_id"]
        active = coverage.filter(
            (coverage.start_date <= day) & (coverage.end_date.isnull() | (coverage.end_date >= day))
        )
    else:
        dates = on.select("as_of")
        keys = ["member_id", "as_of"]
        active = coverage.join(
            dates,
            [
                coverage.start_date <= dates.as_of,
                coverage.end_date.isnull() | (coverage.end_date >= dates.as_of),
            ],
        )
        people = people.cross_join(dates)
    # One pass over coverage answers both questions (in a program line? covered at all?).
    covered = active.group_by([active.member_id.cast("int64").name("member_id"), *keys[1:]]).aggregate(
        program_coverage=active.member_id.count(where=active.line_of_business.isin(lobs)),
        any_coverage=active.member_id.count(),
    )
    joined = people.left_join(covered, keys).select(*keys, "death_date", "program_coverage", "any_coverage")
    day = ibis.date(on) if isinstance(on, date) else joined.as_of
    shown = ibis.literal(str(on)) if isinstance(on, date) else _text(day)
    dead = joined.death_date.notnull() & (joined.death_date <= day)
    in_program = joined.program_coverage.fill_null(0) > 0
    reason = ibis.cases(
        (dead, "not eligible: died " + _text(joined.death_date)),
        (in_program, "eligible"),
        (
            joined.any_coverage.notnull(),
            "not eligible: covered on " + shown + f" but not in {'/'.join(lobs)}",
        ),
        else_="not eligible: no coverage on " + shown,
    )
    return joined.select(*keys, eligible=~dead & in_program, eligibility_reason=reason)


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
    """Per (member, pharmacy): fills, days, last fill, the member's totals and the rank (0 = winner).

    Every candidate with its rank, for display; attribution itself uses :func:`top_pharmacies`.
    """
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


def top_pharmacies(pairs: Any, method: str, by: Sequence[str] = ("member_id",)) -> Any:
    """The winning pharmacy per member (per ``by``) from (member, pharmacy) rows n, days, last_fill.

    One hash aggregate with an arg-max instead of a window sort over every candidate: the sort key
    (count or days, then the most recent fill, then the lowest pharmacy id) is a struct compared
    field by field on every backend (DuckDB ``arg_max``, PostgreSQL row comparison, Spark
    ``max_by``); negating the id makes "lowest id" the largest. Returns ``by``, pharmacy_id, top
    (the winner's fills or days), last_fill (the winner's), total_n, total_days, pharmacies.
    """
    primary = pairs.days if method == "pqa_days_supply" else pairs.n
    key = ibis.struct({"primary": primary, "last_fill": pairs.last_fill, "lowest_id": -pairs.pharmacy_id})
    return pairs.group_by(list(by)).aggregate(
        pharmacy_id=pairs.pharmacy_id.argmax(key),
        top=primary.max(),
        last_fill=pairs.last_fill.argmax(key),
        total_n=pairs.n.sum(),
        total_days=pairs.days.sum(),
        pharmacies=pairs.pharmacy_id.count(),
    )


def _spec_for(contract: ProgramContract, method: str | None) -> PharmacyAttribution:
    spec = contract.pharmacy_attribution
    if method is not None and method != spec.method:
        if method not in ("plurality_fills", "pqa_days_supply"):
            raise ValueError(f"unknown pharmacy attribution method {method!r}")
        spec = replace(spec, method=method)  # type: ignore[arg-type]  # checked just above
    return spec


def attribute_pharmacies(
    tables: CanonicalTables, contract: ProgramContract, as_of: date, method: str | None = None
) -> Any:
    """One row per member: the attributed pharmacy on ``as_of`` (or none) and why."""
    spec = _spec_for(contract, method)
    start = months_back(as_of, spec.lookback_months)
    units = _pharmacy_units(tables, spec, start, as_of)
    pairs = units.group_by(["member_id", "pharmacy_id"]).aggregate(
        n=units.member_id.count(), days=units.days.sum(), last_fill=units.fill_date.max()
    )
    top = top_pharmacies(pairs, spec.method)
    eligible = find_eligible_members(tables, contract, as_of)
    j = eligible.left_join(top, "member_id").select(
        "member_id",
        "eligible",
        "eligibility_reason",
        "pharmacy_id",
        "top",
        "last_fill",
        "total_n",
        "total_days",
        "pharmacies",
    )
    return _describe(tables, j, spec, (as_of, f"{start}..{as_of}"))


def _describe(
    tables: CanonicalTables, j: Any, spec: PharmacyAttribution, dated: tuple[date, str] | None
) -> Any:
    """The attribution columns from the winners joined to eligibility; NPIs and reasons come last.

    Only the final row of each member is described (one string per member, none per candidate),
    and the pharmacy NPI is joined on the dense id after the winners are known. ``dated`` is the
    (as-of date, look-back text) of a single-date run; ``None`` reads them from the ``as_of``
    and ``window`` columns (snapshots).
    """
    provider = tables["provider"]
    npis = provider.select(npi_id=provider.provider_id.cast("int64"), npi=provider.npi)
    j = j.left_join(npis, j.pharmacy_id == npis.npi_id).drop("npi_id")
    as_of = j.as_of if dated is None else ibis.date(dated[0])
    window = j.window if dated is None else ibis.literal(dated[1])
    has_fills = j.pharmacy_id.notnull()
    if spec.method == "pqa_days_supply":
        share = j.top.cast("float64") / j.total_days.cast("float64")
        # Compare in integers: days / total >= p / q  <=>  days * q >= p * total.
        p, q = spec.pqa_min_share.as_integer_ratio()
        reaches = (j.top * q) >= (j.total_days * p)
        pct = ((j.top * 100) / j.total_days).floor().cast("int64")
        won = (
            "attributed: "
            + _text(j.top)
            + " of "
            + _text(j.total_days)
            + " days supply of target drugs ("
            + _text(pct)
            + f" %, >= {_pct(spec.pqa_min_share)}) at pharmacy "
            + j.npi.fill_null("?")
            + " in "
            + window
        )
        lost = (
            "not attributed: the top pharmacy "
            + j.npi.fill_null("?")
            + " has "
            + _text(pct)
            + " % of target-drug days supply in "
            + window
            + f", below {_pct(spec.pqa_min_share)}"
        )
        nothing = "not attributed: no target-drug fills in " + window
    else:
        share = j.top.cast("float64") / j.total_n.cast("float64")
        reaches = ibis.literal(True)
        pct = ((j.top * 100) / j.total_n).floor().cast("int64")
        tie_note = ibis.ifelse(j.pharmacies > 1, " across " + _text(j.pharmacies) + " pharmacies", "")
        won = (
            "attributed: "
            + _text(j.top)
            + " of "
            + _text(j.total_n)
            + " fills ("
            + _text(pct)
            + " %) at pharmacy "
            + j.npi.fill_null("?")
            + tie_note
            + ", last fill "
            + _text(j.last_fill)
            + " (plurality, ties to most recent fill, in "
            + window
            + ")"
        )
        lost = ibis.literal("")
        nothing = "not attributed: no fills in " + window
    attributed = j.eligible & has_fills & reaches
    reason = ibis.cases(
        (~j.eligible, j.eligibility_reason),
        (~has_fills, nothing),
        (attributed, won),
        else_=lost,
    )
    return j.select(
        member_id=j.member_id,
        as_of=as_of,
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
    """Pharmacy attribution at each date (monthly snapshots) for one or more methods, stacked.

    Month ends (the snapshot dates) look back over whole calendar months, so the fills are
    reduced once to one row per (member, pharmacy, month) and every snapshot sums the months of
    its window from that aggregate: one scan of the fills and one ranking for all the dates,
    instead of one full attribution per date (each distinct date once). Other dates fall back to stacking
    :func:`attribute_pharmacies`; both give identical rows (tests/program/test_attribution.py).
    """
    chosen = list(methods) or [contract.pharmacy_attribution.method]
    days = sorted(set(dates))
    if days and all(_is_month_end(day) for day in days):
        parts = [_monthly_snapshots(tables, contract, days, method) for method in chosen]
    else:
        parts = [attribute_pharmacies(tables, contract, day, method) for day in dates for method in chosen]
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part, distinct=False)
    return out


def _is_month_end(day: date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


def _month_index(day: Any) -> Any:
    """Months since year 0 (``year * 12 + month - 1``): integer month arithmetic on every backend."""
    return day.year().cast("int64") * 12 + day.month().cast("int64") - 1


def _monthly_snapshots(
    tables: CanonicalTables, contract: ProgramContract, days: list[date], method: str
) -> Any:
    """Attribution at each month end in ``days`` (sorted, distinct) from one monthly aggregate."""
    spec = _spec_for(contract, method)
    look = spec.lookback_months
    units = _pharmacy_units(tables, spec, months_back(days[0], look), days[-1])
    units = units.mutate(month=_month_index(units.fill_date))
    monthly = units.group_by(["member_id", "pharmacy_id", "month"]).aggregate(
        n=units.member_id.count(), days=units.days.sum(), last_fill=units.fill_date.max()
    )
    snaps = ibis.memtable(
        {
            "as_of": days,
            "window": [f"{months_back(d, look)}..{d}" for d in days],
        },
        schema={"as_of": "date", "window": "string"},
    )
    # Which snapshots each calendar month counts for: at most look x dates rows, so the monthly
    # rows reach their snapshots through a hash join on the month instead of a range join.
    spans = [(d, d.year * 12 + d.month - 1 - back) for d in days for back in range(look)]
    counts_for = ibis.memtable(
        {"span_as_of": [d for d, _ in spans], "span_month": [m for _, m in spans]},
        schema={"span_as_of": "date", "span_month": "int64"},
    )
    spread = monthly.join(counts_for, monthly.month == counts_for.span_month).select(
        "member_id", "pharmacy_id", "n", "days", "last_fill", as_of="span_as_of"
    )
    pairs = spread.group_by(["member_id", "as_of", "pharmacy_id"]).aggregate(
        n=spread.n.sum(), days=spread.days.sum(), last_fill=spread.last_fill.max()
    )
    top = top_pharmacies(pairs, spec.method, by=("member_id", "as_of"))
    who = _eligibility(tables, contract, snaps)
    who = who.join(snaps.select("as_of", "window"), "as_of")
    j = who.left_join(top, ["member_id", "as_of"]).select(
        "member_id",
        "as_of",
        "window",
        "eligible",
        "eligibility_reason",
        "pharmacy_id",
        "top",
        "last_fill",
        "total_n",
        "total_days",
        "pharmacies",
    )
    return _describe(tables, j, spec, None)

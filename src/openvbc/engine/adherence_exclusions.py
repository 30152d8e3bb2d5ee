"""Who leaves a PDC denominator, and where a member's own period ends, as Ibis expressions.

Exclusions (see docs/adherence.md for the sources): hospice and ESRD evidence dated in the
measurement period, from value sets by OID looked up in any of the canonical clinical tables
present; and, per measure, any fill of an exclusion drug (insulin for PDC-DR,
sacubitril/valsartan for PDC-RASA) in the period. Enrolment: the coverage span (merged across
touching spans) that contains the index date ends the member's period at disenrolment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import ibis

from openvbc.engine.adherence_coverage import day_number

# An open-ended coverage span runs "forever"; any day number past every real date will do.
OPEN_END = date(9999, 12, 31)
OPEN_END_DAY = day_number(OPEN_END)


def _normalise_code(system: str, code: str) -> str:
    # Value sets write ICD-10-CM with the dot; claims carry it without (canonical model).
    return code.replace(".", "").upper() if system == "icd10cm" else code


def group_codes(codes: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(system, code) pairs -> system -> sorted normalised codes."""
    grouped: dict[str, set[str]] = {}
    for system, code in codes:
        grouped.setdefault(system, set()).add(_normalise_code(system, code))
    return {system: sorted(values) for system, values in grouped.items()}


def _code_matches(system_column: Any, code_column: Any, codes: Mapping[str, list[str]]) -> Any:
    condition = ibis.literal(False)
    for system, values in codes.items():
        column = code_column.replace(".", "").upper() if system == "icd10cm" else code_column
        condition = condition | ((system_column == system) & column.isin(values))
    return condition


def _member_ids(table: Any) -> Any:
    return table.select(member_id=table.member_id.cast("int64"))


def find_coded_members(
    tables: Mapping[str, Any],
    codes: Mapping[str, list[str]],
    start: date,
    end: date,
    *,
    bill_type_prefixes: Sequence[str] = (),
    discharge_status: Sequence[str] = (),
    discharge_dispositions: Sequence[str] = (),
) -> Any | None:
    """Members with any evidence coded in ``codes`` dated within [start, end]; None when no table has any.

    Looks in every table that is present: condition (active in the period), claim_diagnosis
    (claim dates overlap), claim_line (service date), encounter (dates overlap), and the
    institutional-claim fields when given (type-of-bill prefixes, discharge status) plus the
    encounter discharge disposition.
    """
    parts = []
    start_lit, end_lit = ibis.date(start), ibis.date(end)
    if "condition" in tables:
        cond = tables["condition"]
        began = cond.onset_date.fill_null(cond.recorded_date)
        live = (began.isnull() | (began <= end_lit)) & (
            cond.abatement_date.isnull() | (cond.abatement_date >= start_lit)
        )
        valid = cond.verification_status.isnull() | ~cond.verification_status.isin(
            ["entered-in-error", "refuted"]
        )
        parts.append(
            _member_ids(cond.filter(live & valid & _code_matches(cond.code_system, cond.code, codes)))
        )
    if "claim_diagnosis" in tables and "medical_claim" in tables and codes.get("icd10cm"):
        diagnosis, claim = tables["claim_diagnosis"], tables["medical_claim"]
        dated = claim.filter((claim.from_date <= end_lit) & (claim.to_date >= start_lit)).select("claim_id")
        hits = diagnosis.filter(diagnosis.code.replace(".", "").upper().isin(codes["icd10cm"]))
        parts.append(_member_ids(hits.semi_join(dated, "claim_id")))
    procedure_codes = [*codes.get("cpt", []), *codes.get("hcpcs", [])]
    if "claim_line" in tables and procedure_codes:
        line = tables["claim_line"]
        in_period = line.service_date.between(start_lit, end_lit)
        parts.append(_member_ids(line.filter(in_period & line.procedure_code.isin(procedure_codes))))
    if "encounter" in tables:
        enc = tables["encounter"]
        began, ended = enc.start_at.date(), enc.end_at.fill_null(enc.start_at).date()
        overlaps = (began <= end_lit) & (ended >= start_lit)
        coded = _code_matches(enc.code_system, enc.code, codes)
        if discharge_dispositions:
            coded = coded | enc.discharge_disposition.isin(list(discharge_dispositions))
        parts.append(_member_ids(enc.filter(overlaps & coded)))
    if "medical_claim" in tables and (bill_type_prefixes or discharge_status):
        claim = tables["medical_claim"]
        overlaps = (claim.from_date <= end_lit) & (claim.to_date >= start_lit)
        flagged = ibis.literal(False)
        if bill_type_prefixes:
            flagged = flagged | claim.bill_type.lpad(4, "0").substr(0, 3).isin(list(bill_type_prefixes))
        if discharge_status:
            flagged = flagged | claim.discharge_status.isin(list(discharge_status))
        parts.append(_member_ids(claim.filter(overlaps & flagged)))
    if not parts:
        return None
    return ibis.union(*parts, distinct=True)


def find_drug_exclusions(
    fills: Any, start: date, end: date, exclusion_classes: Sequence[str], ingredient_prefixes: Sequence[str]
) -> Any | None:
    """Members with any fill in the period of an exclusion drug: ``member_id, excluded_by``.

    A fill matches when its ``|``-joined class list names an exclusion class, or one of its
    ingredients starts with a listed name ("insulin" matches "insulin glargine").
    """
    if not exclusion_classes and not ingredient_prefixes:
        return None
    classes = "|" + fills.drug_class.fill_null("").lower() + "|"
    ingredients = "|" + fills.ingredient.fill_null("").lower()
    matched = ibis.literal(False)
    for name in exclusion_classes:
        matched = matched | classes.contains(f"|{name.lower()}|")
    for prefix in ingredient_prefixes:
        matched = matched | ingredients.contains(f"|{prefix.lower()}")
    hits = fills.filter(fills.fill_date.between(ibis.date(start), ibis.date(end)) & matched)
    return hits.group_by(member_id=hits.member_id.cast("int64")).agg(
        excluded_by=hits.ingredient.fill_null("unknown ingredient").min()
    )


def merge_coverage_runs(coverage: Any, allowed_gap_days: int) -> Any:
    """``member_id, run_start, run_end, run_end_date``: coverage spans with a drug benefit, merged.

    Spans merge when the next one starts no more than ``allowed_gap_days`` after the previous
    one ends (an open end runs to ``OPEN_END``). Independent of any measure but the gap, so a
    run of several PDC measures can compute it once.
    """
    spans = coverage.filter(coverage.rx_benefit.fill_null(True))
    spans = spans.select(
        member_id=spans.member_id.cast("int64"),
        span_start=spans.start_date.epoch_days().cast("int64"),
        span_end=spans.end_date.epoch_days().cast("int64").fill_null(OPEN_END_DAY),
        span_end_date=spans.end_date.fill_null(ibis.date(OPEN_END)),
    )
    earlier = ibis.window(
        group_by=spans.member_id, order_by=[spans.span_start, spans.span_end], rows=(None, -1)
    )
    marked = spans.mutate(reach=spans.span_end.max().over(earlier))
    opens = ibis.ifelse(
        marked.reach.isnull() | (marked.span_start > marked.reach + 1 + allowed_gap_days), 1, 0
    )
    running = ibis.window(
        group_by=marked.member_id, order_by=[marked.span_start, marked.span_end], rows=(None, 0)
    )
    numbered = marked.mutate(run=opens.sum().over(running))
    return numbered.group_by(["member_id", "run"]).agg(
        run_start=numbered.span_start.min(),
        run_end=numbered.span_end.max(),
        run_end_date=numbered.span_end_date.max(),
    )


def find_enrollment_end(coverage: Any, index_days: Any, allowed_gap_days: int, runs: Any = None) -> Any:
    """``member_id, enrolled_through`` (day number and ``_date``) for members covered on their index day.

    The merged coverage run (:func:`merge_coverage_runs`; pass ``runs`` when already computed)
    that contains the index day ends the member's period (disenrolment). Members covered on the
    index day by no run are absent from the result.
    """
    if runs is None:
        runs = merge_coverage_runs(coverage, allowed_gap_days)
    joined = index_days.join(runs, "member_id")
    inside = joined.filter((joined.run_start <= joined.index_day) & (joined.index_day <= joined.run_end))
    return inside.group_by("member_id").agg(
        enrolled_through=inside.run_end.max(), enrolled_through_date=inside.run_end_date.max()
    )

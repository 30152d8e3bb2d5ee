"""Payments for a program year: encounter fees, tier 1, tier 2 and PMPM lines per pharmacy.

The engine reduces member rows to per-pharmacy counts and member lists (Ibis, any backend); the
contract arithmetic (caps, gates, rounding, reconciliation) is :mod:`openvbc.domain.contract`.
Everything is sorted before it is returned, so a run is reproducible bit for bit from the same
data and rule files.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa

from openvbc.domain import contract as c
from openvbc.domain.mtm_units import code_mtm_encounter
from openvbc.engine.attribution import month_ends
from openvbc.engine.canonical import CanonicalTables
from openvbc.engine.engagement import find_engaged_members
from openvbc.engine.payments import (
    count_performance,
    count_pmpm_months,
    count_program_denominators,
    list_measure_members,
    select_billable_encounters,
)


@dataclass
class PaymentRun:
    """Every statement of a program year plus what the run could not pay and why."""

    contract: c.ProgramContract
    statements: list[c.Statement]
    pharmacy_npis: dict[int, str]
    measure_status: dict[str, str]  # benchmark key -> "scored" | "no data"
    notes: list[str] = field(default_factory=list)
    attributed: dict[int, tuple[int, ...]] = field(default_factory=dict)
    engagement: dict[int, c.EngagementCount] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum((s.total for s in self.statements), c.ZERO)

    def statement_for(self, pharmacy_id: int) -> c.Statement | None:
        return next((s for s in self.statements if s.pharmacy_id == pharmacy_id), None)


@dataclass(frozen=True)
class ProgramInputs:
    """Engine-side inputs of one run: canonical tables plus the derived member-level tables."""

    tables: CanonicalTables
    measure_results: Any  # union of member-level results of the contract's measures
    attribution: Any  # year-end pharmacy attribution (attribute_pharmacies)
    targeting: Any | None = None  # target_members, when the contract targets
    snapshots: Any | None = None  # monthly pharmacy attribution, for PMPM contracts


def group_member_ids(table: pa.Table, key: str = "pharmacy_id") -> dict[int, tuple[int, ...]]:
    """``key`` -> sorted member ids, from an Arrow table of (key, member_id) rows.

    Sorted and split in Arrow/numpy (one sort, one slice per pharmacy) rather than a Python
    dict per row: a million attributed members become 5,000 tuples in well under a second.
    """
    if table.num_rows == 0:
        return {}
    ordered = table.select([key, "member_id"]).sort_by([(key, "ascending"), ("member_id", "ascending")])
    keys = ordered.column(key).to_numpy()
    members = ordered.column("member_id").to_numpy()
    starts = np.concatenate(([0], np.flatnonzero(keys[1:] != keys[:-1]) + 1))
    ends = np.append(starts[1:], len(keys))
    return {
        int(keys[a]): tuple(members[a:b].tolist())
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
    }


def compute_payments(
    inputs: ProgramInputs,
    contract: c.ProgramContract,
    outcome_overrides: Mapping[tuple[int, str], bool] | None = None,
) -> PaymentRun:
    """Statements for every pharmacy with attributed members, encounters or PMPM months.

    ``outcome_overrides`` maps (member_id, benchmark key) to a numerator outcome, for what-if runs.
    """
    notes: list[str] = []
    attributed_table = (
        inputs.attribution.filter(inputs.attribution.provider_id.notnull())
        .select(
            pharmacy_id=inputs.attribution.provider_id,
            member_id=inputs.attribution.member_id,
            npi=inputs.attribution.provider_npi,
        )
        .to_pyarrow()
    )
    attributed = group_member_ids(attributed_table)
    firsts = attributed_table.group_by("pharmacy_id").aggregate([("npi", "min")])
    npis = {
        int(p): str(n)
        for p, n in zip(
            firsts.column("pharmacy_id").to_pylist(), firsts.column("npi_min").to_pylist(), strict=True
        )
    }
    scores_by_pharmacy, measure_status = _score_measures(
        inputs, contract, attributed, outcome_overrides, notes
    )
    lines: dict[int, list[c.PaymentLine]] = defaultdict(list)
    clinical_by_pharmacy: dict[int, c.ClinicalResult] = {}
    engagement: dict[int, c.EngagementCount] = {}
    if contract.tier1 is not None and contract.scoring is not None:
        engagement = _engagement_counts(inputs, contract, attributed)
        for pharmacy_id, members in sorted(attributed.items()):
            scores = scores_by_pharmacy.get(pharmacy_id, ())
            clinical = c.score_clinical(scores, contract.scoring)
            clinical_by_pharmacy[pharmacy_id] = clinical
            tier1 = c.pay_tier1(pharmacy_id, contract.tier1, clinical, members, contract.clause("tier1"))
            lines[pharmacy_id].append(tier1)
            if contract.tier2 is not None:
                count = engagement.get(pharmacy_id, c.EngagementCount(0, ()))
                lines[pharmacy_id].append(
                    c.pay_tier2(pharmacy_id, contract.tier2, tier1, clinical, count, contract.clause("tier2"))
                )
    if contract.encounter_fees is not None:
        for line in _encounter_lines(inputs, contract, npis, notes):
            lines[line.pharmacy_id].append(line)
    if contract.pmpm is not None:
        for line in _pmpm_lines(inputs, contract):
            lines[line.pharmacy_id].append(line)
    order = {"encounter_fee": 0, "tier1": 1, "tier2": 2, "pmpm": 3}
    statements = [
        c.Statement(
            pharmacy_id,
            tuple(sorted(found, key=lambda x: (order[x.component], x.detail_key))),
            tuple(scores_by_pharmacy.get(pharmacy_id, ())),
            clinical_by_pharmacy.get(pharmacy_id),
        )
        for pharmacy_id, found in sorted(lines.items())
    ]
    return PaymentRun(
        contract,
        statements,
        npis,
        measure_status,
        notes,
        dict(attributed),
        engagement,
    )


def _score_measures(
    inputs: ProgramInputs,
    contract: c.ProgramContract,
    attributed: Mapping[int, tuple[int, ...]],
    overrides: Mapping[tuple[int, str], bool] | None,
    notes: list[str],
) -> tuple[dict[int, tuple[c.MeasureScore, ...]], dict[str, str]]:
    if not contract.measures:
        return {}, {}
    program = {
        r["key"]: int(r["denominator"])
        for r in count_program_denominators(inputs.measure_results, contract).to_pyarrow().to_pylist()
    }
    status = {m.key: ("scored" if program.get(m.key, 0) > 0 else "no data") for m in contract.measures}
    for m in contract.measures:
        if status[m.key] == "no data":
            notes.append(
                f"{m.key} ({m.measure_id}): no member of the program year is in its denominator; "
                "reported as no data and not paid on"
            )
    members = list_measure_members(inputs.measure_results, inputs.attribution, contract)
    counts: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    if overrides:
        rows = members.select("pharmacy_id", "member_id", "key", "in_numerator").to_pyarrow().to_pylist()
        for row in rows:
            hit = overrides.get((int(row["member_id"]), row["key"]), bool(row["in_numerator"]))
            pair = counts[(int(row["pharmacy_id"]), row["key"])]
            pair[0] += 1
            pair[1] += int(hit)
    else:
        for row in count_performance(members).to_pyarrow().to_pylist():
            counts[(int(row["pharmacy_id"]), row["key"])] = [int(row["denominator"]), int(row["numerator"])]
    out: dict[int, tuple[c.MeasureScore, ...]] = {}
    for pharmacy_id in attributed:
        out[pharmacy_id] = tuple(
            c.score_measure(
                m, *_pair(counts.get((pharmacy_id, m.key))), program_has_data=status[m.key] == "scored"
            )
            for m in contract.measures
        )
    return out, status


def _pair(found: list[int] | None) -> tuple[int, int]:
    return (found[0], found[1]) if found else (0, 0)


def _engagement_counts(
    inputs: ProgramInputs, contract: c.ProgramContract, attributed: Mapping[int, tuple[int, ...]]
) -> dict[int, c.EngagementCount]:
    """Per pharmacy: the tier-2 population size and its engaged members (counted in the engine)."""
    found = find_engaged_members(inputs.tables, contract, inputs.attribution)
    engaged_rows = found.filter(found.engaged).select("pharmacy_id", "member_id")
    if contract.tier2 is not None and contract.tier2.population == "targeted":
        if inputs.targeting is None:
            raise ValueError("tier2.population is targeted but no targeting table was given")
        t = inputs.targeting
        targeted = t.filter(t.targeted).select(t_member=t.member_id.cast("int64"))
        a = inputs.attribution.filter(inputs.attribution.provider_id.notnull())
        in_population = a.join(targeted, a.member_id == targeted.t_member)
        sizes = in_population.group_by(pharmacy_id=in_population.provider_id).aggregate(
            population=in_population.member_id.count()
        )
        size_table = sizes.to_pyarrow()
        population = dict(
            zip(
                size_table.column("pharmacy_id").to_pylist(),
                size_table.column("population").to_pylist(),
                strict=True,
            )
        )
        engaged_rows = engaged_rows.join(targeted, engaged_rows.member_id == targeted.t_member).select(
            "pharmacy_id", "member_id"
        )
    else:
        population = {p: len(ms) for p, ms in attributed.items()}
    engaged = group_member_ids(engaged_rows.to_pyarrow())
    return {p: c.EngagementCount(int(population.get(p, 0)), engaged.get(p, ())) for p in attributed}


def _encounter_lines(
    inputs: ProgramInputs, contract: c.ProgramContract, npis: dict[int, str], notes: list[str]
) -> list[c.PaymentLine]:
    """One fee line per billable encounter, in (service date, MTM key) order.

    Priced per distinct (minutes, payer status, kind): a year has tens of thousands of
    encounters but only a few hundred distinct signatures, and the fee is a function of those
    three values alone. Rows are read column-wise from Arrow, never as one dict per row.
    """
    fees = contract.encounter_fees
    assert fees is not None
    table = select_billable_encounters(inputs.tables, contract).to_pyarrow()
    table = table.sort_by([("service_date", "ascending"), ("mtm_key", "ascending")])
    signatures = table.group_by(["minutes", "payer_status", "kind"]).aggregate([]).to_pylist()
    priced: dict[tuple[int, str, str], tuple[Decimal, str, str]] = {}
    for sig in signatures:
        minutes, status, kind = int(sig["minutes"]), sig["payer_status"], sig["kind"]
        coding = code_mtm_encounter(minutes, status, kind, fees.unit_rule)
        codes = [(line.code, line.units) for line in coding.lines]
        amount, how = c.price_encounter(fees, minutes, codes)
        code_text = " + ".join(f"{code} x{units}" for code, units in codes) or "no units"
        priced[(minutes, status, kind)] = (
            amount,
            how if coding.lines or fees.time_bands else coding.reason or how,
            code_text,
        )
    clause = contract.clause("encounter_fees")
    columns = [
        table.column(name).to_pylist()
        for name in (
            "mtm_key",
            "member_id",
            "pharmacy_npi",
            "encounter_pharmacy_id",
            "service_date",
            "kind",
            "minutes",
            "patient_status",
            "payer_status",
        )
    ]
    out = []
    for key, member_id, npi, pharmacy, day, kind, minutes, submitted, status in zip(*columns, strict=True):
        if pharmacy is None:
            notes.append(f"encounter {key}: pharmacy NPI {npi} is not a known pharmacy; not paid")
            continue
        amount, how, code_text = priced[(int(minutes), status, kind)]
        pharmacy_id = int(pharmacy)
        npis.setdefault(pharmacy_id, str(npi))
        status_note = f"{status} patient"
        if status != submitted:
            status_note += f" (submitted as {submitted}; contract look-back decides)"
        out.append(
            c.PaymentLine(
                pharmacy_id,
                "encounter_fee",
                f"{kind} {day} {minutes} min: {code_text}",
                1,
                amount,
                amount,
                clause,
                f"{how}; {status_note}",
                (int(member_id),),
                key,
            )
        )
    return out


def _pmpm_lines(inputs: ProgramInputs, contract: c.ProgramContract) -> list[c.PaymentLine]:
    pmpm = contract.pmpm
    assert pmpm is not None
    if inputs.snapshots is None:
        raise ValueError("a PMPM contract needs monthly attribution snapshots")
    dates = month_ends(contract.period_start, contract.period_end)
    rows = count_pmpm_months(inputs.tables, contract, inputs.snapshots, dates).to_pyarrow()
    per_pharmacy = rows.group_by("pharmacy_id").aggregate([("member_id", "count")])
    quantities = dict(
        zip(
            per_pharmacy.column("pharmacy_id").to_pylist(),
            per_pharmacy.column("member_id_count").to_pylist(),
            strict=True,
        )
    )
    distinct = group_member_ids(rows.group_by(["pharmacy_id", "member_id"]).aggregate([]))
    out = []
    for pharmacy_id, members in sorted(distinct.items()):
        quantity = int(quantities[pharmacy_id])
        amount, cap_note = c.apply_cap(pmpm.amount * quantity, pmpm.cap)
        evidence = (
            f"{quantity} engaged attributed member-month(s) across {len(members)} member(s): attributed "
            f"at month end with a {'/'.join(pmpm.kinds)} in the {pmpm.engagement_window_months} month(s) "
            "ending that month"
        )
        if cap_note:
            evidence += f"; {cap_note}"
        out.append(
            c.PaymentLine(
                pharmacy_id,
                "pmpm",
                f"Care-planning PMPM: {quantity} x {pmpm.amount}",
                quantity,
                pmpm.amount,
                c.round_cents(amount),
                contract.clause("pmpm"),
                evidence,
                members,
            )
        )
    return out

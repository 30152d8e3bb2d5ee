"""Spine-care use cases: opioid safety from fills, PROM collection and scoring, low back pain
episodes with their baseline / follow-up outcome, and the shared view of one patient.

The rules live below: PROM scoring and episodes in ``domain.proms`` / ``domain.spine``, MME and the
PQA measures in ``engine.opioids`` (Ibis), thresholds and codes in ``rules/registry/**``. This module
moves rows between the store and those functions and owns the transactions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine, and_, func, insert, select

from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.domain.periods import MeasurementPeriod
from openvbc.domain.proms import PromAnswerError, PromChange, assess_change, score_prom
from openvbc.domain.spine import (
    DatedDiagnosis,
    Episode,
    ScoredAdministration,
    build_episodes,
    find_timepoint,
    pick_administration,
)
from openvbc.engine.canonical import MEMBER_RESULT_COLUMN_NAMES
from openvbc.engine.opioids import daily_mme, evaluate_opioid_measures
from openvbc.rules.registry.schema import (
    load_drug_products,
    load_opioid_measures,
    load_prom_instrument,
    load_spine_rule,
)
from openvbc.store import tables as t

OPIOID_INPUT_TABLES = ("member", "fill", "condition", "claim_diagnosis", "medical_claim", "encounter")


def opioid_period(year: int) -> MeasurementPeriod:
    rule = load_opioid_measures(year)
    return MeasurementPeriod(rule.measurement_period.start, rule.measurement_period.end)


def run_opioid_measures(store: Engine, year: int, *, backend: str = "duckdb") -> pa.Table:
    """Member-level PQA OHD and COB results for a measurement year (``MEMBER_RESULT_COLUMNS``)."""
    from openvbc.services.engine_inputs import open_engine_tables

    rule = load_opioid_measures(year)
    _con, tables = open_engine_tables(store, OPIOID_INPUT_TABLES, backend)
    expr = evaluate_opioid_measures(
        tables, rule, load_drug_products(), opioid_period(year), rule_file=f"registry/opioids/pqa_{year}.yaml"
    )
    result: pa.Table = expr.to_pyarrow().select(list(MEMBER_RESULT_COLUMN_NAMES))
    return result.sort_by([("measure_id", "ascending"), ("member_id", "ascending")])


def read_daily_mme(
    store: Engine, year: int, member_ids: Sequence[int] | None = None, *, backend: str = "duckdb"
) -> pa.Table:
    """Opioid MME per member-day of the year (only days with supply); optionally for some members."""
    from openvbc.services.engine_inputs import open_engine_tables

    _con, tables = open_engine_tables(store, ("fill",), backend)
    expr = daily_mme(tables, load_drug_products(), opioid_period(year))
    if member_ids is not None:
        expr = expr.filter(expr.member_id.isin([int(m) for m in member_ids]))
    result: pa.Table = expr.select("member_id", "date", "mme", "fills").to_pyarrow()
    return result.sort_by([("member_id", "ascending"), ("date", "ascending")])


# --- PROM collection --------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedProm:
    prom_response_id: int
    member_id: int
    instrument: str
    administered_on: date
    score: float | None
    answered: int
    problem: str | None


def _member_id(connection: Any, member_key: str) -> int:
    found = connection.execute(
        select(t.member.c.member_id).where(t.member.c.member_key == member_key)
    ).scalar()
    if found is None:
        raise InvalidInput([InputIssue("prom", None, "member_key", f"unknown member {member_key!r}")])
    return int(found)


def record_prom(
    store: Engine,
    member_key: str,
    instrument_id: str,
    administered_on: date,
    answers: Mapping[str, int | None],
    *,
    source: str = "patient",
    clinician_npi: str | None = None,
    now: datetime | None = None,
) -> RecordedProm:
    """Score and store one PROM administration; re-recording the same day replaces nothing (409-like)."""
    instrument = load_prom_instrument(instrument_id)
    try:
        scored = score_prom(instrument, answers)
    except PromAnswerError as error:
        raise InvalidInput([InputIssue("prom", None, "answers", str(error))]) from None
    recorded_at = (now or datetime.now(UTC)).replace(tzinfo=None)
    with store.begin() as connection:
        member_id = _member_id(connection, member_key)
        duplicate = connection.execute(
            select(func.count()).where(
                and_(
                    t.prom_response.c.member_id == member_id,
                    t.prom_response.c.instrument == instrument.id,
                    t.prom_response.c.administered_on == administered_on,
                )
            )
        ).scalar()
        if duplicate:
            message = f"{instrument.id} already recorded for {member_key} on {administered_on}"
            raise InvalidInput([InputIssue("prom", None, "administered_on", message)])
        result = connection.execute(
            insert(t.prom_response).values(
                member_id=member_id,
                instrument=instrument.id,
                instrument_version=instrument.version,
                administered_on=administered_on,
                answers=json.dumps({k: answers.get(k) for k in instrument.items}, sort_keys=True),
                score=scored.score,
                answered_items=scored.answered,
                problem=scored.problem,
                source=source,
                clinician_npi=clinician_npi,
                recorded_at=recorded_at,
            )
        )
        key = result.inserted_primary_key
        assert key is not None  # a single-row insert always reports its key
        new_id = int(key[0])
    return RecordedProm(
        new_id, member_id, instrument.id, administered_on, scored.score, scored.answered, scored.problem
    )


# --- episodes and outcomes ----------------------------------------------------------------------


@dataclass(frozen=True)
class EpisodeOutcome:
    """One episode with its baseline / outcome follow-up per instrument and the MCID verdicts."""

    member_id: int
    episode: Episode
    changes: dict[str, PromChange] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # instrument -> what is missing


def _diagnoses_by_member(
    connection: Any, member_ids: Sequence[int] | None
) -> dict[int, list[DatedDiagnosis]]:
    out: dict[int, list[DatedDiagnosis]] = {}
    cond = t.condition
    query = select(
        cond.c.member_id, cond.c.condition_id, cond.c.code, cond.c.onset_date, cond.c.recorded_date
    ).where(cond.c.code_system == "icd10cm")
    if member_ids is not None:
        query = query.where(cond.c.member_id.in_(list(member_ids)))
    for member_id, cid, code, onset, recorded in connection.execute(query):
        day = onset or recorded
        if day is not None:
            out.setdefault(int(member_id), []).append(DatedDiagnosis(day, code, f"condition:{cid}"))
    dx, claim = t.claim_diagnosis, t.medical_claim
    claims = select(dx.c.member_id, dx.c.claim_id, dx.c.code, claim.c.from_date).join(
        claim, claim.c.claim_id == dx.c.claim_id
    )
    if member_ids is not None:
        claims = claims.where(dx.c.member_id.in_(list(member_ids)))
    for member_id, claim_id, code, day in connection.execute(claims):
        out.setdefault(int(member_id), []).append(DatedDiagnosis(day, code, f"claim:{claim_id}"))
    return out


def _scores_by_member(
    connection: Any, member_ids: Sequence[int] | None
) -> dict[int, list[ScoredAdministration]]:
    p = t.prom_response
    query = select(p.c.member_id, p.c.prom_response_id, p.c.instrument, p.c.administered_on, p.c.score).where(
        p.c.score.is_not(None)
    )
    if member_ids is not None:
        query = query.where(p.c.member_id.in_(list(member_ids)))
    out: dict[int, list[ScoredAdministration]] = {}
    for member_id, rid, instrument, day, score in connection.execute(query):
        out.setdefault(int(member_id), []).append(
            ScoredAdministration(day, str(instrument), float(score), f"prom_response:{rid}")
        )
    return out


def evaluate_episodes(store: Engine, member_ids: Sequence[int] | None = None) -> list[EpisodeOutcome]:
    """Low back pain episodes from diagnoses, each with its PROM change at the outcome follow-up."""
    from openvbc.rules.registry.schema import load_spine_file

    rule = load_spine_rule()
    instruments = [load_prom_instrument(name) for name in load_spine_file().outcome_instruments]
    with store.connect() as connection:
        diagnoses = _diagnoses_by_member(connection, member_ids)
        scores = _scores_by_member(connection, member_ids)
    outcome_point = find_timepoint(rule, rule.outcome_follow_up)
    outcomes: list[EpisodeOutcome] = []
    for member_id in sorted(diagnoses):
        for episode in build_episodes(diagnoses[member_id], rule):
            changes: dict[str, PromChange] = {}
            missing: dict[str, str] = {}
            for instrument in instruments:
                given = [s for s in scores.get(member_id, []) if s.instrument_id == instrument.id]
                baseline = pick_administration(episode, given, rule.baseline)
                follow = pick_administration(episode, given, outcome_point)
                if baseline is None or follow is None:
                    missing[instrument.id] = "baseline" if baseline is None else outcome_point.name
                    continue
                changes[instrument.id] = assess_change(instrument, baseline.score, follow.score)
            outcomes.append(EpisodeOutcome(member_id, episode, changes, missing))
    return outcomes


def _outcome_status(outcome: EpisodeOutcome, instrument_id: str) -> str:
    if instrument_id in outcome.changes:
        return "met" if outcome.changes[instrument_id].meets_mcid else "not_met"
    return "no_baseline" if outcome.missing.get(instrument_id) == "baseline" else "awaiting"


def refresh_episodes(store: Engine, *, now: datetime | None = None, instrument_id: str = "ODI") -> int:
    """Recompute every member's episodes and replace the ``spine_episode`` rows (one transaction)."""
    outcomes = evaluate_episodes(store)
    stamp = (now or datetime.now(UTC)).replace(tzinfo=None)
    version = load_spine_rule().version
    rows = [
        {
            "member_id": o.member_id,
            "start_date": o.episode.start,
            "end_date": o.episode.end,
            "index_code": o.episode.index_code,
            "diagnoses": o.episode.diagnoses,
            "outcome_status": _outcome_status(o, instrument_id),
            "outcome_detail": "; ".join(change.explanation for change in o.changes.values()) or None,
            "rule_version": version,
            "computed_at": stamp,
        }
        for o in outcomes
    ]
    with store.begin() as connection:
        connection.execute(t.spine_episode.delete())
        if rows:
            connection.execute(insert(t.spine_episode), rows)
    return len(rows)


def summarise_mcid(
    outcomes: Sequence[EpisodeOutcome], instrument_id: str, period: MeasurementPeriod
) -> dict[str, Any]:
    """Outcome measure counts: episodes starting in the period with both scores; met = MCID reached."""
    eligible = [
        o for o in outcomes if period.start <= o.episode.start <= period.end and instrument_id in o.changes
    ]
    met = [o for o in eligible if o.changes[instrument_id].meets_mcid]
    waiting = [
        o for o in outcomes if period.start <= o.episode.start <= period.end and instrument_id in o.missing
    ]
    return {
        "instrument": instrument_id,
        "eligible": len(eligible),
        "met": len(met),
        "not_met": len(eligible) - len(met),
        "episodes_missing_a_score": len(waiting),
    }


def mcid_member_results(
    outcomes: Sequence[EpisodeOutcome], instrument_id: str, period: MeasurementPeriod
) -> list[dict[str, Any]]:
    """One row per member for the registry outcome measure (their first eligible episode in the period)."""
    rows: dict[int, dict[str, Any]] = {}
    for outcome in outcomes:
        if not period.start <= outcome.episode.start <= period.end or instrument_id not in outcome.changes:
            continue
        if outcome.member_id in rows:
            continue
        change = outcome.changes[instrument_id]
        rows[outcome.member_id] = {
            "member_id": outcome.member_id,
            "denominator": True,
            "numerator": change.meets_mcid,
            "denominator_exclusion": False,
            "denominator_exception": False,
            "reason": f"episode {outcome.episode.key}: {change.explanation}",
        }
    return list(rows.values())


# --- the shared view of one patient -----------------------------------------------------------


def build_patient_view(
    store: Engine, member_key: str, year: int, *, backend: str = "duckdb"
) -> dict[str, Any]:
    """What the primary care practice, the pharmacy and the specialist all see for one patient:
    episodes and PROM trajectory, opioid MME by day with the PQA verdicts, benzodiazepine overlap,
    and who is involved (PCP of record, prescribers, pharmacies)."""
    with store.connect() as connection:
        member_id = _member_id(connection, member_key)
        member = (
            connection.execute(select(t.member).where(t.member.c.member_id == member_id)).mappings().one()
        )
        proms = (
            connection.execute(
                select(t.prom_response)
                .where(t.prom_response.c.member_id == member_id)
                .order_by(t.prom_response.c.administered_on, t.prom_response.c.instrument)
            )
            .mappings()
            .all()
        )
        fills = (
            connection.execute(
                select(
                    t.fill.c.fill_date,
                    t.fill.c.ndc11,
                    t.fill.c.days_supply,
                    t.fill.c.quantity,
                    t.fill.c.pharmacy_npi,
                    t.fill.c.prescriber_npi,
                )
                .where(t.fill.c.member_id == member_id)
                .order_by(t.fill.c.fill_date)
            )
            .mappings()
            .all()
        )
    products = load_drug_products()
    kinds = dict(zip(products.ndc11, products.kind, strict=True))
    ingredients = dict(zip(products.ndc11, products.ingredient, strict=True))
    results = run_opioid_measures(store, year, backend=backend)
    mine = [r for r in results.to_pylist() if int(r["member_id"]) == member_id]
    mme = read_daily_mme(store, year, [member_id], backend=backend).to_pylist()
    episodes = [o for o in evaluate_episodes(store, [member_id])]
    controlled_fills = [f for f in fills if f["ndc11"] in kinds]
    return {
        "member_key": member_key,
        "birth_date": member["birth_date"],
        "pcp_npi": member["pcp_npi"],
        "year": year,
        "episodes": [
            {
                "start": o.episode.start,
                "end": o.episode.end,
                "index_code": o.episode.index_code,
                "outcomes": {k: v.explanation for k, v in o.changes.items()},
                "missing": o.missing,
            }
            for o in episodes
        ],
        "proms": [
            {
                "instrument": p["instrument"],
                "administered_on": p["administered_on"],
                "score": p["score"],
                "problem": p["problem"],
            }
            for p in proms
        ],
        "controlled_substance_fills": [
            {
                "fill_date": f["fill_date"],
                "ndc11": f["ndc11"],
                "kind": kinds[f["ndc11"]],
                "ingredient": ingredients[f["ndc11"]],
                "days_supply": f["days_supply"],
                "quantity": f["quantity"],
                "pharmacy_npi": f["pharmacy_npi"],
                "prescriber_npi": f["prescriber_npi"],
            }
            for f in controlled_fills
        ],
        "peak_mme_per_day": max((row["mme"] for row in mme), default=0.0),
        "days_with_opioid_supply": len(mme),
        "opioid_safety": {
            r["measure_id"]: {
                "in_denominator": bool(r["denominator"]) and not bool(r["denominator_exclusion"]),
                "flagged": bool(r["numerator"]),
                "evidence": r["evidence_value"],
                "reason": r["reason"],
            }
            for r in mine
        },
        "care_team": {
            "pcp_npi": member["pcp_npi"],
            "prescribers": sorted({f["prescriber_npi"] for f in controlled_fills if f["prescriber_npi"]}),
            "pharmacies": sorted({f["pharmacy_npi"] for f in controlled_fills}),
        },
    }

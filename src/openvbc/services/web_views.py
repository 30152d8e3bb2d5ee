"""What the pages and the API show of the program year, built only from the other services.

The program year (attribution, measure results, payments, worklists) is a population
computation: seconds on a small plan, minutes on a large one, so it cannot run per request.
``ProgramViews`` keeps the latest result in memory and rebuilds it in one background thread
whenever a write that can change it (an MTM encounter, an outreach attempt, an upload) is
committed; pages show when it was computed and whether a newer one is on its way.
Per-member answers (a member's open gaps, an individual MeasureReport) are the population
rows filtered to the member: the same engine expressions, never a second copy of a rule
(DESIGN.md decision 2).

Nothing here reads the request or the clock: ``today`` and ``now`` come from the caller.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Connection, Engine, select

from openvbc.domain import contract as c
from openvbc.domain.mtm_units import classify_patient_status, code_mtm_encounter
from openvbc.engine.canonical import MEMBER_RESULT_COLUMN_NAMES
from openvbc.rules.billing_schema import load_fee_schedule, load_mtm_unit_rule
from openvbc.rules.pharmacist.loader import load_dtp_valueset
from openvbc.services.payments import PaymentRun, ProgramInputs, compute_payments
from openvbc.services.program_year import PharmacyChange, open_program, simulate
from openvbc.services.worklists import compute_worklist, evaluate_gap_measures, read_outreach
from openvbc.store.tables import member, mtm_encounter

BUILD_FAILED = "the program year could not be computed"


class _JoinedEngine:
    """An Engine look-alike whose ``begin()`` joins a transaction that is already open.

    Services that take an Engine and run ``with engine.begin()`` (MTM documentation, outreach)
    then write inside the caller's audited transaction, so the work and its audit record
    commit or roll back together (reliability-plan.md §3: audit in the same transaction).
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.dialect = connection.dialect
        self.url = connection.engine.url

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        yield self._connection

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        yield self._connection


def join_transaction(connection: Connection) -> Engine:
    """``connection`` dressed as an Engine for services whose only use of it is ``begin()``."""
    return cast(Engine, _JoinedEngine(connection))


@dataclass
class ProgramView:
    """One computed program year: payments, worklists and member-level measure results."""

    program_id: str
    year: int
    today: date
    computed_at: datetime
    seconds: float
    contract: c.ProgramContract
    run: PaymentRun
    inputs: ProgramInputs
    con: Any  # the Ibis backend the inputs live in (ROI needs it)
    worklist: list[dict[str, Any]]
    results: list[dict[str, Any]]  # MEMBER_RESULT_COLUMNS rows of every measure the view evaluated
    # DuckDB connections are not for concurrent use: what-if runs take this lock.
    lock: threading.Lock = field(default_factory=threading.Lock)
    _worth: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def pharmacy_id_of(self, npi: str) -> int | None:
        return next((pid for pid, found in self.run.pharmacy_npis.items() if found == npi), None)

    def member_rows(self, member_id: int) -> list[dict[str, Any]]:
        return [row for row in self.results if row["member_id"] == member_id]

    def measure_ids(self) -> list[str]:
        return sorted({str(row["measure_id"]) for row in self.results})


def build_program_view(
    store: Engine, program_id: str, year: int, today: date, *, now: datetime, backend: str = "duckdb"
) -> ProgramView:
    """Run the program year over the store through the program-year services."""
    started = time.monotonic()
    con, contract, inputs = open_program(store, program_id, year, backend)
    run = compute_payments(inputs, contract)
    gap_results, pdc_results = evaluate_gap_measures(inputs.tables, contract)
    worklist = compute_worklist(
        con,
        inputs,
        contract,
        today,
        gap_results=gap_results,
        pdc_results=pdc_results,
        outreach_rows=read_outreach(store),
    ).to_pylist()
    results: list[dict[str, Any]] = []
    for part in (inputs.measure_results, gap_results, pdc_results):
        if part is not None:
            results += part.select(*MEMBER_RESULT_COLUMN_NAMES).to_pyarrow().to_pylist()
    return ProgramView(
        program_id,
        year,
        today,
        now,
        round(time.monotonic() - started, 2),
        contract,
        run,
        inputs,
        con,
        worklist,
        results,
    )


class ProgramViews:
    """The latest ``ProgramView``, rebuilt in one background thread after each relevant write."""

    def __init__(
        self,
        store: Engine,
        program_id: str,
        *,
        today: Callable[[], date],
        now: Callable[[], datetime],
        year: int | None = None,
        backend: str = "duckdb",
    ) -> None:
        self.store = store
        self.program_id = program_id
        self.year = year
        self.backend = backend
        self._today = today
        self._now = now
        self._lock = threading.Condition()
        self._view: ProgramView | None = None
        self._building = False
        self._again = False
        self.error: str | None = None
        self.builds = 0

    def current(self) -> ProgramView | None:
        """The latest view; the first call starts building one."""
        with self._lock:
            if self._view is None and not self._building and self.error is None:
                self._start()
            return self._view

    def refresh(self) -> None:
        """A write changed the inputs: build again (once more if a build is already running)."""
        with self._lock:
            self.error = None
            if self._building:
                self._again = True
            else:
                self._start()

    def wait(self, timeout: float = 120.0) -> ProgramView | None:
        """Block until no build is running (tests, and API callers that ask ``wait=true``)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._view is None and not self._building and self.error is None:
                self._start()
            while self._building and time.monotonic() < deadline:
                self._lock.wait(timeout=max(0.01, deadline - time.monotonic()))
            return self._view

    def status(self) -> dict[str, Any]:
        with self._lock:
            view = self._view
            return {
                "program": self.program_id,
                "year": view.year if view else self.year,
                "computed_at": view.computed_at.isoformat() if view else None,
                "seconds": view.seconds if view else None,
                "building": self._building,
                "error": self.error,
            }

    def _start(self) -> None:
        self._building = True
        threading.Thread(target=self._build_loop, name="openvbc-program-view", daemon=True).start()

    def _build_loop(self) -> None:
        while True:
            today = self._today()
            year = self.year or today.year
            try:
                view: ProgramView | None = build_program_view(
                    self.store, self.program_id, year, today, now=self._now(), backend=self.backend
                )
                error = None
            except Exception as failure:  # the page shows it; the next write retries
                view, error = None, f"{BUILD_FAILED}: {type(failure).__name__}: {failure}"[:500]
            with self._lock:
                self.builds += 1
                if view is not None:
                    self._view = view
                self.error = error
                if not self._again:
                    self._building = False
                    self._lock.notify_all()
                    return
                self._again = False


# --- pharmacy home ------------------------------------------------------------------------------


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def summarize_statement(view: ProgramView, pharmacy_id: int, keys: Mapping[int, str]) -> dict[str, Any]:
    """A pharmacy's projected statement: lines with their members and clause, scores, gate."""
    statement = view.run.statement_for(pharmacy_id)
    if statement is None:
        return {"total": "0.00", "lines": [], "scores": [], "clinical": None, "engagement": None}
    scores = [
        {
            "key": s.target.key,
            "label": s.target.label,
            "target_percent": round(float(s.target.target * 100), 1),
            "denominator": s.denominator,
            "numerator": s.numerator,
            "rate_percent": None if s.rate is None else round(float(s.rate * 100), 1),
            "status": s.status,
            "reason": s.reason,
            "members_needed": s.members_needed,
        }
        for s in statement.scores
    ]
    count = view.run.engagement.get(pharmacy_id)
    engagement = None
    if count is not None and view.contract.tier2 is not None:
        engagement = {
            "population": count.population,
            "engaged": len(count.engaged),
            "share_percent": round(float(count.share * 100), 1),
            "needed": c.engaged_needed(view.contract.tier2, count),
        }
    lines = [
        {
            "component": line.component,
            "description": line.description,
            "quantity": line.quantity,
            "unit_amount": _money(line.unit_amount),
            "amount": _money(line.amount),
            "clause": line.clause,
            "evidence": line.evidence,
            "members": [keys.get(m, str(m)) for m in line.member_ids],
        }
        for line in statement.lines
    ]
    clinical = None
    if statement.clinical is not None:
        clinical = {
            "met": statement.clinical.met,
            "measures_met": statement.clinical.measures_met,
            "measures_scored": statement.clinical.measures_scored,
            "reason": statement.clinical.reason,
        }
    return {
        "total": _money(statement.total),
        "lines": lines,
        "scores": scores,
        "clinical": clinical,
        "engagement": engagement,
    }


def worth_of_one_more(view: ProgramView, pharmacy_id: int) -> list[dict[str, Any]]:
    """Per benchmark: what the pharmacy's payment gains if one more member meets it.

    The what-if simulator (``program_year.simulate``) is run with one of the pharmacy's
    members in the denominator but not the numerator turned into a numerator member.
    """
    key = str(pharmacy_id)
    if key in view._worth:
        return view._worth[key]
    statement = view.run.statement_for(pharmacy_id)
    members = set(view.run.attributed.get(pharmacy_id, ()))
    out: list[dict[str, Any]] = []
    for score in statement.scores if statement else ():
        target = score.target
        candidate = next(
            (
                int(row["member_id"])
                for row in sorted(view.results, key=lambda r: int(r["member_id"]))
                if row["measure_id"] == target.measure_id
                and str(row["group_id"]) == target.group_id
                and int(row["member_id"]) in members
                and row["denominator"]
                and not row["denominator_exclusion"]
                and not row["denominator_exception"]
                and not row["numerator"]
            ),
            None,
        )
        if candidate is None:
            out.append({"key": target.key, "label": target.label, "worth": None, "why": "no open gap"})
            continue
        with view.lock:
            changes = simulate(view.inputs, view.contract, outcomes={(candidate, target.key): True})
        change = next((ch for ch in changes if ch.pharmacy_id == pharmacy_id), None)
        worth = change.change if change else c.ZERO
        out.append({"key": target.key, "label": target.label, "worth": _money(worth), "why": score.reason})
    view._worth[key] = out
    return out


def list_pharmacy_worklist(view: ProgramView, pharmacy_id: int) -> list[dict[str, Any]]:
    """The pharmacy's ranked rows (engine order) with their reasons."""
    return [row for row in view.worklist if row["pharmacy_id"] == pharmacy_id]


def run_what_if(
    view: ProgramView,
    *,
    targets: Mapping[str, Decimal] | None = None,
    outcomes: Mapping[tuple[int, str], bool] | None = None,
) -> list[PharmacyChange]:
    with view.lock:
        return simulate(view.inputs, view.contract, targets=targets, outcomes=outcomes)


def compute_view_roi(view: ProgramView) -> Any:
    """ROI of the program year (``services.roi``) over the view's engine inputs, or None."""
    from openvbc.services.roi import compute_roi

    if view.contract.targeting is None or view.inputs.targeting is None:
        return None
    with view.lock:
        return compute_roi(view.con, view.inputs, view.contract)


# --- MTM encounter ------------------------------------------------------------------------------


def list_dtp_choices() -> dict[str, Any]:
    """Problems and interventions the pharmacist may code (rules/pharmacist/dtp_valueset.yaml)."""
    valueset = load_dtp_valueset()
    return {
        "version": valueset.version,
        "problems": sorted(valueset.problems.items(), key=lambda item: item[1]),
        "interventions": sorted(valueset.interventions.items(), key=lambda item: item[1]),
    }


def preview_mtm_claim(
    connection: Connection,
    *,
    member_id: int,
    pharmacy_npi: str,
    service_date: date,
    minutes: int,
    kind: str,
    contract: c.ProgramContract | None,
) -> dict[str, Any]:
    """The claim lines an encounter will produce (837P coding + charge master) and the program fee."""
    rule = load_mtm_unit_rule()
    fees = load_fee_schedule()
    earlier = connection.execute(
        select(mtm_encounter.c.service_date).where(
            mtm_encounter.c.member_id == member_id, mtm_encounter.c.pharmacy_npi == pharmacy_npi
        )
    ).scalars()
    status = classify_patient_status(service_date, list(earlier), rule.new_patient_lookback_days)
    coding = code_mtm_encounter(minutes, status, kind, rule)
    lines: list[dict[str, Any]] = []
    for line in coding.lines:
        charge = Decimal(fees.charges[line.code]) * line.units if line.code in fees.charges else None
        lines.append(
            {
                "code": line.code,
                "units": line.units,
                "modifiers": list(line.modifiers),
                "charge": None if charge is None else _money(charge),
            }
        )
    program_fee = None
    if contract is not None and contract.encounter_fees is not None and kind in contract.encounter_fees.kinds:
        program_coding = code_mtm_encounter(minutes, status, kind, contract.encounter_fees.unit_rule)
        amount, how = c.price_encounter(
            contract.encounter_fees, minutes, [(line.code, line.units) for line in program_coding.lines]
        )
        program_fee = {"amount": _money(amount), "how": how, "clause": contract.encounter_fees.clause}
    return {
        "minutes": minutes,
        "patient_status": status,
        "lines": lines,
        "reason": coding.reason,
        "total_charge": _money(sum((Decimal(str(x["charge"] or "0")) for x in lines), Decimal(0))),
        "program_fee": program_fee,
        "rule": f"billing/mtm_units (rounding {rule.rounding}), fee schedule {fees.version}",
    }


def member_id_of(connection: Connection, member_key: str) -> int | None:
    found = connection.execute(select(member.c.member_id).where(member.c.member_key == member_key)).scalar()
    return None if found is None else int(found)


# --- member chart -------------------------------------------------------------------------------


def describe_member_gaps(view: ProgramView | None, member_id: int) -> list[dict[str, Any]]:
    """The member's measure results from the population run: open gaps first."""
    if view is None:
        return []
    rows = []
    for row in view.member_rows(member_id):
        if not row["denominator"]:
            continue
        excluded = bool(row["denominator_exclusion"] or row["denominator_exception"])
        state = "excluded" if excluded else ("met" if row["numerator"] else "open gap")
        rows.append({**row, "state": state})
    rows.sort(key=lambda r: (r["state"] != "open gap", r["measure_id"], str(r["group_id"])))
    return rows


def list_member_keys(connection: Connection, member_ids: Sequence[int]) -> dict[int, str]:
    if not member_ids:
        return {}
    query = select(member.c.member_id, member.c.member_key).where(member.c.member_id.in_(list(member_ids)))
    return {int(row[0]): str(row[1]) for row in connection.execute(query)}


# --- care management ----------------------------------------------------------------------------


def start_ccm_timer(
    connection: Connection, *, member_key: str, staff_id: str, role: str, now: datetime
) -> int:
    """``ccm_time.start_timer``'s steps inside the caller's (audited) transaction."""
    from openvbc.services.ccm_time import find_member_id, insert_time_entry, lock_person

    lock_person(connection, staff_id)
    return insert_time_entry(
        connection,
        member_id=find_member_id(connection, member_key),
        staff_id=staff_id,
        role=role,
        service="ccm",
        source="timer",
        start_at=now.replace(microsecond=0),
        end_at=None,
        activity=None,
        now=now,
    )


def preview_ccm_month(connection: Connection, month: str, today: date) -> list[dict[str, Any]]:
    """What each enrolled patient's month will bill if it ended ``today``: the month coder of
    ``services.ccm_billing`` run read-only (nothing stored; month end still bills for real)."""
    from datetime import timedelta

    from openvbc.domain.ccm_minutes import month_bounds
    from openvbc.rules.billing_schema import load_ccm_code_rule
    from openvbc.services import ccm_billing

    year, number = ccm_billing.parse_month(month)
    start, end = month_bounds(year, number)
    rule = load_ccm_code_rule(year)
    run = ccm_billing.CcmMonthRun(month, f"ccm_codes/{year}")
    out = []
    # The coder's per-patient step is private to ccm_billing; it is called as is so the
    # preview and the month-end bill cannot disagree (asked of its owner: a public preview).
    for enrolment in ccm_billing._billing_enrolments(
        connection, start.date(), (end - timedelta(days=1)).date()
    ):
        patient = ccm_billing._code_patient_month(connection, enrolment, year, number, rule, run)
        out.append(
            {**patient.as_dict(), "practice_npi": enrolment.get("practice_npi"), "to_date": str(today)}
        )
    return out

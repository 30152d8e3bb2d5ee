"""Use case: propose a medication synchronisation plan for a member, with its PDC effect.

Chronic medications are the member's maintenance drugs (``is_maintenance`` in the drug reference,
``openvbc.rules.loader.load_drug_reference``) filled in the 180 days up to today, one line per
ingredient (its latest fill). The arithmetic is :mod:`openvbc.domain.medsync` under
``rules/pharmacist/medsync.yaml``. The member's monthly copay per drug is the fill's cost share
(allowed − paid, scaled to 30 days) when the fill carries both amounts, else the rule file's default.

PDC effect, per PQA measure the member has target fills for (PDC-DR, PDC-RASA, PDC-STA), using the
numpy reference kernel (:func:`openvbc.engine.pdc_kernel.compute_member_coverage`, same overlap
shift as the engine): PDC to date; projected at the end of the year if no further fill is made;
projected if the sync plan is kept (short fills, then a standard supply on every sync date).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Engine, select

from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.domain.medsync import SyncMedication, SyncPlan, plan_sync
from openvbc.engine.pdc_kernel import compute_member_coverage
from openvbc.rules.loader import load_drug_reference
from openvbc.rules.pharmacist.loader import load_medsync_settings
from openvbc.store.tables import fill, member

LOOKBACK_DAYS = 180
PDC_MEASURES = ("PDC-DR", "PDC-RASA", "PDC-STA")
_UNBREAKABLE_FORMS = ("pen", "inhaler", "injection", "cream", "solution")


@dataclass
class MedSyncReport:
    member_key: str
    today: date
    plan: SyncPlan
    pdc: list[dict[str, Any]] = field(default_factory=list)
    rule_version: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "member_key": self.member_key,
            "today": self.today.isoformat(),
            "anchor_date": self.plan.anchor_date.isoformat(),
            "anchor_medication": self.plan.anchor_key,
            "rule_version": self.rule_version,
            "lines": [
                {
                    "medication": line.key,
                    "name": line.name,
                    "run_out": line.run_out.isoformat(),
                    "earliest_refill": line.earliest_refill.isoformat(),
                    "fill_on": line.fill_on.isoformat(),
                    "short_days": line.short_days,
                    "short_quantity": str(line.short_quantity),
                    "prorated_copay": str(line.prorated_copay),
                    "note": line.note,
                }
                for line in self.plan.lines
            ],
            "total_prorated_copay": str(self.plan.total_prorated_copay),
            "pdc": self.pdc,
        }


def plan_member_medsync(
    engine: Engine,
    member_key: str,
    *,
    today: date,
    anchor: str | None = None,
    anchor_date: date | None = None,
) -> MedSyncReport:
    settings = load_medsync_settings()
    drugs = load_drug_reference()
    with engine.connect() as conn:
        member_id = conn.execute(select(member.c.member_id).where(member.c.member_key == member_key)).scalar()
        if member_id is None:
            raise InvalidInput([InputIssue("command line", None, "--member", f"no member {member_key!r}")])
        fills = list(
            conn.execute(
                select(fill)
                .where(fill.c.member_id == member_id, fill.c.fill_date <= today)
                .order_by(fill.c.fill_date)
            ).mappings()
        )
    latest: dict[str, Any] = {}
    for row in fills:
        product = drugs.product(row["ndc11"])
        if (
            product is None
            or not product.is_maintenance
            or row["fill_date"] < today - timedelta(days=LOOKBACK_DAYS)
        ):
            continue
        latest[product.ingredients[0]] = row
    if not latest:
        raise InvalidInput(
            [
                InputIssue(
                    "store",
                    None,
                    "fill",
                    f"member {member_key} has no maintenance fills in the last {LOOKBACK_DAYS} days",
                )
            ]
        )
    medications = [
        _sync_medication(ingredient, row, drugs, settings.default_monthly_copay)
        for ingredient, row in sorted(latest.items())
    ]
    try:
        plan = plan_sync(medications, today, settings.rule, anchor_key=anchor, anchor_date=anchor_date)
    except ValueError as error:
        raise InvalidInput([InputIssue("command line", None, "--anchor", str(error))]) from None
    report = MedSyncReport(member_key, today, plan, rule_version=settings.version)
    report.pdc = _pdc_effect(fills, plan, drugs, today, settings.rule.standard_days_supply)
    return report


def _sync_medication(ingredient: str, row: Any, drugs: Any, default_copay: Decimal) -> SyncMedication:
    product = drugs.product(row["ndc11"])
    copay = default_copay
    if row["allowed_amount"] is not None and row["paid_amount"] is not None:
        share = Decimal(row["allowed_amount"]) - Decimal(row["paid_amount"])
        copay = (share * Decimal(30) / Decimal(row["days_supply"])).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
    return SyncMedication(
        key=ingredient,
        name=f"{ingredient} {product.strength}".strip(),
        ndc11=row["ndc11"],
        last_fill=row["fill_date"],
        days_supply=row["days_supply"],
        quantity=Decimal(str(row["quantity"])),
        monthly_copay=copay,
        breakable=not any(form in product.dose_form for form in _UNBREAKABLE_FORMS),
    )


def _pdc_effect(
    fills: list[Any], plan: SyncPlan, drugs: Any, today: date, standard_days: int
) -> list[dict[str, Any]]:
    year_start, year_end = date(today.year, 1, 1), date(today.year, 12, 31)
    out = []
    for measure in PDC_MEASURES:
        targets = drugs.target_ndcs(measure)
        actual = [
            (r["ndc11"], r["fill_date"], r["days_supply"])
            for r in fills
            if r["ndc11"] in targets and r["fill_date"] >= year_start
        ]
        if not actual:
            continue
        projected = list(actual)
        ingredients_in_measure = {drugs.product(ndc).ingredients[0] for ndc, _, _ in actual}
        for line in plan.lines:
            if line.key not in ingredients_in_measure:
                continue
            ndc = next(ndc for ndc, _, _ in actual if drugs.product(ndc).ingredients[0] == line.key)
            if line.short_days > 0:
                projected.append((ndc, line.fill_on, line.short_days))
            day = plan.anchor_date
            while day <= year_end:
                projected.append((ndc, day, standard_days))
                day += timedelta(days=standard_days)
        out.append(
            {
                "measure": measure,
                "threshold": drugs.threshold(measure),
                "pdc_to_date": _pdc(actual, drugs, today),
                "pdc_year_end_no_more_fills": _pdc(actual, drugs, year_end),
                "pdc_year_end_with_sync": _pdc(projected, drugs, year_end),
            }
        )
    return out


def _pdc(rows: list[tuple[str, date, int]], drugs: Any, end: date) -> float | None:
    """PDC of one member over [first fill, end], rounded to 4 places; None with no covered period."""
    rows = [r for r in rows if r[1] <= end]
    if not rows:
        return None
    ingredients = {
        name: n for n, name in enumerate(sorted({drugs.product(r[0]).ingredients[0] for r in rows}))
    }
    coverage = compute_member_coverage(
        [0] * len(rows),
        [ingredients[drugs.product(r[0]).ingredients[0]] for r in rows],
        [r[1].toordinal() for r in rows],
        [r[2] for r in rows],
        [end.toordinal()] * len(rows),
    )
    period = int(coverage.period_days[0])
    return round(int(coverage.covered_days[0]) / period, 4) if period > 0 else None

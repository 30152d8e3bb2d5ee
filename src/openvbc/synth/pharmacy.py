"""Pharmacy claims (fills) and the medication orders behind them.

Each chronic therapy is a *line* (member × drug); a line's fills are drawn as one matrix of
refill intervals (lines × max fills) so a whole chunk takes a handful of numpy calls. The
interval model: a latent per-member propensity ``a`` (Beta) sets the mean gap after a supply
runs out (``days_supply × (1 − a) / a``), a share of refills come early (overlap, which the PQA
shift rule pushes forward), and therapy can stop after any fill (non-persistence). Some lines
switch ingredient within the class, some use combination products, a few RAS-antagonist users
move to sacubitril/valsartan, and some therapies start in the last quarter (IPSD within the
last 90 days of the year).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openvbc.synth.arrays import (
    BoolArray,
    IntArray,
    choose,
    format_sequence_keys,
    rank_within,
    to_date32,
    to_timestamp,
)
from openvbc.synth.drugs import DrugCatalogue
from openvbc.synth.population import LINES_OF_BUSINESS, MemberBatch, PlanYear
from openvbc.synth.profile import Profile
from openvbc.synth.providers import ProviderNetwork

MAX_FILLS = 16  # enough 30-day fills for a year plus early refills


@dataclass
class TherapyLines:
    owner: IntArray
    product: IntArray  # first product of the line
    start: IntArray  # day of the first fill
    days_supply: IntArray
    last_fill: IntArray  # day of the last fill (NO fill → line dropped)


@dataclass
class FillRows:
    owner: IntArray
    day: IntArray
    product: IntArray
    days_supply: IntArray
    columns: dict[str, object]
    lines: TherapyLines
    drugs_per_member: IntArray


def draw_fills(
    rng: np.random.Generator,
    batch: MemberBatch,
    profile: Profile,
    network: ProviderNetwork,
    catalogue: DrugCatalogue,
    plan_year: PlanYear,
) -> FillRows:
    """All fills of the batch, sorted by member and date."""
    cfg = profile.section("pharmacy")
    share = cfg["therapy_share"]
    n, adult = batch.size, batch.age >= 18
    u = rng.random((8, n))
    rasa = adult & (
        (batch.htn & (u[0] < share["rasa_if_hypertensive"])) | (batch.dm & (u[1] < share["rasa_if_diabetic"]))
    )
    type2 = batch.dm & ~batch.dm_type1
    statin = adult & (
        (batch.dm & (u[2] < share["statin_if_diabetic"]))
        | (batch.htn & (batch.age >= 40) & (u[3] < share["statin_if_hypertensive_40_plus"]))
        | ((batch.age >= 45) & (u[4] < share["statin_other_45_plus"]))
    )
    combo = u[5] < share["combination_product_if_rasa"]
    plan: list[tuple[BoolArray, str]] = [
        (rasa & ~combo, "rasa"),
        (rasa & combo, "rasa_combo"),
        (
            adult & batch.htn & (u[6] < share["other_antihypertensive_if_hypertensive"]),
            "other_antihypertensive",
        ),
        (type2 & (u[7] < share["dr_if_diabetic"]), "dr"),
        (type2 & (rng.random(n) < share["second_dr_if_diabetic"]), "dr"),
        (batch.dm_type1 | (type2 & (rng.random(n) < share["insulin_if_type2"])), "insulin"),
        (statin, "statin"),
    ]
    extra = rng.poisson(profile.by_band("pharmacy", "other_maintenance_lines_by_band")[batch.band])
    for k in range(1, int(extra.max(initial=0)) + 1):
        plan.append((extra >= k, "other_maintenance" if k % 2 else "other_antihypertensive"))
    owners, products, alts, is_rasa = [], [], [], []
    for mask, group in plan:
        owner = np.flatnonzero(mask)
        ids, weights = catalogue.groups[group], catalogue.weights[group]
        owners.append(owner)
        products.append(ids[choose(rng, weights, len(owner))])
        alts.append(ids[choose(rng, weights, len(owner))])
        is_rasa.append(np.full(len(owner), group == "rasa"))
    owner = np.concatenate(owners)
    product = np.concatenate(products)
    alt = np.concatenate(alts)
    rasa_line = np.concatenate(is_rasa)
    lines = len(owner)

    # Switches: within the group to another product, or RAS antagonist → sacubitril/valsartan.
    switch = rng.random(lines) < share["switch_ingredient"]
    to_arni = rasa_line & (rng.random(lines) < share["sacubitril_valsartan_if_rasa"])
    arni = catalogue.groups["arni"]
    alt = np.where(to_arni, arni[rng.integers(0, len(arni), lines)], alt)
    switch_at = np.where(switch | to_arni, rng.integers(1, 7, lines), MAX_FILLS)

    ds_codes, ds_p = profile.weighted("pharmacy", "days_supply")
    ds_values = np.array([int(c) for c in ds_codes])
    ds_p_medicare = ds_p.copy()
    ds_p_medicare[-1] += cfg["medicare_90_day_extra"]
    medicare = batch.lob[owner] == LINES_OF_BUSINESS.index("medicare")
    ds = np.where(medicare, ds_values[choose(rng, ds_p_medicare, lines)], ds_values[choose(rng, ds_p, lines)])
    ds = np.where(np.isin(product, catalogue.groups["insulin"]), 30, ds)

    # First fill: existing therapy refills early in January; new therapy starts during the year;
    # a share starts in the last quarter (first fill within the last 90 days for some).
    ndays = plan_year.days
    prior = rng.random(lines) < cfg["prior_therapy_share"]
    late = ~prior & (rng.random(lines) < cfg["late_start_share"] / (1 - cfg["prior_therapy_share"]))
    start = np.where(
        prior,
        np.floor(rng.random(lines) * ds).astype(np.int64),
        np.where(
            late,
            rng.integers(ndays - 120, ndays - 5, lines),
            rng.integers(0, cfg["start_spread_days"], lines),
        ),
    )
    start = np.maximum(start, batch.start[owner])

    # Refill intervals: overlap (early) or gap after the supply runs out.
    a = batch.adherence[owner][:, None]
    mean_gap = ds[:, None] * (1 - a) / a
    gap = np.floor(rng.exponential(1.0, (lines, MAX_FILLS)) * mean_gap).astype(np.int64)
    early_cfg = cfg["early_refill_days"]
    early = rng.random((lines, MAX_FILLS)) < cfg["early_refill_share"]
    early_days = rng.integers(early_cfg["low"], early_cfg["high"] + 1, (lines, MAX_FILLS))
    interval = np.where(early, ds[:, None] - early_days, ds[:, None] + gap)
    interval[:, 0] = 0
    day = start[:, None] + np.cumsum(interval, axis=1)
    fills_in_line = rng.geometric(cfg["discontinue_per_fill"], lines)
    index = np.arange(MAX_FILLS)[None, :]
    line_owner = np.broadcast_to(owner[:, None], day.shape)
    valid = (index < fills_in_line[:, None]) & (day < ndays)
    valid &= batch.covered(line_owner.ravel(), day.ravel()).reshape(day.shape)
    line_id = np.broadcast_to(np.arange(lines)[:, None], day.shape)[valid]
    fill_product = np.where(index >= switch_at[:, None], alt[:, None], product[:, None])[valid]
    fill_day = day[valid]
    fill_ds = ds[line_id]
    fill_owner = owner[line_id]
    last_fill = np.full(lines, -1, dtype=np.int64)
    np.maximum.at(last_fill, line_id, fill_day)

    # Acute fills (antibiotics and the like): short supplies at random covered days.
    acute_n = rng.poisson(profile.by_band("pharmacy", "acute_fills_mean_by_band")[batch.band])
    acute_owner = np.repeat(np.arange(n), acute_n)
    span = batch.end[acute_owner] - batch.start[acute_owner] + 1
    acute_day = batch.start[acute_owner] + np.floor(rng.random(len(acute_owner)) * span).astype(np.int64)
    keep = batch.covered(acute_owner, acute_day)
    acute_owner, acute_day = acute_owner[keep], acute_day[keep]
    acute_ids, acute_w = catalogue.groups["acute"], catalogue.weights["acute"]
    acute_product = acute_ids[choose(rng, acute_w, len(acute_owner))]
    acute_ds = rng.choice(np.array([5, 7, 10]), len(acute_owner))

    all_owner = np.concatenate([fill_owner, acute_owner])
    all_day = np.concatenate([fill_day, acute_day])
    all_product = np.concatenate([fill_product, acute_product])
    all_ds = np.concatenate([fill_ds, acute_ds])
    order = np.lexsort((all_product, all_day, all_owner))
    all_owner, all_day, all_product, all_ds = (
        all_owner[order],
        all_day[order],
        all_product[order],
        all_ds[order],
    )

    keep_lines = last_fill >= 0
    therapy = TherapyLines(
        owner=owner[keep_lines],
        product=product[keep_lines],
        start=start[keep_lines],
        days_supply=ds[keep_lines],
        last_fill=last_fill[keep_lines],
    )
    drugs = np.bincount(therapy.owner, minlength=n)
    columns = _fill_columns(
        rng, batch, profile, network, catalogue, plan_year, all_owner, all_day, all_product, all_ds
    )
    return FillRows(
        owner=all_owner,
        day=all_day,
        product=all_product,
        days_supply=all_ds,
        columns=columns,
        lines=therapy,
        drugs_per_member=drugs,
    )


def _fill_columns(
    rng: np.random.Generator,
    batch: MemberBatch,
    profile: Profile,
    network: ProviderNetwork,
    catalogue: DrugCatalogue,
    plan_year: PlanYear,
    owner: IntArray,
    day: IntArray,
    product: IntArray,
    ds: IntArray,
) -> dict[str, object]:

    m = len(owner)
    home = rng.random(m) < profile.section("providers", "home_pharmacy_share")
    pharmacy = np.where(home, batch.home_pharmacy[owner], choose(rng, network.pharmacy_weight, m))
    prescriber = batch.pcp[owner]
    prescriber = np.where(prescriber < 0, choose(rng, network.clinician_weight, m), prescriber)
    quantity = np.maximum(1.0, np.round(ds * catalogue.units_per_day[product], 1))
    allowed = np.round(
        quantity * catalogue.unit_price[product] + profile.section("drugs", "dispensing_fee"), 2
    )
    paid = np.round(allowed * profile.section("pharmacy", "paid_share"), 2)
    seq = rank_within(owner)
    return {
        "fill_key": format_sequence_keys("F", batch.number[owner], "", seq + 1, 4),
        "member_key": batch.keys(owner),
        "ndc": catalogue.ndc.take(pa.array(product)),
        "ingredient": catalogue.ingredient.take(pa.array(product)),
        "drug_class": catalogue.drug_class.take(pa.array(product)),
        "fill_date": to_date32(plan_year.first_day + day),
        "days_supply": pa.array(ds.astype(np.int32)),
        "quantity": pa.array(quantity),
        "pharmacy_npi": network.pharmacy_npi.take(pa.array(pharmacy)),
        "prescriber_npi": network.clinician_npi.take(pa.array(prescriber)),
        "allowed_amount": pa.array(allowed),
        "paid_amount": pa.array(paid),
    }


def build_order_columns(
    rng: np.random.Generator,
    batch: MemberBatch,
    fills: FillRows,
    network: ProviderNetwork,
    catalogue: DrugCatalogue,
    plan_year: PlanYear,
) -> dict[str, object]:
    """medication_orders.csv: one order per therapy line, written a few days before the first fill."""
    lines = fills.lines
    order = np.lexsort((lines.start, lines.owner))
    owner, product, start = lines.owner[order], lines.product[order], lines.start[order]
    ongoing = lines.last_fill[order] + lines.days_supply[order] >= plan_year.days - 1
    authored_day = start - rng.integers(0, 5, len(owner))
    authored = (plan_year.first_day + authored_day) * 86_400 + rng.integers(8 * 3600, 18 * 3600, len(owner))
    prescriber = batch.pcp[owner]
    prescriber = np.where(prescriber < 0, 0, prescriber)

    seq = rank_within(owner)
    return {
        "order_key": format_sequence_keys("R", batch.number[owner], "", seq + 1),
        "member_key": batch.keys(owner),
        "code_system": "rxnorm",
        "code": catalogue.rxnorm.take(pa.array(product)),
        "status": pc.if_else(pa.array(ongoing), "active", "completed"),
        "intent": "order",
        "authored_at": to_timestamp(authored),
        "start_date": to_date32(plan_year.first_day + start),
        "prescriber_npi": network.clinician_npi.take(pa.array(prescriber)),
        "source": "ehr",
    }

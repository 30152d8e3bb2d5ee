"""The naive baseline: CMS165 and PDC-STA as per-member pandas/Python loops (what most teams write first).

Same rules as the engine (openvbc.engine.measures.cms165 / exclusions, openvbc.engine.adherence),
written as plainly as possible: group each table by member, then for every member walk its rows
in Python. Used only by ``measures_bench.py`` on a 1 % member sample; its run time is scaled
x100 and its populations are compared with the engine's for the same members.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine.measures import exclusions as ex
from openvbc.engine.measures.common import resolve_value_sets, shift_months
from openvbc.services.measures import load_measure_rule

PERFORMED = {"finished", "arrived", "triaged", "in-progress", "onleave"}
DONE = {"final", "amended", "corrected"}
SYMPTOM = {"preliminary", "final", "amended", "corrected"}
ACTIVE = {"active", "recurrence", "relapse"}
ORDER = {"active", "completed"}
END_OF_TIME = date(9999, 12, 31)


# ----------------------------------------------------------------------------------- loading


def load_sample(plan: Path, every: int) -> dict[str, pd.DataFrame]:
    """Rows of the sampled members (member number divisible by ``every``) from every file."""
    members = pq.read_table(plan / "members.parquet", columns=["member_key"])["member_key"]
    numbers = pc.cast(pc.utf8_slice_codeunits(members, 1), "int64")
    keys = pc.filter(members, pc.equal(pc.multiply(pc.divide(numbers, every), every), numbers))
    out: dict[str, pd.DataFrame] = {}
    for name in (
        "members",
        "coverage",
        "fills",
        "conditions",
        "encounters",
        "observations",
        "procedures",
        "medication_orders",
        "claims",
        "claim_lines",
    ):
        files = [plan / f"{name}.parquet"] + [p for p in [plan / f"topup_{name}.parquet"] if p.exists()]
        dataset = (
            ds.dataset([str(f) for f in files], format="parquet")
            if len(files) > 1
            else ds.dataset(str(files[0]))
        )
        if name == "claim_lines":
            claims = out["claims"]["claim_key"].tolist()
            table = dataset.to_table(filter=ds.field("claim_key").isin(claims))
        else:
            table = dataset.to_table(filter=ds.field("member_key").isin(keys))
        out[name] = table.to_pandas()
    return out


def _day(value: Any) -> date | None:
    if value is None or pd.isna(value):
        return None
    return value.date() if isinstance(value, datetime | pd.Timestamp) else value


def _by_member(frame: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in frame.to_dict("records"):
        grouped[row["member_key"]].append({k: (None if _is_na(v) else v) for k, v in row.items()})
    return grouped


def _is_na(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((birth.month, birth.day) > (on.month, on.day))


# ---------------------------------------------------------------------------------------- CMS165


class Codes:
    """Value-set lookups for one rule: (system, code) -> names."""

    def __init__(self, rule: dict[str, Any]) -> None:
        self.by_name = resolve_value_sets(rule).by_name
        self.names: dict[tuple[str, str], set[str]] = defaultdict(set)
        for name, codes in self.by_name.items():
            for coding in codes:
                self.names[coding].add(name)

    def of(self, row: dict[str, Any]) -> set[str]:
        found = set(self.names.get((row.get("code_system"), row.get("code")), ()))  # type: ignore[arg-type]
        for coding in (row.get("additional_codes") or "").split(";"):
            if "|" in coding:
                system, code = coding.split("|", 1)
                found |= self.names.get((system, code), set())
        return found

    def value_in(self, row: dict[str, Any], name: str) -> bool:
        return (row.get("value_code_system"), row.get("value_code")) in self.by_name[name]


def _overlaps(start: date | None, end: date | None, low: date, high: date) -> bool:
    return start is not None and end is not None and start <= high and end >= low


def _during(start: date | None, end: date | None, low: date, high: date) -> bool:
    return start is not None and end is not None and start >= low and end <= high


def _prevalence(c: dict[str, Any]) -> tuple[date, date | None]:
    end = c["abatement_date"] or (END_OF_TIME if c["clinical_status"] in ACTIVE else None)
    return c["onset_date"] or date(1, 1, 1), end


def _cms165_member(
    member: dict[str, Any],
    facts: dict[str, dict[str, list[dict[str, Any]]]],
    codes: Codes,
    period: MeasurementPeriod,
    encounter_setting: dict[str, str],
) -> dict[str, bool]:
    """One member's CMS165 populations, walking the member's rows."""
    start, end = period.start, period.end
    half = shift_months(start, 6) - timedelta(days=1)
    year_before = shift_months(start, -12)
    discharge = {c for n in ex.HOSPICE_DISCHARGES for _, c in codes.by_name[n]}
    conditions, encounters = facts["conditions"], facts["encounters"]
    observations, procedures, orders = facts["observations"], facts["procedures"], facts["medication_orders"]
    key, birth = member["member_key"], _day(member["birth_date"])
    age = _age(birth, end) if birth else None
    conds = [dict(c, vs=codes.of(c), prev=_prevalence(c)) for c in conditions.get(key, [])]
    encs = [
        dict(e, vs=codes.of(e), d0=_day(e["start_at"]), d1=_day(e["end_at"])) for e in encounters.get(key, [])
    ]
    obs = [
        dict(
            o,
            vs=codes.of(o),
            d0=_day(o["effective_at"]),
            d1=_day(o["effective_end"] or o["effective_at"]),
        )
        for o in observations.get(key, [])
    ]
    procs = [
        dict(
            p,
            vs=codes.of(p),
            d0=_day(p["performed_start"]),
            d1=_day(p["performed_end"] or p["performed_start"]),
        )
        for p in procedures.get(key, [])
    ]
    meds = [dict(m, vs=codes.of(m)) for m in orders.get(key, [])]
    done = [e for e in encs if e["status"] in PERFORMED]

    def cond(name: str, low: date = start, high: date = end) -> bool:
        return any(name in c["vs"] and _overlaps(c["prev"][0], c["prev"][1], low, high) for c in conds)

    def enc_overlaps(name: str) -> bool:
        return any(name in e["vs"] and _overlaps(e["d0"], e["d1"] or end, start, end) for e in done)

    def survey(name: str) -> list[dict[str, Any]]:
        return [o for o in obs if name in o["vs"] and o["status"] in DONE and o["category"] == "survey"]

    def proc(name: str, kind: str, statuses: set[str]) -> list[dict[str, Any]]:
        return [p for p in procs if name in p["vs"] and p["kind"] == kind and p["status"] in statuses]

    htn = cond("Essential Hypertension", start, half)
    visit = any(
        any(n in e["vs"] for n in ex.QUALIFYING_OUTPATIENT) and _during(e["d0"], e["d1"], start, end)
        for e in done
    )
    hospice = (
        any(
            "Encounter Inpatient" in e["vs"]
            and e["discharge_disposition"] in discharge
            and e["d1"]
            and start <= e["d1"] <= end
            for e in done
        )
        or enc_overlaps("Hospice Encounter")
        or any(
            codes.value_in(o, ex.HOSPICE_YES) and _overlaps(o["d0"], o["d1"], start, end)
            for o in survey(ex.HOSPICE_ASSESSMENT)
        )
        or any(
            _during(p["d0"], p["d1"], start, end) for p in proc("Hospice Care Ambulatory", "ordered", ORDER)
        )
        or any(
            _overlaps(p["d0"], p["d1"], start, end)
            for p in proc("Hospice Care Ambulatory", "performed", {"completed"})
        )
        or cond("Hospice Diagnosis")
    )
    palliative = (
        any(_overlaps(o["d0"], o["d1"], start, end) for o in survey(ex.FACIT_PAL))
        or cond("Palliative Care Diagnosis")
        or enc_overlaps("Palliative Care Encounter")
        or any(
            _overlaps(p["d0"], p["d1"], start, end)
            for p in proc("Palliative Care Intervention", "performed", {"completed"})
        )
    )
    renal = (
        any(
            cond(n)
            for n in (
                "Pregnancy",
                "End Stage Renal Disease",
                "Kidney Transplant Recipient",
                "Chronic Kidney Disease, Stage 5",
            )
        )
        or any(
            p["d1"] and p["d1"] <= end
            for n in ("Kidney Transplant", "Dialysis Services")
            for p in proc(n, "performed", {"completed"})
        )
        or any("ESRD Monthly Outpatient Services" in e["vs"] and e["d0"] <= end for e in done)
    )
    frailty = (
        any(_during(p["d0"], p["d1"], start, end) for p in proc("Frailty Device", "device-order", ORDER))
        or any(
            codes.value_in(o, "Frailty Device") and start <= o["d1"] <= end for o in survey(ex.EQUIPMENT_USED)
        )
        or cond("Frailty Diagnosis")
        or enc_overlaps("Frailty Encounter")
        or any(
            "Frailty Symptom" in o["vs"]
            and o["status"] in SYMPTOM
            and _overlaps(o["d0"], o["d1"], start, end)
            for o in obs
        )
    )
    illness = any("Advanced Illness" in c["vs"] and year_before <= c["prev"][0] <= end for c in conds) or any(
        "Dementia Medications" in m["vs"]
        and m["status"] == "active"
        and m["intent"] == "order"
        and _overlaps(m["start_date"], m["end_date"], year_before, end)
        for m in meds
    )
    housing = sorted(
        (o for o in survey(ex.HOUSING_STATUS) if o["d1"] <= end),
        key=lambda o: (o["effective_end"] or o["effective_at"], o["observation_key"]),
    )
    # the engine breaks ties on the dense id (file order); the key order is the same here
    nursing = bool(housing) and codes.value_in(housing[-1], ex.LIVES_IN_NURSING_HOME)

    readings: dict[tuple[Any, ...], dict[str, Any]] = {}
    systolic = {c for _, c in codes.by_name["Systolic blood pressure"]}
    diastolic = {c for _, c in codes.by_name["Diastolic blood pressure"]}
    for o in obs:
        if not o["vs"] & {"Systolic blood pressure", "Diastolic blood pressure", "Blood pressure panel"}:
            continue
        setting = o["setting"] or encounter_setting.get(o["encounter_key"])
        if o["status"] not in DONE or setting in ("ed", "inpatient", "preadmission", "observation"):
            continue
        if not start <= o["d1"] <= end:
            continue
        value = o["value"] if o["unit"] in ("mm[Hg]", "mmHg") else None
        reading = readings.setdefault(
            (o["panel_key"], None if o["panel_key"] else o["effective_at"], o["d1"]),
            {"day": o["d1"], "sys": [], "dia": []},
        )
        if o["code"] in systolic and value is not None:
            reading["sys"].append(value)
        if o["code"] in diastolic and value is not None:
            reading["dia"].append(value)
    controlled = False
    if readings:
        last = max(r["day"] for r in readings.values())
        today = [r for r in readings.values() if r["day"] == last]
        if all(r["sys"] for r in today) and all(r["dia"] for r in today):
            controlled = min(min(r["sys"]) for r in today) < 140 and min(min(r["dia"]) for r in today) < 90
    ip = age is not None and 18 <= age <= 85 and htn and visit
    excluded = (
        hospice
        or palliative
        or renal
        or (age is not None and 66 <= age <= 80 and frailty and illness)
        or (age is not None and age >= 81 and frailty)
        or (age is not None and age >= 66 and nursing)
    )
    return {
        "initial_population": ip,
        "denominator_exclusion": ip and excluded,
        "numerator": ip and not excluded and controlled,
    }


def naive_cms165(
    sample: dict[str, pd.DataFrame], rule: dict[str, Any], period: MeasurementPeriod
) -> dict[str, dict[str, bool]]:
    """member_key -> populations, one member at a time."""
    codes = Codes(rule)
    names = ("conditions", "encounters", "observations", "procedures", "medication_orders")
    facts = {name: _by_member(sample[name]) for name in names}
    encounter_setting = {r["encounter_key"]: r["setting"] for r in sample["encounters"].to_dict("records")}
    return {
        member["member_key"]: _cms165_member(member, facts, codes, period, encounter_setting)
        for member in sample["members"].to_dict("records")
    }


# --------------------------------------------------------------------------------------- PDC-STA


def _coded_exclusion(
    spec: Any, exclusion: Any, member: dict[str, list[dict[str, Any]]], lines: dict[str, list[dict[str, Any]]]
) -> bool:
    """Any evidence of one exclusion (hospice, ESRD) dated in the period, looked up row by row."""
    start, end = spec.period.start, spec.period.end
    codes = {system: set(values) for system, values in exclusion.codes.items()}

    def coded(system: str | None, code: str | None) -> bool:
        if system is None or code is None or system not in codes:
            return False
        return (code.replace(".", "").upper() if system == "icd10cm" else code) in codes[system]

    for c in member["conditions"]:
        began = c["onset_date"] or c["recorded_date"]
        live = (began is None or began <= end) and (
            c["abatement_date"] is None or c["abatement_date"] >= start
        )
        valid = c["verification_status"] not in ("entered-in-error", "refuted")
        if live and valid and coded(c["code_system"], c["code"]):
            return True
    for e in member["encounters"]:
        d0, d1 = _day(e["start_at"]), _day(e["end_at"] or e["start_at"])
        if (
            d0 <= end
            and d1 >= start
            and (
                coded(e["code_system"], e["code"])
                or e["discharge_disposition"] in exclusion.discharge_dispositions
            )
        ):
            return True
    procedures = codes.get("cpt", set()) | codes.get("hcpcs", set())
    for claim in member["claims"]:
        overlaps = claim["from_date"] <= end and claim["to_date"] >= start
        diagnoses = (claim["diagnosis_codes"] or "").replace(".", "").split("|")
        if overlaps and any(d.upper() in codes.get("icd10cm", set()) for d in diagnoses if d):
            return True
        if (
            overlaps
            and (
                (claim["bill_type"] or "").rjust(4, "0")[:3] in exclusion.bill_type_prefixes
                or claim["discharge_status"] in exclusion.discharge_status
            )
            and (exclusion.bill_type_prefixes or exclusion.discharge_status)
        ):
            return True
        for line in lines.get(claim["claim_key"], []):
            if start <= line["service_date"] <= end and line["procedure_code"] in procedures:
                return True
    return False


def _covered_days(fills: list[dict[str, Any]], targets: set[str], first: date, last: date) -> int:
    """Shift each ingredient's fills past the previous supply, then count distinct covered days."""
    streams: dict[str, list[tuple[date, int, int]]] = defaultdict(list)
    for f in fills:
        ingredient = f["ingredient"].lower()
        if "|" not in ingredient:
            streams[ingredient].append((f["fill_date"], f["fill_key"], f["days_supply"]))
            continue
        named = [t for t in sorted(targets) if f"|{t}|" in f"|{ingredient}|"]
        for stream in named or [ingredient]:
            streams[stream].append((f["fill_date"], f["fill_key"], f["days_supply"]))
    covered: set[date] = set()
    for rows in streams.values():
        previous: date | None = None
        for day, _fill, supply in sorted(rows):
            begin = day if previous is None else max(day, previous + timedelta(days=1))
            previous = begin + timedelta(days=supply - 1)
            for offset in range(supply):
                covered.add(begin + timedelta(days=offset))
    return sum(1 for d in covered if first <= d <= last)


def naive_pdc(
    sample: dict[str, pd.DataFrame], rule: dict[str, Any], period: MeasurementPeriod
) -> dict[str, dict[str, bool]]:
    """member_key -> populations for a PDC measure, one member at a time."""
    from openvbc.engine.adherence import read_adherence_spec

    spec = read_adherence_spec(rule, period)
    start, end = period.start, period.end
    targets = {t.lower() for t in spec.target_ingredients}
    classes = [c.lower() for c in spec.target_classes]
    fills, coverage = _by_member(sample["fills"]), _by_member(sample["coverage"])
    facts = {name: _by_member(sample[name]) for name in ("conditions", "encounters", "claims")}
    lines = _by_member(sample["claim_lines"].assign(member_key=sample["claim_lines"]["claim_key"]))
    cutoff = (
        end.replace(year=end.year - spec.min_age)
        if (end.month, end.day) != (2, 29)
        else end.replace(year=end.year - spec.min_age, day=28)
    )
    out: dict[str, dict[str, bool]] = {}
    for member in sample["members"].to_dict("records"):
        key, death, birth = member["member_key"], _day(member["death_date"]), _day(member["birth_date"])
        mine = [
            f
            for f in fills.get(key, [])
            if start <= f["fill_date"] <= end
            and any(f"|{c}|" in f"|{(f['drug_class'] or '').lower()}|" for c in classes)
        ]
        if not mine:
            continue
        usable = [
            f
            for f in mine
            if f["days_supply"] is not None and f["days_supply"] > 0 and (f["ingredient"] or "") != ""
        ]
        alive = [f for f in usable if death is None or f["fill_date"] <= death]
        ip = covered_ok = False
        if alive:
            index = min(f["fill_date"] for f in alive)
            spans = sorted(
                (c["start_date"], c["end_date"] or date(9999, 12, 31))
                for c in coverage.get(key, [])
                if c["rx_benefit"] is not False
            )
            runs: list[list[date]] = []
            for begin, finish in spans:
                if runs and begin <= runs[-1][1] + timedelta(days=1 + spec.enrollment_gap_days):
                    runs[-1][1] = max(runs[-1][1], finish)
                else:
                    runs.append([begin, finish])
            through = [r[1] for r in runs if r[0] <= index <= r[1]]
            last = min(end, death or end, *(through or [end]))
            used = [f for f in usable if f["fill_date"] <= last]
            dates = {f["fill_date"] for f in used}
            days = (last - index).days + 1
            ip = bool(
                birth
                and birth <= cutoff
                and through
                and len(dates) >= spec.min_fills
                and days >= spec.min_treatment_days
            )
            covered = _covered_days(used, targets, index, last)
            covered_ok = covered * spec.threshold.denominator >= max(days, 0) * spec.threshold.numerator
        member_facts = {name: facts[name].get(key, []) for name in facts}
        excluded = any(_coded_exclusion(spec, e, member_facts, lines) for e in spec.exclusions)
        if spec.exclude_drug_classes or spec.exclude_ingredients:
            for f in fills.get(key, []):
                if not start <= f["fill_date"] <= end:
                    continue
                padded = f"|{(f['drug_class'] or '').lower()}|"
                parts = "|" + (f["ingredient"] or "").lower()
                if any(f"|{c.lower()}|" in padded for c in spec.exclude_drug_classes) or any(
                    f"|{p.lower()}" in parts for p in spec.exclude_ingredients
                ):
                    excluded = True
        out[key] = {
            "initial_population": ip,
            "denominator_exclusion": ip and excluded,
            "numerator": ip and not excluded and covered_ok,
        }
    return out


# ------------------------------------------------------------------------------------------- run


def _compare(naive: dict[str, dict[str, bool]], engine_file: Path, keys: set[str]) -> dict[str, int]:
    """Members whose populations differ between the naive loop and the engine (sampled members)."""
    engine = pq.read_table(engine_file).to_pylist()
    by_key = {f"M{int(r['member_id']):09d}": r for r in engine}
    differ = 0
    compared = 0
    for key in keys:
        mine = naive.get(key)
        theirs = by_key.get(key)
        if mine is None and theirs is None:
            continue
        compared += 1
        flags = ("initial_population", "denominator_exclusion", "numerator")
        got = tuple(bool(mine and mine[f]) for f in flags)
        want = tuple(bool(theirs and theirs[f]) for f in flags)
        differ += got != want
    return {"compared": compared, "differ": differ}


def run_sample(plan: Path, work: Path, year: int, every: int) -> dict[str, Any]:
    """Time the naive loops on the sample (data already in pandas) and check them against the engine."""
    period = MeasurementPeriod(date(year, 1, 1), date(year, 12, 31))
    started = time.perf_counter()
    sample = load_sample(plan, every)
    load_s = time.perf_counter() - started
    keys = set(sample["members"]["member_key"])
    out: dict[str, Any] = {
        "sample_members": len(keys),
        "load_s": round(load_s, 2),
        "seconds": {},
        "scaled_s": {},
        "agreement": {},
    }
    for measure, function in (("CMS165", naive_cms165), ("PDC-STA", naive_pdc)):
        rule = load_measure_rule(measure, year)
        started = time.perf_counter()
        result = function(sample, rule, period)
        seconds = time.perf_counter() - started
        out["seconds"][measure] = round(seconds, 2)
        out["scaled_s"][measure] = round(seconds * every, 1)
        out["agreement"][measure] = _compare(result, work / f"{measure}.engine.parquet", keys)
    return out

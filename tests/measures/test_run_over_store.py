"""`measures run` over a store loaded from the synthetic plan (2,000 members, seed 7, 2025).

The plan is generated once per module, imported into SQLite (run on DuckDB, the default) and
into PostgreSQL (run in place); both runs cover every measure of the engine registry,
quality measures and PQA PDC. Expectations for the planted edge-case members come from the
generator's manifest (``edge_cases``, worked out by hand in ``openvbc.synth.edge_cases``) and
the rules named next to each check.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, select

from openvbc.engine.canonical import MEMBER_RESULT_COLUMN_NAMES
from openvbc.engine.measure_report import POPULATION_COLUMNS
from openvbc.services.imports import import_path
from openvbc.services.measures import STORE_MEASURES, load_measure_rule, run_measures_over_store
from openvbc.store.database import open_engine
from openvbc.store.tables import member
from openvbc.synth.generator import generate_plan

YEAR = 2025
TODAY = date(2026, 1, 15)  # the import's "not in the future" check; the plan covers 2025
MEMBERS = 2_000
SEED = 7


@dataclass
class StoreRun:
    out: Path
    keys: dict[int, str]  # member_id -> member_key
    files: list[Path]

    def rows(self, measure: str) -> list[dict[str, Any]]:
        return pq.read_table(self.out / f"{measure}-{YEAR}-members.parquet").to_pylist()

    def by_key(self, measure: str, member_key: str) -> list[dict[str, Any]]:
        return [r for r in self.rows(measure) if self.keys[r["member_id"]] == member_key]

    def keyed_rows(self, measure: str) -> list[tuple[str, ...]]:
        """Rows with member_id replaced by member_key, sorted (ids are per-store surrogates)."""
        out = []
        for row in self.rows(measure):
            values = {**row, "member_id": self.keys[row["member_id"]]}
            out.append(tuple(str(values[c]) for c in MEMBER_RESULT_COLUMN_NAMES))
        return sorted(out)


def _run(engine: Engine, plan: Path, out: Path, backend: str) -> StoreRun:
    import_path(engine, plan, check_only=False, today=TODAY)
    summary = run_measures_over_store(engine, YEAR, out, measure_ids=STORE_MEASURES, backend=backend)
    with engine.connect() as connection:
        keys = {
            int(i): str(k) for i, k in connection.execute(select(member.c.member_id, member.c.member_key))
        }
    return StoreRun(out, keys, summary.files)


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The generated plan folder and its planted edge cases (case name -> member key)."""
    folder = tmp_path_factory.mktemp("plan")
    manifest = generate_plan(folder, MEMBERS, SEED, YEAR)
    return folder, {case["case"]: case["member_key"] for case in manifest.edge_cases}


@pytest.fixture(scope="module")
def sqlite_run(
    plan: tuple[Path, dict[str, str]], sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> StoreRun:
    # The `sqlite_engine` fixture's store (a copy of the migrated template), kept for the module
    # so the import and the eight measures run once for all the checks below.
    folder = tmp_path_factory.mktemp("sqlite_store")
    shutil.copyfile(sqlite_template, folder / "openvbc.db")
    engine = open_engine(f"sqlite:///{folder / 'openvbc.db'}")
    try:
        return _run(engine, plan[0], folder / "out", "duckdb")
    finally:
        engine.dispose()


def test_every_output_is_written(sqlite_run: StoreRun) -> None:
    for measure in STORE_MEASURES:
        for suffix in ("members.parquet", "members.csv", "rates.csv", "MeasureReport.json"):
            path = sqlite_run.out / f"{measure}-{YEAR}-{suffix}"
            assert path in sqlite_run.files and path.stat().st_size > 0, path
        assert sqlite_run.rows(measure), measure


@pytest.mark.parametrize("measure", STORE_MEASURES)
def test_populations_nest_and_rates_add_up(sqlite_run: StoreRun, measure: str) -> None:
    """Proportion-measure semantics, then the rates file and the summary report agree with the rows."""
    rows = sqlite_run.rows(measure)
    rates = list(csv.DictReader((sqlite_run.out / f"{measure}-{YEAR}-rates.csv").open()))
    report = json.loads((sqlite_run.out / f"{measure}-{YEAR}-MeasureReport.json").read_text())
    for group in report["group"]:
        in_group = [r for r in rows if r["group_id"] == group["id"]]
        for r in in_group:
            assert r["initial_population"] or not r["denominator"], r
            assert r["denominator"] or not (r["denominator_exclusion"] or r["denominator_exception"]), r
            assert not r["numerator"] or (r["denominator"] and not r["denominator_exclusion"]), r
        count = {code: sum(bool(r[col]) for r in in_group) for code, col in POPULATION_COLUMNS.items()}
        reported = {p["code"]["coding"][0]["code"]: p["count"] for p in group["population"]}
        assert {code: reported[code] for code in reported} == {code: count[code] for code in reported}
        eligible = (
            count["denominator"] - count["denominator-exclusion"] - count.get("denominator-exception", 0)
        )
        assert count["numerator"] <= eligible <= count["denominator"] <= count["initial-population"]
        overall = next(r for r in rates if r["group_id"] == group["id"] and r["dimension"] == "all")
        assert (int(overall["eligible"]), int(overall["numerator"])) == (eligible, count["numerator"])
        if eligible:
            # MeasureReport scores carry six decimals
            assert group["measureScore"]["value"] == pytest.approx(count["numerator"] / eligible, abs=5e-7)
        for dimension in {r["dimension"] for r in rates} - {"all"}:
            strata = [r for r in rates if r["group_id"] == group["id"] and r["dimension"] == dimension]
            assert sum(int(r["eligible"]) for r in strata) == eligible, dimension


@pytest.mark.parametrize("measure", STORE_MEASURES)
def test_every_row_explains_itself(sqlite_run: StoreRun, measure: str) -> None:
    rule = load_measure_rule(measure, YEAR)
    for row in sqlite_run.rows(measure):
        assert row["reason"] and row["evidence_source"], row
        assert (row["rule_file"], row["rule_version"]) == (
            f"measures/{measure}/{YEAR}.yaml",
            str(rule["version"]),
        )
        # a numerator met by a reading names it; CMS122's "no result in the period" has none
        if row["numerator"] and row["evidence_source"] != "none":
            assert row["evidence_value"] and row["evidence_date"], row
        if row["numerator"] and row["evidence_source"] == "none":
            assert measure == "CMS122" or row["group_id"] == "GSD-GT9", row


def _one(run: StoreRun, measure: str, member_key: str) -> dict[str, Any]:
    rows = run.by_key(measure, member_key)
    assert len(rows) == 1, (measure, member_key, rows)
    return rows[0]


def test_planted_blood_pressure_cases(sqlite_run: StoreRun, plan: tuple[Path, dict[str, str]]) -> None:
    """CMS165 v13: controlled = most recent day's lowest systolic < 140 and lowest diastolic < 90;
    readings from ED/inpatient encounters do not count."""
    cases = plan[1]
    exact = _one(sqlite_run, "CMS165", cases["bp_exactly_140_90"])
    assert (exact["denominator"], exact["numerator"]) == (True, False)
    assert exact["evidence_value"] == "140.0/90.0 mmHg"  # the 1 Dec reading, not the earlier 150/95
    ed_only = _one(sqlite_run, "CMS165", cases["bp_only_in_ed"])
    assert (ed_only["denominator"], ed_only["numerator"], ed_only["evidence_value"]) == (True, False, None)
    two = _one(sqlite_run, "CMS165", cases["bp_two_readings_last_day"])
    # 150/85 and 135/95 on 31 Dec: lowest systolic 135, lowest diastolic 85 -> controlled
    assert (two["numerator"], two["evidence_value"]) == (True, "135.0/85.0 mmHg")


def test_planted_glycemic_cases(sqlite_run: StoreRun, plan: tuple[Path, dict[str, str]]) -> None:
    """CMS122 v13: poor control = most recent result > 9.0 %; GSD < 8 % the mirror group."""
    cases = plan[1]
    nine = _one(sqlite_run, "CMS122", cases["a1c_exactly_9"])
    assert (nine["denominator"], nine["numerator"], nine["evidence_value"]) == (True, False, "9.0 %")
    gmi = _one(sqlite_run, "CMS122", cases["gmi_most_recent"])
    assert (gmi["numerator"], gmi["evidence_value"]) == (False, "7.4 %")  # the 20 Nov GMI, not 8.5 %
    gsd = {r["group_id"]: r for r in sqlite_run.by_key("GSD", cases["gmi_most_recent"])}
    assert (gsd["GSD-LT8"]["numerator"], gsd["GSD-GT9"]["numerator"]) == (True, False)


def test_planted_age_and_exclusion_cases(sqlite_run: StoreRun, plan: tuple[Path, dict[str, str]]) -> None:
    cases = plan[1]
    # CMS165 ages 18-85 at the end of the period (AgeInYearsAt)
    assert _one(sqlite_run, "CMS165", cases["age_85_at_year_end"])["initial_population"] is True
    assert _one(sqlite_run, "CMS165", cases["age_86_at_year_end"])["initial_population"] is False
    # hospice (incl. discharge to hospice) and ESRD exclude wherever the member is in a denominator
    for case, measures in (
        ("hospice", STORE_MEASURES),
        ("discharge_to_hospice", STORE_MEASURES),
        ("esrd", ("CMS165", "PDC-DR", "PDC-RASA", "PDC-STA")),
    ):
        rows = [r for m in measures for r in sqlite_run.by_key(m, cases[case]) if r["denominator"]]
        assert rows, case
        assert all(r["denominator_exclusion"] for r in rows), (case, [r["measure_id"] for r in rows])
    assert not any(r["denominator"] for m in STORE_MEASURES for r in sqlite_run.by_key(m, cases["no_claims"]))


def test_planted_adherence_cases(sqlite_run: StoreRun, plan: tuple[Path, dict[str, str]]) -> None:
    """PQA PDC: IPSD at least 91 days before year end; overlaps shift within an ingredient."""
    cases = plan[1]
    late = sqlite_run.by_key("PDC-STA", cases["first_fill_last_90_days"])
    assert not any(r["denominator"] for r in late)  # first fill 20 Oct: fewer than 91 days left
    cascade = _one(sqlite_run, "PDC-RASA", cases["overlap_cascade"])
    # 10 fills x 30 days from 2 Jan, shifted end to end: 300 covered days of the 364 from 2 Jan
    # to 31 Dec -> 0.824 >= 0.80
    assert (cascade["evidence_value"], cascade["numerator"]) == ("PDC 300/364", True)
    insulin = _one(sqlite_run, "PDC-DR", cases["insulin_user"])
    assert insulin["denominator_exclusion"] is True
    switch = _one(sqlite_run, "PDC-RASA", cases["sacubitril_switch"])
    assert switch["denominator_exclusion"] is True


def test_planted_tobacco_case(sqlite_run: StoreRun, plan: tuple[Path, dict[str, str]]) -> None:
    member_key = plan[1]["tobacco_quit"]
    screened = sqlite_run.by_key("CMS138", member_key)
    assert any(r["numerator"] for r in screened)  # screened in the period (group 1)
    assert _one(sqlite_run, "TOBACCO-FREE", member_key)["numerator"] is True


@pytest.mark.postgres
def test_postgres_in_place_matches_duckdb_over_sqlite(
    sqlite_run: StoreRun, postgres_engine: Engine, plan: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    postgres_run = _run(postgres_engine, plan[0], tmp_path / "out", "postgres")
    for measure in STORE_MEASURES:
        assert postgres_run.keyed_rows(measure) == sqlite_run.keyed_rows(measure), measure

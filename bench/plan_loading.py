"""Bench-local loading of a synthetic plan package (Parquet) into DuckDB canonical tables.

The store importer validates text rows one file at a time and writes them through SQLAlchemy;
at 1 M members that is an import benchmark of its own, not the measure engine's. Here the typed
Parquet files go straight into DuckDB with one ``CREATE TABLE ... AS SELECT`` per canonical
table, doing only what the loader does to the shape of the data: dense integer ids (members
numbered in key order, facts in file order), ``member_key``/``claim_key``/``encounter_key``
resolved to those ids, the NDC written as 11 digits, ``value`` renamed ``value_num``, claim
diagnosis lists split into ``claim_diagnosis`` rows. Integer columns are BIGINT, as
``services.engine_inputs`` hands them to the engine. Of ``fill`` only the columns a measure
reads are loaded (its 15 M unique ``fill_key`` strings, quantities and pharmacy NPIs serve
attribution and payments, not measures).

Top-up: the generator's 1 M-member plan has ~14.6 M fills, under the benchmark's 15 M floor.
:func:`write_top_up` adds documented, seeded, vectorised rows (see its docstring) as extra
Parquet files that the loader appends.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

TOP_UP_FILLS = "topup_fills.parquet"
TOP_UP_OBSERVATIONS = "topup_observations.parquet"

# Acute (non-maintenance) drugs for the fill top-up: short courses that no PDC class targets,
# as the generator's own acute fills are (profile: "Acute fills").
_ACUTE = (
    ("amoxicillin", "antibiotics", "99999100001"),
    ("azithromycin", "antibiotics", "99999100002"),
    ("ibuprofen", "nsaids", "99999100003"),
    ("prednisone", "corticosteroids", "99999100004"),
)


def _sql_path(folder: Path, name: str) -> str:
    return str(folder / name).replace("'", "''")


def _member_join(alias: str) -> str:
    return f"JOIN member_keys k ON k.member_key = {alias}.member_key"


def load_plan(con: Any, folder: Path) -> dict[str, int]:
    """Create the canonical tables from the package in ``folder``; return row counts per table."""
    p = lambda name: _sql_path(folder, name)  # noqa: E731 - a short local helper reads best here
    fills = [p("fills.parquet")] + ([p(TOP_UP_FILLS)] if (folder / TOP_UP_FILLS).exists() else [])
    observations = [p("observations.parquet")] + (
        [p(TOP_UP_OBSERVATIONS)] if (folder / TOP_UP_OBSERVATIONS).exists() else []
    )
    fill_files = "[" + ", ".join(f"'{f}'" for f in fills) + "]"
    obs_files = "[" + ", ".join(f"'{f}'" for f in observations) + "]"
    statements = [
        f"""CREATE OR REPLACE TEMP TABLE member_keys AS
            SELECT member_key, CAST(row_number() OVER (ORDER BY member_key) AS BIGINT) AS member_id
            FROM read_parquet('{p("members.parquet")}')""",
        f"""CREATE OR REPLACE TABLE member AS
            SELECT k.member_id, m.member_key, m.birth_date, m.sex, m.line_of_business, m.pcp_npi,
                   m.death_date
            FROM read_parquet('{p("members.parquet")}') m {_member_join("m")} ORDER BY k.member_id""",
        f"""CREATE OR REPLACE TABLE coverage AS
            SELECT CAST(row_number() OVER () AS BIGINT) AS coverage_id, c.coverage_key, k.member_id,
                   c.line_of_business, c.plan_code, c.start_date, c.end_date,
                   coalesce(c.rx_benefit, true) AS rx_benefit
            FROM read_parquet('{p("coverage.parquet")}') c {_member_join("c")}""",
        f"""CREATE OR REPLACE TABLE fill AS
            SELECT CAST(row_number() OVER () AS BIGINT) AS fill_id, k.member_id,
                   replace(f.ndc, '-', '') AS ndc11, f.ingredient, f.drug_class, f.fill_date,
                   CAST(f.days_supply AS BIGINT) AS days_supply
            FROM read_parquet({fill_files}) f {_member_join("f")} ORDER BY k.member_id, f.fill_date""",
        f"""CREATE OR REPLACE TABLE encounter AS
            SELECT CAST(row_number() OVER () AS BIGINT) AS encounter_id, e.encounter_key, k.member_id,
                   e.setting, e.code_system, e.code, e.additional_codes, coalesce(e.status, 'finished')
                   AS status, CAST(e.start_at AS TIMESTAMP) AS start_at, CAST(e.end_at AS TIMESTAMP)
                   AS end_at, e.discharge_disposition
            FROM read_parquet('{p("encounters.parquet")}') e {_member_join("e")}""",
        f"""CREATE OR REPLACE TABLE condition AS
            SELECT CAST(row_number() OVER () AS BIGINT) AS condition_id, c.condition_key, k.member_id,
                   c.code_system, c.code, c.additional_codes, c.category, c.clinical_status,
                   c.verification_status, c.onset_date, c.abatement_date, c.recorded_date
            FROM read_parquet('{p("conditions.parquet")}') c {_member_join("c")}""",
        f"""CREATE OR REPLACE TABLE observation AS
            SELECT CAST(row_number() OVER () AS BIGINT) AS observation_id, o.observation_key, k.member_id,
                   o.code_system, o.code, o.additional_codes, o.category, coalesce(o.status, 'final')
                   AS status, CAST(o.value AS DOUBLE) AS value_num, o.unit, o.value_code_system,
                   o.value_code, CAST(o.effective_at AS TIMESTAMP) AS effective_at,
                   CAST(o.effective_end AS TIMESTAMP) AS effective_end, o.panel_key,
                   e.encounter_id, o.setting
            FROM read_parquet({obs_files}) o {_member_join("o")}
            LEFT JOIN encounter e ON e.encounter_key = o.encounter_key""",
        f"""CREATE OR REPLACE TABLE procedure AS
            SELECT CAST(row_number() OVER () AS BIGINT) AS procedure_id, r.procedure_key, k.member_id,
                   r.code_system, r.code, r.additional_codes, coalesce(r.kind, 'performed') AS kind,
                   coalesce(r.status, 'completed') AS status,
                   CAST(r.performed_start AS TIMESTAMP) AS performed_start,
                   CAST(r.performed_end AS TIMESTAMP) AS performed_end
            FROM read_parquet('{p("procedures.parquet")}') r {_member_join("r")}""",
        f"""CREATE OR REPLACE TABLE medication_order AS
            SELECT CAST(row_number() OVER () AS BIGINT) AS medication_order_id, r.order_key, k.member_id,
                   r.code_system, r.code, r.additional_codes, r.status, coalesce(r.intent, 'order')
                   AS intent, CAST(r.authored_at AS TIMESTAMP) AS authored_at, r.start_date, r.end_date
            FROM read_parquet('{p("medication_orders.parquet")}') r {_member_join("r")}""",
        f"""CREATE OR REPLACE TABLE medical_claim AS
            SELECT CAST(row_number() OVER () AS BIGINT) AS claim_id, c.claim_key, k.member_id,
                   c.claim_type, c.billing_npi, c.from_date, c.to_date, c.place_of_service,
                   c.bill_type, c.discharge_status, c.diagnosis_codes
            FROM read_parquet('{p("claims.parquet")}') c {_member_join("c")}""",
        """CREATE OR REPLACE TABLE claim_diagnosis AS
            SELECT claim_id, CAST(generate_subscripts(codes, 1) AS BIGINT) AS sequence, member_id,
                   unnest(codes) AS code
            FROM (SELECT claim_id, member_id, string_split(replace(diagnosis_codes, '.', ''), '|') AS codes
                  FROM medical_claim WHERE diagnosis_codes IS NOT NULL AND diagnosis_codes <> '')""",
        f"""CREATE OR REPLACE TABLE claim_line AS
            SELECT CAST(row_number() OVER () AS BIGINT) AS claim_line_id, c.claim_id,
                   CAST(l.line_number AS BIGINT) AS line_number, c.member_id, l.procedure_code,
                   l.modifiers, l.service_date, CAST(l.units AS DOUBLE) AS units
            FROM read_parquet('{p("claim_lines.parquet")}') l
            JOIN medical_claim c ON c.claim_key = l.claim_key""",
        "DROP TABLE member_keys",
    ]
    for statement in statements:
        _execute(con, statement)
    names = ["member", "coverage", "fill", "encounter", "condition", "observation", "procedure"]
    names += ["medication_order", "medical_claim", "claim_diagnosis", "claim_line"]
    return {name: int(_execute(con, f"SELECT count(*) FROM {name}")[0][0]) for name in names}


def _execute(con: Any, sql: str) -> list[tuple[Any, ...]]:
    """Run SQL on the Ibis DuckDB backend and drain the result (DuckDB 2 refuses a new query on a
    connection with an unfinished one)."""
    rows: list[tuple[Any, ...]] = con.con.execute(sql).fetchall()
    return rows


def read_manifest(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return data


def write_top_up(folder: Path, min_fills: int, min_observations: int, seed: int, year: int) -> dict[str, int]:
    """Write extra rows so the plan reaches the benchmark's floors; return rows added per file.

    * Fills: acute short courses (amoxicillin, azithromycin, ibuprofen, prednisone; 5/7/10 days
      supply) for members drawn uniformly, dated uniformly in the year. No PDC class targets them,
      so they change no measure result; they make every pass over ``fill`` as long as the floor
      asks (the generator's acute-fill rate is the profile's assumption too).
    * Observations: extra ambulatory BP panels (systolic 8480-6 + diastolic 8462-4, shared
      ``panel_key``) on random days for members drawn uniformly: N(128, 15) / N(80, 10) mmHg.
      Unlike the fills, these can change CMS165 results (a later reading decides), as real
      extra readings would.
    Both are pure numpy draws from ``numpy.random.default_rng(seed + 1)``: the same seed gives
    the same rows.
    """
    manifest = read_manifest(folder)
    members = int(manifest["members"])
    rng = np.random.default_rng(seed + 1)
    start = (date(year, 1, 1) - date(1970, 1, 1)).days
    added = {"fills": 0, "observations": 0}
    have_fills = int(manifest["files"].get("fills.parquet", 0))
    if have_fills < min_fills:
        n = min_fills - have_fills
        member = rng.integers(1, members + 1, size=n)
        drug = rng.integers(0, len(_ACUTE), size=n)
        names = np.array([a[0] for a in _ACUTE], dtype=object)
        classes = np.array([a[1] for a in _ACUTE], dtype=object)
        ndcs = np.array([a[2] for a in _ACUTE], dtype=object)
        table = pa.table(
            {
                "fill_key": pa.array([f"FT{i:09d}" for i in range(n)]),
                "member_key": pa.array(np.char.add("M", np.char.zfill(member.astype(str), 9)).tolist()),
                "ndc": pa.array(ndcs[drug].tolist()),
                "ingredient": pa.array(names[drug].tolist()),
                "drug_class": pa.array(classes[drug].tolist()),
                "fill_date": pa.array((start + rng.integers(0, 365, size=n)).astype(np.int32), pa.date32()),
                "days_supply": pa.array(rng.choice([5, 7, 10], size=n).astype(np.int32)),
                "quantity": pa.array(rng.choice([10.0, 14.0, 20.0, 30.0], size=n)),
                "pharmacy_npi": pa.array(["1999999994"] * n),
            }
        )
        pq.write_table(table, folder / TOP_UP_FILLS)
        added["fills"] = n
    have_obs = int(manifest["files"].get("observations.parquet", 0))
    if have_obs < min_observations:
        panels = -(-(min_observations - have_obs) // 2)
        member = rng.integers(1, members + 1, size=panels)
        keys = np.char.add("M", np.char.zfill(member.astype(str), 9))
        seconds = (start + rng.integers(0, 365, size=panels)).astype(np.int64) * 86_400 + 36_000
        systolic = np.round(rng.normal(128, 15, size=panels))
        diastolic = np.round(rng.normal(80, 10, size=panels))
        ids = np.char.add("OT", np.char.zfill(np.arange(panels).astype(str), 9))
        both = lambda a, b: np.concatenate([a, b])  # noqa: E731
        n = 2 * panels
        table = pa.table(
            {
                "observation_key": pa.array(both(np.char.add(ids, "-S"), np.char.add(ids, "-D")).tolist()),
                "member_key": pa.array(both(keys, keys).tolist()),
                "code_system": pa.array(["loinc"] * n),
                "code": pa.array(["8480-6"] * panels + ["8462-4"] * panels),
                "category": pa.array(["vital-signs"] * n),
                "status": pa.array(["final"] * n),
                "value": pa.array(both(systolic, diastolic)),
                "unit": pa.array(["mm[Hg]"] * n),
                "effective_at": pa.array(both(seconds, seconds), pa.timestamp("s")),
                "panel_key": pa.array(both(np.char.add(ids, "-P"), np.char.add(ids, "-P")).tolist()),
                "setting": pa.array(["ambulatory"] * n),
                "source": pa.array(["ehr"] * n),
            }
        )
        # Same column set as the generator's file, missing columns as nulls of its types.
        schema = pq.read_schema(folder / "observations.parquet")
        columns = [
            table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(n, f.type)
            for f in schema
        ]
        pq.write_table(pa.Table.from_arrays(columns, schema=schema), folder / TOP_UP_OBSERVATIONS)
        added["observations"] = n
    return added

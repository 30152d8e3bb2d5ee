"""Use case: a pharmacy submits the clinical data it captured (BP, HbA1c, tobacco) to the plan.

Reads the ``observation`` rows the pharmacy recorded (``source = pharmacist``; MTM documentation
writes them) and writes them as a FHIR R4 Bundle of US Core Observations
(:mod:`openvbc.interop.fhir_submission`) or as the plan package's ``observations.csv`` (the exact
header of :data:`openvbc.interop.plan_package.OBSERVATIONS`). On the plan side both import with
``openvbc import`` through the one validated import path (``services.imports``).
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, select

from openvbc.domain.errors import UserError
from openvbc.interop.fhir_submission import build_observation_bundle
from openvbc.interop.plan_package import PACKAGE_FILES_BY_NAME
from openvbc.store.tables import member, mtm_encounter, observation

SubmissionFormat = Literal["fhir", "csv"]


@dataclass(frozen=True)
class SubmissionFile:
    out: str
    format: str
    observations: int
    members: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def export_clinical_submission(
    engine: Engine,
    fmt: SubmissionFormat,
    out: Path,
    *,
    now: datetime,
    pharmacy_npi: str | None = None,
    since: date | None = None,
) -> SubmissionFile:
    """Write the pharmacist-recorded observations (of one pharmacy, since a day) for the plan."""
    if out.exists():
        raise UserError(f"{out} already exists; submission files are never overwritten")
    rows = read_pharmacist_observations(engine, pharmacy_npi=pharmacy_npi, since=since)
    if fmt == "fhir":
        text = json.dumps(build_observation_bundle(rows, timestamp=now), indent=2) + "\n"
    else:
        text = render_observations_csv(rows)
    partial = out.with_name(out.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, out)
    return SubmissionFile(str(out), fmt, len(rows), len({r["member_key"] for r in rows}))


def read_pharmacist_observations(
    engine: Engine, *, pharmacy_npi: str | None = None, since: date | None = None
) -> list[dict[str, Any]]:
    query = (
        select(observation, member.c.member_key)
        .join(member, member.c.member_id == observation.c.member_id)
        .where(observation.c.source == "pharmacist")
        .order_by(observation.c.effective_at, observation.c.observation_key)
    )
    if since is not None:
        query = query.where(observation.c.effective_at >= datetime.combine(since, datetime.min.time()))
    if pharmacy_npi is not None:
        # Readings recorded at this pharmacy's MTM encounters (keys are mtm/<mtm_key>/...).
        keys = select(mtm_encounter.c.mtm_key).where(mtm_encounter.c.pharmacy_npi == pharmacy_npi)
        with engine.connect() as conn:
            prefixes = {f"mtm/{key}/" for key in conn.execute(keys).scalars()}
            rows = [dict(r) for r in conn.execute(query).mappings()]
        return [r for r in rows if any(str(r["observation_key"]).startswith(p) for p in prefixes)]
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def render_observations_csv(rows: list[dict[str, Any]]) -> str:
    columns = PACKAGE_FILES_BY_NAME["observations"].columns
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        values = {
            **{c: row.get(c) for c in columns},
            "value": _number_text(row.get("value_num")),
            "effective_at": row["effective_at"].isoformat(timespec="seconds"),
            "effective_end": row["effective_end"].isoformat(timespec="seconds")
            if row.get("effective_end")
            else None,
            "encounter_key": None,
        }
        writer.writerow(["" if values[c] is None else values[c] for c in columns])
    return buffer.getvalue()


def _number_text(value: Any) -> str | None:
    if value is None:
        return None
    number = float(value)
    return str(int(number)) if number.is_integer() else str(number)

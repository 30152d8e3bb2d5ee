"""Shared helpers of the registry tests."""

from __future__ import annotations

from sqlalchemy import Engine

from openvbc.interop.qpp.counts import MeasureCounts


def backend_of(engine: Engine) -> str:
    return "postgres" if engine.dialect.name == "postgresql" else "duckdb"


def populations_of(measure: MeasureCounts) -> dict[str, tuple[int, int, int, int, int]]:
    out = {}
    for s in measure.strata:
        p = s.populations
        out[s.stratum] = (
            p.initial_population,
            p.denominator,
            p.denominator_exclusion,
            p.denominator_exception,
            p.numerator,
        )
    return out

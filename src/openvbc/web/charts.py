"""Vega-Lite specs for the pages (data inline; rendered by static/app.js with vega-embed)."""

from __future__ import annotations

from typing import Any

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
BP_SYSTOLIC_LOINC = "8480-6"
BP_DIASTOLIC_LOINC = "8462-4"
HBA1C_LOINC = "4548-4"


def _base(title: str, values: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "$schema": SCHEMA,
        "title": title,
        "width": "container",
        "height": 160,
        "data": {"values": values},
    }


def blood_pressure_chart(observations: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Systolic and diastolic readings over time, with the 140/90 control line of CMS165."""
    names = {BP_SYSTOLIC_LOINC: "systolic", BP_DIASTOLIC_LOINC: "diastolic"}
    values = [
        {"date": str(row["effective_at"])[:10], "mmHg": row["value_num"], "reading": names[row["code"]]}
        for row in observations
        if row.get("code") in names and row.get("value_num") is not None
    ]
    if not values:
        return None
    spec = _base("Blood pressure (mm[Hg])", values)
    spec["layer"] = [
        {
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": {"field": "date", "type": "temporal"},
                "y": {"field": "mmHg", "type": "quantitative"},
                "color": {"field": "reading", "type": "nominal"},
            },
        },
        {
            "mark": {"type": "rule", "strokeDash": [4, 4]},
            "data": {"values": [{"y": 140}, {"y": 90}]},
            "encoding": {"y": {"field": "y", "type": "quantitative"}},
        },
    ]
    return spec


def a1c_chart(observations: list[dict[str, Any]]) -> dict[str, Any] | None:
    """HbA1c over time with the 9 % poor-control threshold of CMS122."""
    values = [
        {"date": str(row["effective_at"])[:10], "percent": row["value_num"]}
        for row in observations
        if row.get("code") == HBA1C_LOINC and row.get("value_num") is not None
    ]
    if not values:
        return None
    spec = _base("HbA1c (%)", values)
    spec["layer"] = [
        {
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": {"field": "date", "type": "temporal"},
                "y": {"field": "percent", "type": "quantitative"},
            },
        },
        {
            "mark": {"type": "rule", "strokeDash": [4, 4]},
            "data": {"values": [{"y": 9}]},
            "encoding": {"y": {"field": "y", "type": "quantitative"}},
        },
    ]
    return spec


def fill_timeline_chart(fills: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Each fill as a bar from fill date over its days supply, one row per drug class: gaps
    between bars are the days without medication that lower PDC."""
    values = [
        {
            "drug": row.get("drug_class") or row.get("ingredient") or row["ndc11"],
            "start": str(row["fill_date"]),
            "days": int(row["days_supply"]),
        }
        for row in fills
    ]
    if not values:
        return None
    spec = _base("Fills (days supply)", values)
    spec["transform"] = [{"calculate": "timeOffset('day', toDate(datum.start), datum.days)", "as": "end"}]
    spec["mark"] = "bar"
    spec["encoding"] = {
        "y": {"field": "drug", "type": "nominal"},
        "x": {"field": "start", "type": "temporal"},
        "x2": {"field": "end"},
    }
    return spec


def bar_chart(title: str, values: list[dict[str, Any]], x: str, y: str) -> dict[str, Any] | None:
    if not values:
        return None
    spec = _base(title, values)
    spec["mark"] = "bar"
    spec["encoding"] = {
        "x": {"field": x, "type": "quantitative"},
        "y": {"field": y, "type": "nominal", "sort": "-x"},
    }
    return spec

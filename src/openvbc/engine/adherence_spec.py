"""What a PDC measure reads from its rule file, and the names of its staged intermediates.

:func:`read_adherence_spec` resolves a PDC rule file (``rules/measures/PDC-*/<year>.yaml``) into
plain values; :func:`staged_key`, :func:`exclusion_key` and :func:`coverage_runs_key` name the
temporary tables ``adherence_staging`` makes once per run, by everything they depend on, so a
staged table is never used for another rule or period. Split from ``adherence`` to keep modules
small; ``adherence`` re-exports the names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine.adherence_exclusions import group_codes


@dataclass(frozen=True)
class ExclusionSpec:
    """Coded evidence that removes a member: value-set codes plus institutional-claim fields."""

    name: str
    codes: dict[str, list[str]]
    bill_type_prefixes: tuple[str, ...] = ()
    discharge_status: tuple[str, ...] = ()
    discharge_dispositions: tuple[str, ...] = ()


@dataclass(frozen=True)
class AdherenceSpec:
    """Everything a PDC measure reads from its rule file, resolved to plain values."""

    measure_id: str
    rule_file: str
    rule_version: str
    period: MeasurementPeriod
    target_classes: tuple[str, ...]
    target_ingredients: tuple[str, ...]
    threshold: Fraction
    min_fills: int = 2
    min_age: int = 18
    min_treatment_days: int = 91
    exclude_drug_classes: tuple[str, ...] = ()
    exclude_ingredients: tuple[str, ...] = ()
    enrollment_gap_days: int = 0
    inpatient_adjustment: bool = False
    inpatient_settings: tuple[str, ...] = ("inpatient", "snf")
    exclusions: tuple[ExclusionSpec, ...] = field(default_factory=tuple)


def _ingredients_of(classes: Sequence[str]) -> tuple[str, ...]:
    # Ingredient names come from the shipped drug-class file; imported lazily so the engine module
    # stays importable while that file is being edited.
    from openvbc.rules.loader import load_drug_reference

    defined = load_drug_reference().classes.classes
    return tuple(sorted({i.name for c in classes if c in defined for i in defined[c].ingredients}))


def _codes_of(oids: Sequence[str]) -> dict[str, list[str]]:
    from openvbc.rules.loader import load_value_set

    return group_codes(code for oid in oids for code in load_value_set(oid).codes)


def read_adherence_spec(rule: Mapping[str, Any], period: MeasurementPeriod | None = None) -> AdherenceSpec:
    """Resolve a PDC rule file (as loaded by ``load_measure_rule``) into an :class:`AdherenceSpec`."""
    params: Mapping[str, Any] = rule.get("parameters") or {}
    value_sets: Mapping[str, str] = rule.get("value_sets") or {}
    if period is None:
        window = rule["measurement_period"]
        period = MeasurementPeriod(window["start"], window["end"])
    target_classes = tuple(params.get("target_classes") or ())
    ingredients = params.get("target_ingredients")
    exclusions = []
    for name, spec in (params.get("exclusions") or {}).items():
        oids = [value_sets.get(ref, ref) for ref in spec.get("value_sets", [])]
        exclusions.append(
            ExclusionSpec(
                name=name,
                codes=_codes_of(oids),
                bill_type_prefixes=tuple(spec.get("bill_type_prefixes", ())),
                discharge_status=tuple(spec.get("discharge_status", ())),
                discharge_dispositions=tuple(spec.get("discharge_dispositions", ())),
            )
        )
    return AdherenceSpec(
        measure_id=str(rule["id"]),
        rule_file=f"measures/{rule['id']}/{rule['year']}.yaml",
        rule_version=str(rule["version"]),
        period=period,
        target_classes=target_classes,
        target_ingredients=tuple(ingredients) if ingredients is not None else _ingredients_of(target_classes),
        threshold=Fraction(str(params.get("threshold", "0.8"))),
        min_fills=int(params.get("min_fills", 2)),
        min_age=int(params.get("min_age", 18)),
        min_treatment_days=int(params.get("ipsd_min_days_before_end", 91)),
        exclude_drug_classes=tuple(params.get("exclude_drug_classes") or ()),
        exclude_ingredients=tuple(params.get("exclude_ingredients") or ()),
        enrollment_gap_days=int(params.get("enrollment_gap_days", 0)),
        inpatient_adjustment=bool(params.get("inpatient_adjustment", False)),
        inpatient_settings=tuple(params.get("inpatient_settings") or ("inpatient", "snf")),
        exclusions=tuple(exclusions),
    )


def staged_key(kind: str, spec: AdherenceSpec) -> str:
    """Name of a staged intermediate in the tables mapping (see ``adherence_staging``).

    The name carries everything the intermediate depends on (measure, period, classes,
    exclusion drugs, enrolment gap), so a staged table is never used for another rule or period.
    """
    signature = ";".join(
        [
            spec.measure_id,
            spec.period.start.isoformat(),
            spec.period.end.isoformat(),
            ",".join(spec.target_classes),
            ",".join(spec.exclude_drug_classes),
            ",".join(spec.exclude_ingredients),
            str(spec.enrollment_gap_days),
        ]
    )
    return f"__pdc_{kind}:{signature}__"


def exclusion_key(exclusion: ExclusionSpec, period: MeasurementPeriod) -> str:
    """Name of the staged members of one coded exclusion (same codes and period, same members)."""
    content = repr(
        (
            sorted((system, tuple(codes)) for system, codes in exclusion.codes.items()),
            exclusion.bill_type_prefixes,
            exclusion.discharge_status,
            exclusion.discharge_dispositions,
        )
    )
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()[:16]
    return f"__pdc_exclusion:{exclusion.name}:{period.start}:{period.end}:{digest}__"


def coverage_runs_key(allowed_gap_days: int) -> str:
    """Name of the staged merged coverage runs for an enrolment gap."""
    return f"__coverage_runs:{allowed_gap_days}__"

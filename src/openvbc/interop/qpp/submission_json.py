"""QPP Submissions API JSON (a submission with one quality measurement set per submission method).

Field names follow the QPP Submissions API documentation (CMSgov/qpp-submissions-docs, measurement
sets and measurements): ``entityType``, ``entityId`` (the TIN), ``nationalProviderIdentifier`` for
an individual, ``performanceYear``, and per measurement set ``category`` "quality",
``submissionMethod``, ``programName``, ``performanceStart`` / ``performanceEnd`` and
``measurements[].value`` with ``isEndToEndReported``, ``performanceMet``, ``performanceNotMet``,
``eligiblePopulation``, ``eligiblePopulationExclusion``, ``eligiblePopulationException``; multi-rate
measures carry ``value.strata[]`` with the same counts and a ``stratum`` name.
"""

from __future__ import annotations

from typing import Any

from openvbc.interop.qpp.counts import MeasureCounts, StratumCounts, SubmissionHeader, require_reconciled

COUNT_FIELDS = (
    "performanceMet",
    "performanceNotMet",
    "eligiblePopulation",
    "eligiblePopulationExclusion",
    "eligiblePopulationException",
)


def _counts(stratum: StratumCounts) -> dict[str, int]:
    return {
        "performanceMet": stratum.performance_met,
        "performanceNotMet": stratum.performance_not_met,
        "eligiblePopulation": stratum.eligible_population,
        "eligiblePopulationExclusion": stratum.eligible_population_exclusion,
        "eligiblePopulationException": stratum.eligible_population_exception,
    }


def _measurement(measure: MeasureCounts) -> dict[str, Any]:
    value: dict[str, Any] = {"isEndToEndReported": measure.submission_method == "electronicHealthRecord"}
    if measure.metric_type == "multiPerformanceRate":
        value["strata"] = [{"stratum": s.stratum, **_counts(s)} for s in measure.strata]
    else:
        value.update(_counts(measure.strata[0]))
    return {"measureId": measure.quality_id, "value": value}


def build_submission_json(header: SubmissionHeader, measures: list[MeasureCounts]) -> dict[str, Any]:
    """The submission document; refuses counts that do not reconcile (:class:`ReconciliationError`)."""
    require_reconciled(measures)
    document: dict[str, Any] = {
        "entityType": header.entity_type,
        "entityId": header.tin,
        "performanceYear": header.performance_year,
        "measurementSets": [],
    }
    if header.entity_type == "individual":
        document["nationalProviderIdentifier"] = header.npi
    methods = sorted({m.submission_method for m in measures})
    for method in methods:
        document["measurementSets"].append(
            {
                "category": "quality",
                "submissionMethod": method,
                "programName": header.program_name,
                "performanceStart": header.performance_start.isoformat(),
                "performanceEnd": header.performance_end.isoformat(),
                "measurements": [_measurement(m) for m in measures if m.submission_method == method],
            }
        )
    return document


def find_shape_problems(document: Any) -> list[str]:
    """Check a submission against the documented shape (types, required fields, count arithmetic)."""
    problems: list[str] = []
    if not isinstance(document, dict):
        return ["the submission must be a JSON object"]
    if document.get("entityType") not in ("individual", "group"):
        problems.append("entityType must be individual or group")
    entity_id = document.get("entityId")
    if not (isinstance(entity_id, str) and len(entity_id) == 9 and entity_id.isdigit()):
        problems.append("entityId must be a nine-digit TIN string")
    if document.get("entityType") == "individual":
        npi = document.get("nationalProviderIdentifier")
        if not (isinstance(npi, str) and len(npi) == 10 and npi.isdigit()):
            problems.append("nationalProviderIdentifier must be a ten-digit NPI string for an individual")
    if not isinstance(document.get("performanceYear"), int):
        problems.append("performanceYear must be an integer")
    sets = document.get("measurementSets")
    if not isinstance(sets, list) or not sets:
        return [*problems, "measurementSets must be a non-empty list"]
    for i, mset in enumerate(sets):
        where = f"measurementSets[{i}]"
        for key in ("category", "submissionMethod", "programName", "performanceStart", "performanceEnd"):
            if not isinstance(mset.get(key), str):
                problems.append(f"{where}.{key} must be a string")
        if mset.get("category") != "quality":
            problems.append(f"{where}.category must be quality")
        if mset.get("submissionMethod") not in ("electronicHealthRecord", "registry"):
            problems.append(f"{where}.submissionMethod is not one this registry uses")
        for j, measurement in enumerate(mset.get("measurements") or []):
            problems += _measurement_problems(measurement, f"{where}.measurements[{j}]")
        if not mset.get("measurements"):
            problems.append(f"{where}.measurements must be a non-empty list")
    return problems


def _measurement_problems(measurement: Any, where: str) -> list[str]:
    problems: list[str] = []
    if not isinstance(measurement.get("measureId"), str):
        problems.append(f"{where}.measureId must be a string")
    value = measurement.get("value")
    if not isinstance(value, dict) or not isinstance(value.get("isEndToEndReported"), bool):
        return [*problems, f"{where}.value.isEndToEndReported must be a boolean"]
    blocks = value.get("strata", [value])
    for k, block in enumerate(blocks):
        at = f"{where}.value.strata[{k}]" if "strata" in value else f"{where}.value"
        if "strata" in value and not isinstance(block.get("stratum"), str):
            problems.append(f"{at}.stratum must be a string")
        counts = [block.get(name) for name in COUNT_FIELDS]
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
            problems.append(f"{at}: {', '.join(COUNT_FIELDS)} must be non-negative integers")
            continue
        met, not_met, eligible, exclusion, exception = counts
        if met + not_met + exclusion + exception != eligible:
            problems.append(f"{at}: met + not met + exclusions + exceptions != eligiblePopulation")
        if met > eligible:
            problems.append(f"{at}: performanceMet exceeds eligiblePopulation")
    return problems

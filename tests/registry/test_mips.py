"""MIPS counts from the engine, attributed to a TIN or TIN/NPI; QPP JSON shape; QRDA III parse-back."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from openvbc.domain.errors import InvalidInput
from openvbc.interop.qpp.qrda3 import parse_qrda3
from openvbc.interop.qpp.submission_json import find_shape_problems
from openvbc.services.mips import compute_mips_counts, export_mips
from registry.mips_cases import EXPECTED_GROUP, EXPECTED_INDIVIDUAL_B, NPI_B, TIN, build_mips_world
from registry.mips_helpers import backend_of, populations_of

ENGINE_IDS = ("236", "001", "226")


def test_group_counts_match_hand_counts(store_engine: Engine) -> None:
    build_mips_world().insert_into(store_engine)
    counts = compute_mips_counts(store_engine, TIN, 2025, backend=backend_of(store_engine))
    found = {m.quality_id: populations_of(m) for m in counts.measures if m.quality_id in ENGINE_IDS}
    assert found == EXPECTED_GROUP
    by_id = {m.quality_id: m for m in counts.measures}
    bp = by_id["236"].strata[0]
    # eCQM: eligiblePopulation = DENOM 4, exclusion 1, met 1, notMet 4 - 1 - 0 - 1 = 2
    assert (
        bp.eligible_population,
        bp.eligible_population_exclusion,
        bp.performance_met,
        bp.performance_not_met,
    ) == (
        4,
        1,
        1,
        2,
    )
    assert by_id["001"].inverse is True and by_id["001"].strata[0].performance_not_met == 1


def test_individual_counts_keep_only_the_clinicians_patients(sqlite_engine: Engine) -> None:
    build_mips_world().insert_into(sqlite_engine)
    counts = compute_mips_counts(sqlite_engine, TIN, 2025, npi=NPI_B, include_registry_measures=False)
    assert {m.quality_id: populations_of(m) for m in counts.measures} == EXPECTED_INDIVIDUAL_B
    assert counts.header.entity_type == "individual"


def test_qpp_json_has_the_documented_shape(sqlite_engine: Engine, tmp_path: Path) -> None:
    build_mips_world().insert_into(sqlite_engine)
    out = tmp_path / "submission.json"
    export_mips(sqlite_engine, TIN, 2025, "qpp-json", out)
    document = json.loads(out.read_text())
    assert find_shape_problems(document) == []
    assert document["entityType"] == "group" and document["entityId"] == TIN
    assert document["performanceYear"] == 2025
    sets = {s["submissionMethod"]: s for s in document["measurementSets"]}
    assert set(sets) == {"electronicHealthRecord", "registry"}
    ehr = {m["measureId"]: m["value"] for m in sets["electronicHealthRecord"]["measurements"]}
    assert ehr["236"] == {
        "isEndToEndReported": True,
        "performanceMet": 1,
        "performanceNotMet": 2,
        "eligiblePopulation": 4,
        "eligiblePopulationExclusion": 1,
        "eligiblePopulationException": 0,
    }
    strata = {s["stratum"]: s for s in ehr["226"]["strata"]}
    assert set(strata) == {"screenedForUse", "intervention", "overall"}
    assert (
        strata["intervention"]["eligiblePopulation"] == 1 and strata["intervention"]["performanceNotMet"] == 1
    )
    assert sets["registry"]["performanceStart"] == "2025-01-01"
    for measurement in sets["registry"]["measurements"]:
        assert measurement["value"]["eligiblePopulationExclusion"] == 0  # registry: exclusions removed


def test_shape_check_names_broken_fields() -> None:
    broken = {
        "entityType": "team",
        "entityId": "12",
        "performanceYear": "2025",
        "measurementSets": [
            {
                "category": "quality",
                "submissionMethod": "registry",
                "programName": "mips",
                "performanceStart": "2025-01-01",
                "performanceEnd": "2025-12-31",
                "measurements": [
                    {
                        "measureId": "236",
                        "value": {
                            "isEndToEndReported": False,
                            "performanceMet": 5,
                            "performanceNotMet": 1,
                            "eligiblePopulation": 4,
                            "eligiblePopulationExclusion": 0,
                            "eligiblePopulationException": 0,
                        },
                    }
                ],
            }
        ],
    }
    problems = find_shape_problems(broken)
    assert "entityType must be individual or group" in problems
    assert "entityId must be a nine-digit TIN string" in problems
    assert "performanceYear must be an integer" in problems
    assert any("!= eligiblePopulation" in p for p in problems)
    assert any("performanceMet exceeds" in p for p in problems)


def test_qrda3_parses_back_to_the_engine_counts(store_engine: Engine, tmp_path: Path) -> None:
    build_mips_world().insert_into(store_engine)
    out = tmp_path / "qrda3.xml"
    summary = export_mips(
        store_engine,
        TIN,
        2025,
        "qrda3",
        out,
        backend=backend_of(store_engine),
        now=datetime(2026, 1, 15, 12, 0),
    )
    parsed = parse_qrda3(out.read_bytes())
    assert parsed.program == "MIPS_GROUP" and parsed.tin == TIN and parsed.period == ("20250101", "20251231")
    engine_measures = {m.qrda_version_specific_id: m for m in summary.measures if m.qrda_version_specific_id}
    assert {m.measure_reference for m in parsed.measures} == set(engine_measures)
    for parsed_measure in parsed.measures:
        measure = engine_measures[parsed_measure.measure_reference]
        for stratum in measure.strata:
            ids = stratum.population_ids or {}
            by_id = {p.population_id: (p.code, p.count) for p in parsed_measure.populations}
            p = stratum.populations
            expected = {
                "IPOP": p.initial_population,
                "DENOM": p.denominator,
                "DENEX": p.denominator_exclusion,
                "NUMER": p.numerator,
            }
            for code, count in expected.items():
                assert by_id[ids[code]] == (code, count), (measure.quality_id, stratum.stratum, code)


def test_qrda3_has_the_sample_structure(sqlite_engine: Engine, tmp_path: Path) -> None:
    """Our document and CMS's sample use the same templates, population codes and count template."""
    from lxml import etree

    build_mips_world().insert_into(sqlite_engine)
    out = tmp_path / "qrda3.xml"
    export_mips(sqlite_engine, TIN, 2025, "qrda3", out, now=datetime(2026, 1, 15, 12, 0))
    sample = Path(__file__).parents[1] / "data" / "qpp" / "Mvp_Mips-Ind-Sample.xml"
    ns = {"h": "urn:hl7-org:v3"}

    def templates(path: Path) -> set[str]:
        tree = etree.parse(str(path))
        return {str(root) for root in tree.xpath("//h:templateId/@root", namespaces=ns)}

    ours, theirs = templates(out), templates(sample)
    measure_templates = {
        "2.16.840.1.113883.10.20.27.1.1",
        "2.16.840.1.113883.10.20.27.2.1",
        "2.16.840.1.113883.10.20.27.2.3",
        "2.16.840.1.113883.10.20.27.3.1",
        "2.16.840.1.113883.10.20.27.3.5",
        "2.16.840.1.113883.10.20.27.3.3",
        "2.16.840.1.113883.10.20.27.3.14",
        "2.16.840.1.113883.10.20.17.3.8",
    }
    assert measure_templates <= ours and measure_templates <= theirs


def test_parser_reads_cms_samples() -> None:
    data = Path(__file__).parents[1] / "data" / "qpp"
    single = parse_qrda3((data / "Mvp_Mips-Ind-Sample.xml").read_bytes())
    assert single.program == "MIPS_INDIV" and single.npi == "0777777777" and single.tin == "000777777"
    counts = {p.code: p.count for p in single.measures[0].populations}
    assert counts == {"IPOP": 1000, "DENOM": 1000, "DENEXCEP": 100, "NUMER": 800}
    # 800 / (1000 - 100) = 0.888889, the rate written in the sample
    assert single.measures[0].performance_rates[0][1] == pytest.approx(800 / 900, abs=1e-6)
    multi = parse_qrda3((data / "MultiStrata_SinglePerformanceRate-sample.xml").read_bytes())
    numerators = [p.count for p in multi.measures[0].populations if p.code == "NUMER"]
    assert numerators == [800, 400]


def test_bad_tin_and_npi_are_named(sqlite_engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        export_mips(sqlite_engine, "12345", 2025, "qpp-json", tmp_path / "x.json", npi="1234567890")
    fields = {issue.field for issue in caught.value.issues}
    assert fields == {"--tin", "--npi"}

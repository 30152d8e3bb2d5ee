"""Shipped value sets and direct codes agree with the published eCQM content (tests/data/rules/SOURCE.md)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from openvbc.domain.codesystems import system_name_for_uri
from openvbc.rules.loader import (
    list_value_sets,
    load_direct_codes,
    load_value_set,
    oid_from,
)
from openvbc.rules.resources import RuleFileNotFound, read_rule_text

DATA = Path(__file__).resolve().parent.parent / "data" / "rules"


def _expansion_pairs(path: Path) -> tuple[str, frozenset[tuple[str, str]]]:
    resource = json.loads(path.read_text(encoding="utf-8"))
    pairs = frozenset(
        (system_name_for_uri(c["system"]) or c["system"], c["code"])
        for c in resource["expansion"]["contains"]
    )
    return resource["url"], pairs


@pytest.mark.parametrize(
    "file_name",
    [
        "valueset-2.16.840.1.113883.3.526.3.1259.json",
        "valueset-2.16.840.1.113883.3.464.1003.104.12.1011.json",
    ],
)
def test_value_set_matches_corpus_by_oid(file_name: str) -> None:
    url, expected = _expansion_pairs(DATA / file_name)
    # The CQL references http://cts.nlm.nih.gov/... while 1259's own url is https://: same OID, same set.
    http_url = url.replace("https://", "http://")
    assert load_value_set(http_url).codes == expected
    assert load_value_set(oid_from(url)).codes == expected


def test_value_set_carries_name_and_version() -> None:
    essential = load_value_set("2.16.840.1.113883.3.464.1003.104.12.1011")
    assert essential.name == "Essential Hypertension"
    assert essential.version == "20240106"  # ValueSet.version in the CMS165 bundle
    assert essential.contains("icd10cm", "I10")


def test_index_lists_every_value_set_with_provenance() -> None:
    infos = list_value_sets()
    # 59 value sets are referenced by the three measures and their libraries; 5 of CQMCommon's are not
    # in the corpus (see index.yaml not_shipped), so 54 ship.
    assert len(infos) == 54
    for info in infos:
        assert info.source_commit == "9ebd48ffebf2ed2489f3904cc8393ebf8979bfc9"
        assert info.license == "CC0-1.0"
        assert info.codes == len(load_value_set(info.oid).codes)


def test_unknown_value_set_is_a_clear_error() -> None:
    with pytest.raises(RuleFileNotFound, match=r"1\.2\.3\.4"):
        load_value_set("1.2.3.4")


def test_cpt_descriptors_are_not_shipped() -> None:
    # CPT descriptors are AMA copyright: codes ship, displays stay empty (style-and-ecosystem licence table).
    office_visit = load_value_set("2.16.840.1.113883.3.464.1003.101.12.1001")
    assert ("cpt", "99213") in office_visit.codes
    for info in list_value_sets():
        rows = csv.DictReader(io.StringIO(read_rule_text(f"valuesets/{info.oid}.csv")))
        assert all(row["display"] == "" for row in rows if row["system"] == "cpt")


_CODE_LINE = re.compile(r"^code \"(?P<name>[^\"]+)\": '(?P<code>[^']+)' from \"LOINC\"", re.MULTILINE)


def test_direct_codes_match_the_cql() -> None:
    cql = (DATA / "ControllingHighBloodPressureFHIR.cql").read_text(encoding="utf-8")
    declared = {m["name"]: ("loinc", m["code"]) for m in _CODE_LINE.finditer(cql)}
    assert declared == {
        "Diastolic blood pressure": ("loinc", "8462-4"),
        "Systolic blood pressure": ("loinc", "8480-6"),
    }
    codes = load_direct_codes()
    for name, pair in declared.items():
        assert codes[name] == pair
    assert codes["Glucose management indicator"] == ("loinc", "97506-0")
    assert codes["Hospice.Hospice care [Minimum Data Set]"] == ("loinc", "45755-6")
    # The BP panel is fixed by the QI-Core observation-bp profile, not declared in the CQL.
    assert codes["Blood pressure panel"] == ("loinc", "85354-9")
    # Tobacco smoking status reaches CMS138 through the "Tobacco Use Screening" value set.
    assert load_value_set("2.16.840.1.113883.3.526.3.1278").contains("loinc", "72166-2")

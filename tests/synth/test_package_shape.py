"""The generated files are a valid plan data package: headers, keys, NPIs, references."""

from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq

from openvbc.domain.npi import is_valid_npi
from openvbc.interop.plan_package import PACKAGE_FILES
from openvbc.synth.generator import generate_plan

from .generated import MEMBERS, GeneratedPlan


def test_every_file_has_the_exact_package_header(plan: GeneratedPlan) -> None:
    for spec in PACKAGE_FILES:
        with (plan.folder / spec.csv_name).open(newline="") as handle:
            assert next(csv.reader(handle)) == list(spec.columns), spec.name


def test_manifest_counts_match_the_files(plan: GeneratedPlan) -> None:
    manifest = json.loads((plan.folder / "manifest.json").read_text())
    assert manifest["members"] == MEMBERS and manifest["seed"] == 2024 and manifest["year"] == 2024
    for spec in PACKAGE_FILES:
        assert manifest["files"][spec.csv_name] == len(plan.frame(spec.name)), spec.name
    assert len(plan.frame("members")) == MEMBERS


def test_required_columns_are_filled_and_keys_unique(plan: GeneratedPlan) -> None:
    for spec in PACKAGE_FILES:
        frame = plan.frame(spec.name)
        for column in spec.required:
            assert frame[column].notna().all(), f"{spec.name}.{column} has empty cells"
        key = ["claim_key", "line_number"] if spec.key == "claim_key+line_number" else [spec.key]
        assert not frame.duplicated(key).any(), f"duplicate {spec.key} in {spec.name}"


def test_member_keys_and_npis_are_well_formed(plan: GeneratedPlan) -> None:
    members = plan.frame("members")
    assert members.member_key.str.fullmatch(r"M\d{9}").all()
    providers = plan.frame("providers")
    assert all(is_valid_npi(npi) for npi in providers.npi)
    assert providers.loc[providers.parent_npi.notna(), "parent_npi"].isin(providers.npi).all()
    clinicians = providers[providers.kind == "clinician"]
    assert clinicians.parent_npi.notna().all()


def test_references_point_at_existing_rows(plan: GeneratedPlan) -> None:
    members = set(plan.frame("members").member_key)
    npis = set(plan.frame("providers").npi)
    for name in (
        "coverage",
        "fills",
        "claims",
        "conditions",
        "encounters",
        "observations",
        "procedures",
        "medication_orders",
        "mtm_encounters",
        "adt_events",
    ):
        assert set(plan.frame(name).member_key) <= members, name
    fills = plan.frame("fills")
    assert set(fills.pharmacy_npi) <= npis and set(fills.prescriber_npi) <= npis
    assert set(plan.frame("claims").billing_npi) <= npis
    assert set(plan.frame("members").pcp_npi.dropna()) <= npis
    assert set(plan.frame("claim_lines").claim_key) <= set(plan.frame("claims").claim_key)
    encounter_keys = set(plan.frame("encounters").encounter_key)
    assert set(plan.frame("observations").encounter_key.dropna()) <= encounter_keys
    pharmacies = set(plan.frame("providers").query("kind == 'pharmacy'").npi)
    assert set(plan.frame("mtm_encounters").pharmacy_npi) <= pharmacies


def test_fill_drugs_come_from_the_ndc_reference(plan: GeneratedPlan) -> None:
    from openvbc.rules.resources import read_rule_text
    from openvbc.synth.drugs import read_ndc_reference

    reference = {row["ndc11"]: row for row in read_ndc_reference(read_rule_text("drugs/ndc_reference.csv"))}
    fills = plan.frame("fills").drop_duplicates("ndc")
    for row in fills.itertuples():
        assert row.ndc in reference
        assert row.ingredient == reference[row.ndc]["ingredient"]
        assert row.drug_class == reference[row.ndc]["drug_class"]


def test_dates_and_times_follow_the_package_conventions(plan: GeneratedPlan) -> None:
    fills = plan.frame("fills")
    assert fills.fill_date.str.fullmatch(r"2024-\d\d-\d\d").all()
    observations = plan.frame("observations")
    assert observations.effective_at.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d").all()


def test_parquet_has_the_same_columns(tmp_path) -> None:  # type: ignore[no-untyped-def]
    manifest = generate_plan(tmp_path, 150, seed=5, year=2025, fmt="parquet")
    for spec in PACKAGE_FILES:
        table = pq.read_table(tmp_path / f"{spec.name}.parquet")
        assert table.column_names == list(spec.columns)
        assert table.num_rows == manifest.files[f"{spec.name}.parquet"]

"""Holiday calendar against OPM, and drug-reference lookups for the PDC measures."""

from __future__ import annotations

from datetime import date

import pytest

from openvbc.rules.loader import load_drug_reference, load_holidays
from openvbc.rules.resources import RuleFileNotFound

# OPM, "2025 Federal Holidays" (https://www.opm.gov/policy-data-oversight/pay-leave/federal-holidays/#url=2025):
# Wed Jan 1, Mon Jan 20, Mon Feb 17, Mon May 26, Thu Jun 19, Fri Jul 4, Mon Sep 1, Mon Oct 13,
# Tue Nov 11, Thu Nov 27, Thu Dec 25.
OPM_2025 = {
    date(2025, 1, 1),
    date(2025, 1, 20),
    date(2025, 2, 17),
    date(2025, 5, 26),
    date(2025, 6, 19),
    date(2025, 7, 4),
    date(2025, 9, 1),
    date(2025, 10, 13),
    date(2025, 11, 11),
    date(2025, 11, 27),
    date(2025, 12, 25),
}


def test_2025_equals_opm_list() -> None:
    assert load_holidays(2025) == OPM_2025


def test_weekend_holidays_move_to_the_nearest_weekday() -> None:
    # By hand: 2026-07-04 is a Saturday -> Friday 2026-07-03; 2027-07-04 is a Sunday -> Monday 2027-07-05;
    # 2028-01-01 is a Saturday -> Friday 2027-12-31, a day off in calendar year 2027 (OPM lists it on the
    # 2028 page with that footnote).
    assert date(2026, 7, 3) in load_holidays(2026)
    assert date(2027, 7, 5) in load_holidays(2027)
    assert date(2027, 12, 31) in load_holidays(2027)
    assert date(2028, 1, 1) not in load_holidays(2028)
    for year in range(2024, 2029):
        assert all(day.weekday() < 5 for day in load_holidays(year))


def test_year_outside_the_calendar_is_an_error() -> None:
    with pytest.raises(RuleFileNotFound, match="2031"):
        load_holidays(2031)


def test_lookup_by_ndc_and_combination_products() -> None:
    reference = load_drug_reference()
    metformin = reference.product("99999000101")
    assert metformin is not None
    assert metformin.ingredients == ("metformin",)
    assert metformin.rxnorm_ingredients == ("6809",)
    assert metformin.source == "synthetic"
    combos = [p for p in reference.products.values() if p.ingredients == ("sitagliptin", "metformin")]
    assert combos and all(set(p.drug_classes) == {"dpp4_inhibitors", "biguanides"} for p in combos)
    assert reference.product("00000000000") is None


def test_every_class_ingredient_has_ndcs_and_all_ndcs_are_synthetic() -> None:
    reference = load_drug_reference()
    for class_id, spec in reference.classes.classes.items():
        in_class = reference.ndcs_in_class(class_id)
        assert in_class, class_id
        covered = {name for ndc in in_class for name in reference.products[ndc].ingredients}
        assert {ingredient.name for ingredient in spec.ingredients} <= covered, class_id
    assert all(ndc.startswith("99999") for ndc in reference.products)


def test_pdc_exclusions_are_not_targets() -> None:
    reference = load_drug_reference()
    for measure in ("PDC-DR", "PDC-RASA", "PDC-STA"):
        assert not reference.target_ndcs(measure) & reference.exclusion_ndcs(measure)
    insulin = {p.ingredients[0] for p in map(reference.products.get, reference.exclusion_ndcs("PDC-DR")) if p}
    assert "insulin glargine" in insulin
    entresto = [p for p in reference.products.values() if p.ingredients == ("sacubitril", "valsartan")]
    assert entresto and all(p.ndc11 in reference.exclusion_ndcs("PDC-RASA") for p in entresto)
    lisinopril_hctz = [p for p in reference.products.values() if p.ingredients[0] == "lisinopril"]
    assert all(p.ndc11 in reference.target_ndcs("PDC-RASA") for p in lisinopril_hctz)
    assert reference.threshold("PDC-STA") == 0.8
    with pytest.raises(RuleFileNotFound, match="PDC-XX"):
        reference.target_ndcs("PDC-XX")

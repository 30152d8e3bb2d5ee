"""Write ``rules/drugs/ndc_reference.csv``: a SYNTHETIC NDC reference for the PDC drug classes.

Real NDCs cannot be verified offline and PQA's NDC lists are licensed, so every NDC here uses the
labeler code 99999, a block we reserve as synthetic, with ``source=synthetic``. Ingredients, RxNorm
ingredient CUIs and classes come from ``drugs/drug_classes.yaml``. Run by hand; the output is committed::

    python -m openvbc.rules.tools.build_ndc_reference
"""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

SYNTHETIC_LABELER = "99999"
HEADER = [
    "ndc11",
    "ingredient",
    "rxnorm_ingredient",
    "drug_class",
    "strength",
    "dose_form",
    "is_maintenance",
    "source",
]
# Package codes: 01 = 30-count bottle, 03 = 90-count bottle (the usual 30/90-day supplies).
PACKAGES = ("01", "03")

# (ingredients, strengths, dose form, maintenance?, classes when not simply each ingredient's own class)
Product = tuple[tuple[str, ...], tuple[str, ...], str, bool, tuple[str, ...] | None]

PRODUCTS: list[Product] = [
    (("metformin",), ("500 mg", "1000 mg"), "oral tablet", True, None),
    (("glimepiride",), ("2 mg", "4 mg"), "oral tablet", True, None),
    (("glipizide",), ("5 mg", "10 mg"), "oral tablet", True, None),
    (("glyburide",), ("5 mg",), "oral tablet", True, None),
    (("pioglitazone",), ("15 mg", "30 mg"), "oral tablet", True, None),
    (("rosiglitazone",), ("4 mg",), "oral tablet", True, None),
    (("alogliptin",), ("25 mg",), "oral tablet", True, None),
    (("linagliptin",), ("5 mg",), "oral tablet", True, None),
    (("saxagliptin",), ("5 mg",), "oral tablet", True, None),
    (("sitagliptin",), ("50 mg", "100 mg"), "oral tablet", True, None),
    (("dulaglutide",), ("1.5 mg/0.5 mL",), "injection pen", True, None),
    (("exenatide",), ("2 mg",), "injection pen", True, None),
    (("liraglutide",), ("18 mg/3 mL",), "injection pen", True, None),
    (("lixisenatide",), ("20 mcg/dose",), "injection pen", True, None),
    (("semaglutide",), ("1 mg/dose", "7 mg"), "injection pen", True, None),
    (("tirzepatide",), ("5 mg/0.5 mL",), "injection pen", True, None),
    (("nateglinide",), ("120 mg",), "oral tablet", True, None),
    (("repaglinide",), ("1 mg",), "oral tablet", True, None),
    (("canagliflozin",), ("100 mg",), "oral tablet", True, None),
    (("dapagliflozin",), ("10 mg",), "oral tablet", True, None),
    (("empagliflozin",), ("10 mg", "25 mg"), "oral tablet", True, None),
    (("ertugliflozin",), ("5 mg",), "oral tablet", True, None),
    (("sitagliptin", "metformin"), ("50 mg/1000 mg",), "oral tablet", True, None),
    (("glipizide", "metformin"), ("5 mg/500 mg",), "oral tablet", True, None),
    (("empagliflozin", "metformin"), ("12.5 mg/1000 mg",), "oral tablet", True, None),
    (("insulin aspart",), ("100 unit/mL",), "injection pen", True, None),
    (("insulin degludec",), ("100 unit/mL",), "injection pen", True, None),
    (("insulin detemir",), ("100 unit/mL",), "injection pen", True, None),
    (("insulin glargine",), ("100 unit/mL",), "injection pen", True, None),
    (("insulin lispro",), ("100 unit/mL",), "injection pen", True, None),
    (("insulin regular, human",), ("100 unit/mL",), "injection vial", True, None),
    (("benazepril",), ("10 mg", "20 mg"), "oral tablet", True, None),
    (("captopril",), ("25 mg",), "oral tablet", True, None),
    (("enalapril",), ("10 mg", "20 mg"), "oral tablet", True, None),
    (("fosinopril",), ("20 mg",), "oral tablet", True, None),
    (("lisinopril",), ("10 mg", "20 mg", "40 mg"), "oral tablet", True, None),
    (("moexipril",), ("15 mg",), "oral tablet", True, None),
    (("perindopril",), ("4 mg",), "oral tablet", True, None),
    (("quinapril",), ("20 mg",), "oral tablet", True, None),
    (("ramipril",), ("5 mg", "10 mg"), "oral capsule", True, None),
    (("trandolapril",), ("2 mg",), "oral tablet", True, None),
    (("azilsartan",), ("40 mg",), "oral tablet", True, None),
    (("candesartan",), ("16 mg",), "oral tablet", True, None),
    (("eprosartan",), ("600 mg",), "oral tablet", True, None),
    (("irbesartan",), ("150 mg",), "oral tablet", True, None),
    (("losartan",), ("50 mg", "100 mg"), "oral tablet", True, None),
    (("olmesartan",), ("20 mg",), "oral tablet", True, None),
    (("telmisartan",), ("40 mg",), "oral tablet", True, None),
    (("valsartan",), ("80 mg", "160 mg"), "oral tablet", True, None),
    (("aliskiren",), ("150 mg",), "oral tablet", True, None),
    (("lisinopril", "hydrochlorothiazide"), ("20 mg/12.5 mg",), "oral tablet", True, None),
    (("losartan", "hydrochlorothiazide"), ("50 mg/12.5 mg",), "oral tablet", True, None),
    (("amlodipine", "benazepril"), ("5 mg/20 mg",), "oral capsule", True, None),
    # Sacubitril/valsartan sits only in its exclusion class: PQA does not count it as RASA days.
    (
        ("sacubitril", "valsartan"),
        ("24 mg/26 mg", "49 mg/51 mg"),
        "oral tablet",
        True,
        ("angiotensin_receptor_neprilysin_inhibitors",),
    ),
    (("atorvastatin",), ("20 mg", "40 mg"), "oral tablet", True, None),
    (("fluvastatin",), ("40 mg",), "oral capsule", True, None),
    (("lovastatin",), ("20 mg",), "oral tablet", True, None),
    (("pitavastatin",), ("2 mg",), "oral tablet", True, None),
    (("pravastatin",), ("40 mg",), "oral tablet", True, None),
    (("rosuvastatin",), ("10 mg", "20 mg"), "oral tablet", True, None),
    (("simvastatin",), ("20 mg", "40 mg"), "oral tablet", True, None),
    (("ezetimibe", "simvastatin"), ("10 mg/40 mg",), "oral tablet", True, None),
    (("amlodipine", "atorvastatin"), ("5 mg/20 mg",), "oral tablet", True, None),
    (("hydrochlorothiazide",), ("25 mg",), "oral tablet", True, None),
    (("amlodipine",), ("5 mg", "10 mg"), "oral tablet", True, None),
    (("metoprolol",), ("25 mg", "50 mg"), "oral tablet", True, None),
    (("levothyroxine",), ("50 mcg", "100 mcg"), "oral tablet", True, None),
    (("ezetimibe",), ("10 mg",), "oral tablet", True, None),
    (("amoxicillin",), ("500 mg",), "oral capsule", False, None),
    (("azithromycin",), ("250 mg",), "oral tablet", False, None),
    (("cephalexin",), ("500 mg",), "oral capsule", False, None),
    (("ibuprofen",), ("800 mg",), "oral tablet", False, None),
    (("ondansetron",), ("4 mg",), "oral tablet", False, None),
    (("prednisone",), ("20 mg",), "oral tablet", False, None),
]


def build_rows(classes: dict[str, dict[str, object]]) -> list[list[str]]:
    rxcui: dict[str, str] = {}
    class_of: dict[str, str] = {}
    # An ingredient's own class is the first target/other class naming it (valsartan → ARB, not the
    # sacubitril/valsartan exclusion class); insulins only appear in an exclusion class.
    ordered = sorted(classes.items(), key=lambda item: item[1]["role"] == "exclusion")
    for class_id, spec in ordered:
        for ingredient in spec["ingredients"]:  # type: ignore[attr-defined]
            rxcui[ingredient["name"]] = ingredient["rxcui"]
            class_of.setdefault(ingredient["name"], class_id)
    rows = []
    product_code = 0
    for ingredients, strengths, dose_form, maintenance, explicit_classes in PRODUCTS:
        drug_classes = explicit_classes or tuple(dict.fromkeys(class_of[name] for name in ingredients))
        for strength in strengths:
            product_code += 1
            for package in PACKAGES:
                rows.append(
                    [
                        f"{SYNTHETIC_LABELER}{product_code:04d}{package}",
                        "|".join(ingredients),
                        "|".join(rxcui[name] for name in ingredients),
                        "|".join(drug_classes),
                        strength,
                        dose_form,
                        "true" if maintenance else "false",
                        "synthetic",
                    ]
                )
    return rows


def main() -> int:
    drugs = Path(__file__).resolve().parent.parent / "drugs"
    classes = yaml.safe_load((drugs / "drug_classes.yaml").read_text(encoding="utf-8"))["classes"]
    with (drugs / "ndc_reference.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(build_rows(classes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

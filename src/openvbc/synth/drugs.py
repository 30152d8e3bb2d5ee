"""The drug products fills are drawn from: ``rules/drugs/ndc_reference.csv`` grouped into therapies.

The reference file (written by the drug-rules capability) lists synthetic NDCs with their
ingredients and pharmacological classes; combination products carry ``|``-separated values.
The profile's ``drugs.therapy_groups`` says which classes a therapy line (RAS antagonist,
statin, ...) draws from, so fills carry exactly the ``ndc``, ``ingredient`` and ``drug_class``
the PDC engine will look up.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.rules.resources import read_rule_text
from openvbc.synth.arrays import FloatArray, IntArray
from openvbc.synth.profile import Profile

NDC_REFERENCE = "drugs/ndc_reference.csv"
_HEADER = [
    "ndc11",
    "ingredient",
    "rxnorm_ingredient",
    "drug_class",
    "strength",
    "dose_form",
    "is_maintenance",
    "source",
]


@dataclass(frozen=True)
class DrugCatalogue:
    """Products as parallel arrays plus, per therapy group, product indices and draw weights."""

    ndc: pa.Array
    ingredient: pa.Array
    drug_class: pa.Array
    rxnorm: pa.Array  # RxNorm ingredient code of the first (target) ingredient
    ingredient_id: IntArray  # distinct ingredient string → integer, for "switch to another ingredient"
    unit_price: FloatArray
    units_per_day: FloatArray
    groups: dict[str, IntArray]
    weights: dict[str, FloatArray]

    def product_ids(self, group: str) -> IntArray:
        return self.groups[group]


def read_ndc_reference(text: str, file_name: str = NDC_REFERENCE) -> list[dict[str, str]]:
    """Rows of the NDC reference CSV; a wrong header is an error naming the file and line."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames != _HEADER:
        raise InvalidInput([InputIssue(file_name, 1, None, f"header {reader.fieldnames} is not {_HEADER}")])
    rows = []
    for line, row in enumerate(reader, start=2):
        if not row["ndc11"].isdigit() or len(row["ndc11"]) != 11:
            raise InvalidInput(
                [InputIssue(file_name, line, "ndc11", f"{row['ndc11']!r} is not an 11-digit NDC")]
            )
        rows.append(row)
    return rows


def load_catalogue(profile: Profile) -> DrugCatalogue:
    """Group the packaged NDC reference into the profile's therapy groups."""
    cfg = profile.section("drugs")
    # Values with commas (e.g. "insulin regular, human") would need CSV quoting; the
    # generator writes unquoted CSV, so such products are simply not drawn.
    rows = [
        r for r in read_ndc_reference(read_rule_text(NDC_REFERENCE)) if not any("," in v for v in r.values())
    ]
    ingredient_ids: dict[str, int] = {}
    popularity = cfg["ingredient_popularity"]
    prices = cfg["unit_price"]
    groups: dict[str, list[int]] = {name: [] for name in cfg["therapy_groups"]}
    weights: dict[str, list[float]] = {name: [] for name in cfg["therapy_groups"]}
    unit_price, units_per_day = [], []
    for index, row in enumerate(rows):
        ingredients = row["ingredient"].split("|")
        classes = row["drug_class"].split("|")
        ingredient_ids.setdefault(row["ingredient"], len(ingredient_ids))
        unit_price.append(max(float(prices.get(c, prices["default"])) for c in classes))
        # Pens and vials are dispensed as packages; tablets one a day, metformin twice.
        units_per_day.append(
            0.1 if "injection" in row["dose_form"] else (2.0 if ingredients[0] == "metformin" else 1.0)
        )
        for name, group in cfg["therapy_groups"].items():
            wanted = group["combination"]
            is_combination = len(ingredients) > 1
            if wanted != "any" and bool(wanted) != is_combination:
                continue
            if set(classes) & set(group["classes"]):
                groups[name].append(index)
                weights[name].append(float(max(popularity.get(i, 1) for i in ingredients)))
    empty = [name for name, members in groups.items() if not members]
    if empty:
        raise InvalidInput(
            [InputIssue(NDC_REFERENCE, None, "drug_class", f"no products for therapy group(s) {empty}")]
        )
    return DrugCatalogue(
        ndc=pa.array([r["ndc11"] for r in rows]),
        ingredient=pa.array([r["ingredient"] for r in rows]),
        drug_class=pa.array([r["drug_class"] for r in rows]),
        rxnorm=pa.array([r["rxnorm_ingredient"].split("|")[0] for r in rows]),
        ingredient_id=np.array([ingredient_ids[r["ingredient"]] for r in rows], dtype=np.int64),
        unit_price=np.array(unit_price),
        units_per_day=np.array(units_per_day),
        groups={name: np.array(ids, dtype=np.int64) for name, ids in groups.items()},
        weights={name: np.array(w) / np.sum(w) for name, w in weights.items()},
    )

"""The generator's distribution parameters, read from ``rules/synth/plan_profile.yaml``.

The numbers are data (with their public sources in the file); this module only loads them,
checks the header with the shared rule schema and offers typed accessors for the shapes the
generator uses (per-age-band lists, weighted code tables).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray

from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.rules.resources import read_rule_text

PROFILE_PATH = "synth/plan_profile.yaml"


@dataclass(frozen=True)
class Profile:
    """Parameters of one synthetic plan profile (id and version name the file for the manifest)."""

    id: str
    version: str
    params: dict[str, Any]

    @property
    def band_edges(self) -> NDArray[np.int16]:
        """Lower age of each band, ascending (``np.searchsorted`` maps an age to its band)."""
        return np.array([low for low, _high in self.params["age_bands"]], dtype=np.int16)

    @property
    def band_count(self) -> int:
        return len(self.params["age_bands"])

    def section(self, *path: str) -> Any:
        node: Any = self.params
        for part in path:
            node = node[part]
        return node

    def by_band(self, *path: str) -> NDArray[np.float64]:
        """A per-age-band list as an array, checked to have one value per band."""
        values = np.asarray(self.section(*path), dtype=np.float64)
        if values.shape != (self.band_count,):
            raise ValueError(
                f"{'.'.join(path)} in {PROFILE_PATH} needs {self.band_count} values, one per age band"
            )
        return values

    def weighted(self, *path: str) -> tuple[list[str], NDArray[np.float64]]:
        """A ``{code: weight}`` table as (codes, probabilities summing to 1)."""
        table = self.section(*path)
        codes = [str(code) for code in table]
        weights = np.asarray([float(table[code]) for code in table], dtype=np.float64)
        return codes, weights / weights.sum()


_HEADER_KEYS = ("kind", "id", "title", "version", "source", "effective", "parameters")


def load_profile() -> Profile:
    """Load the packaged plan profile.

    Only the header keys are checked here; the full rule-file schema (``rules.schema``,
    ``kind: synth_profile``) is applied by ``openvbc rules check`` and the synth tests, so the
    generator does not depend on the rule-validation machinery at run time.
    """
    data = yaml.safe_load(read_rule_text(PROFILE_PATH))
    missing = [key for key in _HEADER_KEYS if not isinstance(data, dict) or key not in data]
    if missing or data.get("kind") != "synth_profile":
        raise InvalidInput(
            [InputIssue(PROFILE_PATH, 1, ",".join(missing) or "kind", "not a synth_profile rule file")]
        )
    return Profile(id=str(data["id"]), version=str(data["version"]), params=dict(data["parameters"]))

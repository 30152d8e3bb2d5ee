"""The generated plan the synth tests share, and how they read it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from openvbc.synth.generator import PlanManifest

YEAR = 2024
MEMBERS = 20_000


class GeneratedPlan:
    def __init__(self, folder: Path, manifest: PlanManifest) -> None:
        self.folder = folder
        self.manifest = manifest
        self._frames: dict[str, pd.DataFrame] = {}

    def frame(self, name: str) -> pd.DataFrame:
        """A package file as strings (empty cells as NaN), read once."""
        if name not in self._frames:
            self._frames[name] = pd.read_csv(
                self.folder / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""]
            )
        return self._frames[name]

    def case(self, name: str) -> str:
        return next(case["member_key"] for case in self.manifest.edge_cases if case["case"] == name)

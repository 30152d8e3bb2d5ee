"""docs/plan-data-package.md documents every file and column of the package layout."""

from __future__ import annotations

import re
from pathlib import Path

from openvbc.interop.plan_package import PACKAGE_FILES

DOC = Path(__file__).parents[2] / "docs" / "plan-data-package.md"


def test_every_file_and_column_is_documented_in_order() -> None:
    sections = re.split(r"^## ", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    by_title = {section.splitlines()[0].strip(): section for section in sections[1:]}
    for spec in PACKAGE_FILES:
        assert spec.csv_name in by_title, f"no section for {spec.csv_name}"
        documented = re.findall(r"^\| `([a-z0-9_]+)` \|", by_title[spec.csv_name], flags=re.MULTILINE)
        assert tuple(documented) == spec.columns, spec.csv_name
        example_header = re.search(r"```csv\n(.*)\n", by_title[spec.csv_name])
        assert example_header is not None and example_header.group(1) == ",".join(spec.columns)

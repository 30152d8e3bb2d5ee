"""C-CDA Pharmacist Care Plan documents (CDA R2 XML): render, read, schema-validate.

Public API:

- ``render_careplan_cda(plan) -> bytes`` (:mod:`.render`)
- ``read_careplan_cda(data, source) -> CarePlan``: strict care plan import (:mod:`.parse`)
- ``read_ccda_entries(data, source) -> CcdaContent``: entries of any C-CDA document or fragment
- ``validate_cda_schema(tree, source) -> list[InputIssue]`` and ``parse_xml`` (:mod:`.validate`)
- ``CcdaInputError``: every problem of a rejected document (file, line, element)

Template ids and their sources: :mod:`.templates`; docs/ecareplan.md.
"""

from __future__ import annotations

from openvbc.interop.ccda.entries import CcdaContent
from openvbc.interop.ccda.errors import CcdaInputError
from openvbc.interop.ccda.parse import read_careplan_cda, read_ccda_entries
from openvbc.interop.ccda.render import render_careplan_cda
from openvbc.interop.ccda.validate import parse_xml, validate_cda_schema

__all__ = [
    "CcdaContent",
    "CcdaInputError",
    "parse_xml",
    "read_careplan_cda",
    "read_ccda_entries",
    "render_careplan_cda",
    "validate_cda_schema",
]

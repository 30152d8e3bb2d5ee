"""FHIR R4 Pharmacist Care Plan (hl7.fhir.us.phcp 1.0.0) document Bundles: render, read, check.

Public API:

- ``render_careplan_fhir(plan, base=...) -> dict`` (:mod:`.render`)
- ``read_careplan_fhir(bundle, source) -> CarePlan`` (:mod:`.parse`), raising ``PhcpInputError``
- ``check_phcp_bundle(bundle, source) -> list[InputIssue]``: the structural profile check built
  from the PhCP StructureDefinitions shipped in ``profiles/`` (:mod:`.profiles`)
"""

from __future__ import annotations

from openvbc.interop.fhir_phcp.parse import PhcpInputError, read_careplan_fhir
from openvbc.interop.fhir_phcp.profiles import check_phcp_bundle
from openvbc.interop.fhir_phcp.render import render_careplan_fhir

__all__ = ["PhcpInputError", "check_phcp_bundle", "read_careplan_fhir", "render_careplan_fhir"]

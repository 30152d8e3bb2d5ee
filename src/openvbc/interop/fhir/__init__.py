"""FHIR R4 input (Bundles of any type, single resources, bulk NDJSON) -> plan-package rows.

Public API (other layers call only these):

- ``read_fhir_path(path) -> FhirExtract``: a ``.json`` Bundle or resource, an ``.ndjson`` file,
  or a directory of them.
- ``map_bundle(bundle, source_label=...) -> FhirExtract``: one parsed Bundle (pure).
- ``FhirExtract``: ``rows`` per package file name, ``skipped`` resource counts, ``issues``.

Mapping rules and their sources: docs/fhir-import.md.
"""

from __future__ import annotations

from openvbc.interop.fhir.extract import FhirExtract, FhirRow, columns_for
from openvbc.interop.fhir.mapping import map_bundle
from openvbc.interop.fhir.reader import read_fhir_path

__all__ = ["FhirExtract", "FhirRow", "columns_for", "map_bundle", "read_fhir_path"]

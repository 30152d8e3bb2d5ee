"""Read FHIR input from disk: a Bundle or single-resource ``.json``, an ``.ndjson`` file, or a
directory of them (walked in sorted order, so results do not depend on the file system).

Two passes over the input: the first builds the ``ResourceIndex`` (birth dates, encounter
classes, coverages, medications, NPIs), the second maps, so a Condition file read before the
Patient file still finds the birth date. Only the index is held in memory between passes.
JSON numbers are read as ``Decimal`` so a result keeps the digits it was sent with.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from openvbc.interop.fhir.datatypes import as_object
from openvbc.interop.fhir.extract import FhirExtract
from openvbc.interop.fhir.mapping import index_items, iterate_bundle, map_items
from openvbc.interop.fhir.references import ResourceItem

FHIR_SUFFIXES = (".json", ".ndjson")


def read_fhir_path(path: Path) -> FhirExtract:
    """Map every resource under ``path`` to plan-package rows; bad input becomes issues."""
    path = Path(path)
    out = FhirExtract()
    if not path.exists():
        out.add_issue(str(path), None, None, "no such file or directory")
        return out
    files = _fhir_files(path)
    if not files:
        out.add_issue(str(path), None, None, "no .json or .ndjson files found")
        return out
    base = path if path.is_dir() else path.parent
    index = index_items(_items_of_files(files, base, None))
    map_items(_items_of_files(files, base, out), index, out)
    return out


def _fhir_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(FHIR_SUFFIXES))


def _items_of_files(files: list[Path], base: Path, out: FhirExtract | None) -> Iterator[ResourceItem]:
    """Resources of every file; parse problems are reported on the mapping pass only (``out``)."""
    for file in files:
        label = file.relative_to(base).as_posix() if file != base else file.name
        if file.name.lower().endswith(".ndjson"):
            yield from _items_of_ndjson(file, label, out)
        else:
            yield from _items_of_json(file, label, out)


def _items_of_json(file: Path, label: str, out: FhirExtract | None) -> Iterator[ResourceItem]:
    try:
        document = json.loads(file.read_bytes(), parse_float=Decimal)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        if out is not None:
            out.add_issue(label, None, None, f"not readable as JSON: {exc}")
        return
    resource = as_object(document)
    if resource is None or not isinstance(resource.get("resourceType"), str):
        if out is not None:
            out.add_issue(label, None, "resourceType", "not a FHIR resource or Bundle")
        return
    if resource.get("resourceType") == "Bundle":
        yield from iterate_bundle(resource, label)
    else:
        yield ResourceItem(label, 1, resource)


def _items_of_ndjson(file: Path, label: str, out: FhirExtract | None) -> Iterator[ResourceItem]:
    try:
        handle = file.open("rb")
    except OSError as exc:
        if out is not None:
            out.add_issue(label, None, None, f"cannot be read: {exc}")
        return
    with handle:
        first = True
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                document = json.loads(raw, parse_float=Decimal)
            except (UnicodeDecodeError, ValueError) as exc:
                if out is not None:
                    out.add_issue(label, number, None, f"not a JSON object: {exc}")
                continue
            resource = as_object(document)
            if first and resource is not None and "resourceType" not in resource:
                # A bulk-export side file (e.g. the exporter's log.ndjson), not FHIR data.
                if out is not None:
                    out.skip("(NDJSON file that is not FHIR)")
                return
            first = False
            if resource is None:
                if out is not None:
                    out.add_issue(label, number, None, "not a JSON object")
                continue
            if resource.get("resourceType") == "Bundle":
                yield from iterate_bundle(resource, f"{label}:{number}")
            else:
                yield ResourceItem(label, number, resource)

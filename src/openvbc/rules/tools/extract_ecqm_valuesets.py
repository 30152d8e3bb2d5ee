"""Extract the eCQM value-set expansions and direct-reference codes into ``rules/valuesets/``.

Run once, by hand, against a checkout (or snapshot) of cqframework/ecqm-content-qicore-2024::

    python -m openvbc.rules.tools.extract_ecqm_valuesets /path/to/ecqm/qicore-2024

The output (``<oid>.csv``, ``index.yaml``, ``direct_codes.yaml``) is committed, so the project never
reads the corpus at run time; this script exists so anyone can reproduce that output.

Value sets are matched by OID (the last segment of the canonical URL) because the content mixes
``http://`` and ``https://`` forms of the same VSAC URL. When one OID ships in several bundles (same
version, different code-system URIs for the same codes), the copy whose systems we can name is kept.
CPT descriptors are AMA copyright, so CPT rows are written without a display.
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import re
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from openvbc.domain.codesystems import system_name_for_uri

REPOSITORY = "cqframework/ecqm-content-qicore-2024"
COMMIT = "9ebd48ffebf2ed2489f3904cc8393ebf8979bfc9"
LICENSE = "CC0-1.0"

# Folder in the snapshot -> (measure id, path of the same folder in the upstream repository).
MEASURES: dict[str, tuple[str, str]] = {
    "ControllingHighBloodPressureFHIR": (
        "CMS165",
        "bundles/measure/ControllingHighBloodPressureFHIR/ControllingHighBloodPressureFHIR-files",
    ),
    "DiabetesGlycemicStatusAssessmentGreaterThan9PercentFHIR": (
        "CMS122",
        "bundles/measure/DiabetesGlycemicStatusAssessmentGreaterThan9PercentFHIR/"
        "DiabetesGlycemicStatusAssessmentGreaterThan9PercentFHIR-files",
    ),
    "PreventiveCareAndTobaccoUseScreeningAndCessationInterventionFHIR": (
        "CMS138",
        "input/vocabulary/valueset/external",
    ),
}
LIBRARY_UPSTREAM = "input/resources/library"
# The measurement period the content is written for (Measure.effectivePeriod of all three measures).
PERIOD_START = date(2025, 1, 1)
PERIOD_END = date(2025, 12, 31)

_VALUESET_LINE = re.compile(r"^valueset \"(?P<name>[^\"]+)\": '(?P<url>[^']+)'", re.MULTILINE)
_CODESYSTEM_LINE = re.compile(r"^codesystem \"?(?P<name>[^\":]+)\"?: '(?P<url>[^']+)'", re.MULTILINE)
_CODE_LINE = re.compile(
    r"^code \"(?P<name>[^\"]+)\": '(?P<code>[^']+)' from "
    r"(?:(?P<lib>\w+)\.)?(?:\"(?P<qsystem>[^\"]+)\"|(?P<system>\w+))"
    r"(?: display '(?P<display>[^']*)')?",
    re.MULTILINE,
)
_WITHHELD_DISPLAY = {"cpt"}


class _PlainDumper(yaml.SafeDumper):
    """Writes repeated values in full: anchors and aliases make a rule file hard to read."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


# Codes the measures use that are fixed by a QI-Core profile rather than declared in the CQL: CMS165
# retrieves ["observation-bp"], whose profile (FHIR R4 vital signs, http://hl7.org/fhir/R4/bp.html)
# fixes Observation.code to the LOINC BP panel and carries systolic/diastolic as components.
PROFILE_CODES: dict[str, dict[str, str]] = {
    "Blood pressure panel": {
        "system": "loinc",
        "code": "85354-9",
        "display": "Blood pressure panel with all children optional",
        "library": "QICore|4.1.1 observation-bp profile (FHIR R4 bp)",
    },
}


@dataclass
class Expansion:
    oid: str
    resource: dict[str, Any]
    upstream_path: str
    unknown_systems: int


def oid_of(url: str) -> str:
    """The OID of a VSAC canonical URL, ignoring scheme and any ``|version`` suffix."""
    return url.split("|", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def short_system(uri: str) -> str:
    return system_name_for_uri(uri) or uri


def read_cql(library_json: Path) -> str:
    resource = json.loads(library_json.read_text(encoding="utf-8"))
    for content in resource.get("content", []):
        if content.get("contentType") == "text/cql":
            return base64.b64decode(content["data"]).decode("utf-8")
    raise SystemExit(f"{library_json}: no text/cql content")


def collect_expansions(corpus: Path) -> dict[str, Expansion]:
    """Every ValueSet expansion in the corpus, one per OID (the most nameable copy wins)."""
    found: dict[str, Expansion] = {}
    for folder, (_, upstream) in MEASURES.items():
        measure_dir = corpus / folder
        items: list[tuple[dict[str, Any], str]] = []
        for bundle in sorted(measure_dir.glob("valuesets-*-bundle.json")):
            data = json.loads(bundle.read_text(encoding="utf-8"))
            items += [(entry["resource"], f"{upstream}/{bundle.name}") for entry in data["entry"]]
        for single in sorted((measure_dir / "valuesets").glob("*.json")):
            items.append((json.loads(single.read_text(encoding="utf-8")), f"{upstream}/{single.name}"))
        for resource, path in items:
            oid = oid_of(resource["url"])
            contains = resource["expansion"]["contains"]
            unknown = sum(1 for c in contains if system_name_for_uri(c["system"]) is None)
            candidate = Expansion(oid, resource, path, unknown)
            if oid not in found or unknown < found[oid].unknown_systems:
                found[oid] = candidate
    return found


def collect_references(corpus: Path) -> dict[str, dict[str, Any]]:
    """OID -> {name, url, referenced_by} for every valueset line in the measures and libraries."""
    libraries = [corpus / folder / f"{folder}.json" for folder in MEASURES]
    libraries += sorted((corpus / "libraries").glob("*.json"))
    refs: dict[str, dict[str, Any]] = {}
    for library in libraries:
        for match in _VALUESET_LINE.finditer(read_cql(library)):
            entry = refs.setdefault(
                oid_of(match["url"]), {"name": match["name"], "url": match["url"], "referenced_by": []}
            )
            entry["referenced_by"].append(library.stem)
    return refs


def collect_direct_codes(corpus: Path) -> dict[str, dict[str, Any]]:
    """CQL ``code`` declarations; included-library codes are keyed ``Library.Name`` as CQL spells them."""
    codes: dict[str, dict[str, Any]] = {}
    systems_by_library: dict[str, dict[str, str]] = {}
    libraries = [(corpus / folder / f"{folder}.json", True) for folder in MEASURES]
    libraries += [(path, False) for path in sorted((corpus / "libraries").glob("*.json"))]
    for library, _ in libraries:
        cql = read_cql(library)
        systems_by_library[library.stem] = {m["name"]: m["url"] for m in _CODESYSTEM_LINE.finditer(cql)}
    for library, is_measure in libraries:
        cql = read_cql(library)
        header = json.loads(library.read_text(encoding="utf-8"))
        for match in _CODE_LINE.finditer(cql):
            # ``from QICoreCommon."SNOMEDCT"`` names a code system declared in another library.
            systems = systems_by_library.get(match["lib"] or library.stem, {})
            system_name = match["qsystem"] or match["system"]
            uri = systems.get(system_name)
            if uri is None:
                raise SystemExit(f"{library.name}: code {match['name']!r} uses unknown system {system_name}")
            key = match["name"] if is_measure else f"{library.stem}.{match['name']}"
            system = short_system(uri)
            display = "" if system in _WITHHELD_DISPLAY else (match["display"] or "")
            codes[key] = {
                "system": system,
                "code": match["code"],
                "display": display,
                "library": f"{header['name']}|{header['version']}",
            }
    return codes


def write_value_set(path: Path, expansion: Expansion) -> int:
    rows = set()
    for concept in expansion.resource["expansion"]["contains"]:
        system = short_system(concept["system"])
        display = "" if system in _WITHHELD_DISPLAY else concept.get("display", "")
        rows.add((system, concept["code"], display))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["system", "code", "display"])
        writer.writerows(sorted(rows))
    return len(rows)


def build(corpus: Path, out: Path) -> list[str]:
    """Write the value sets and index; return the OIDs referenced but absent from the corpus."""
    expansions = collect_expansions(corpus)
    refs = collect_references(corpus)
    out.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    for oid in sorted(refs):
        ref = refs[oid]
        if oid not in expansions:
            missing.append(
                {
                    "oid": oid,
                    "name": ref["name"],
                    "url": ref["url"],
                    "referenced_by": sorted(set(ref["referenced_by"])),
                }
            )
            continue
        expansion = expansions[oid]
        count = write_value_set(out / f"{oid}.csv", expansion)
        entries.append(
            {
                "oid": oid,
                "name": ref["name"],
                "url": expansion.resource["url"],
                "version": expansion.resource["version"],
                "source": {
                    "repository": REPOSITORY,
                    "path": expansion.upstream_path,
                    "commit": COMMIT,
                    "license": LICENSE,
                },
                "effective": {"start": PERIOD_START, "end": PERIOD_END},
                "expansion_timestamp": expansion.resource["expansion"].get("timestamp"),
                "referenced_by": sorted(set(ref["referenced_by"])),
                "codes": count,
            }
        )
    index = {
        "kind": "value_set_index",
        "id": "ecqm-qicore-2024-valuesets",
        "title": "Value-set expansions used by CMS165, CMS122 and CMS138 (QI-Core 4.1.1, PY2025)",
        "version": COMMIT[:12],
        "source": {
            "document": "eCQM content for QI-Core 2024 (measurement period 2025), VSAC expansions",
            "url": f"https://github.com/{REPOSITORY}/tree/{COMMIT}",
            "publisher": "CQF / CMS (content CC0-1.0; expansions from NLM VSAC)",
        },
        "effective": {"start": PERIOD_START, "end": PERIOD_END},
        "value_sets": entries,
        "not_shipped": missing,
    }
    direct = {
        "kind": "direct_codes",
        "id": "ecqm-qicore-2024-direct-codes",
        "title": "Direct-reference codes declared in the CQL of CMS165, CMS122, CMS138 and their libraries",
        "version": COMMIT[:12],
        "source": {
            "document": "CQL libraries of the eCQM content for QI-Core 2024 (code declarations)",
            "url": f"https://github.com/{REPOSITORY}/tree/{COMMIT}/{LIBRARY_UPSTREAM}",
            "publisher": "CQF / CMS (content CC0-1.0)",
        },
        "effective": {"start": PERIOD_START, "end": PERIOD_END},
        "codes": collect_direct_codes(corpus) | PROFILE_CODES,
    }
    header = (
        "# Generated by openvbc.rules.tools.extract_ecqm_valuesets from "
        f"{REPOSITORY}@{COMMIT} ({LICENSE}); do not edit by hand.\n"
    )
    for name, payload in (("index.yaml", index), ("direct_codes.yaml", direct)):
        text = yaml.dump(payload, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True, width=110)
        (out / name).write_text(header + text, encoding="utf-8")
    return [m["oid"] for m in missing]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("corpus", type=Path, help="folder holding the qicore-2024 measure folders")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "valuesets")
    args = parser.parse_args(argv)
    missing = build(args.corpus, args.out)
    for oid in missing:
        print(f"not in the corpus (not shipped): {oid}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

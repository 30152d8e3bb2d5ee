"""Short names for code systems, and their FHIR canonical URIs.

The canonical tables store the short name (``loinc``, ``snomed`` ...); FHIR, value sets
and exports use the URI. This table is the only place the two are tied together.
"""

from __future__ import annotations

SYSTEM_URIS: dict[str, str] = {
    "loinc": "http://loinc.org",
    "snomed": "http://snomed.info/sct",
    "icd10cm": "http://hl7.org/fhir/sid/icd-10-cm",
    "icd10pcs": "http://www.cms.gov/Medicare/Coding/ICD10",
    "icd9cm": "http://hl7.org/fhir/sid/icd-9-cm",
    "cpt": "http://www.ama-assn.org/go/cpt",
    "hcpcs": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "ndc": "http://hl7.org/fhir/sid/ndc",
    "cvx": "http://hl7.org/fhir/sid/cvx",
    "ucum": "http://unitsofmeasure.org",
    "actcode": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    "nubc-disposition": "https://www.nubc.org/CodeSystem/PatDischargeStatus",
    "hsloc": "https://www.cdc.gov/nhsn/cdaportal/terminology/codesystem/hsloc.html",
    "sop": "https://nahdo.org/sopt",
    "cdcrec": "urn:oid:2.16.840.1.113883.6.238",
    "admin-gender": "http://hl7.org/fhir/administrative-gender",
}

# Aliases seen in published content for the same systems (HCPCS has two URIs in use).
_URI_ALIASES: dict[str, str] = {
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets": "hcpcs",
    "urn:oid:2.16.840.1.113883.6.285": "hcpcs",
    "urn:oid:2.16.840.1.113883.6.12": "cpt",
    "urn:oid:2.16.840.1.113883.6.1": "loinc",
    "urn:oid:2.16.840.1.113883.6.96": "snomed",
    "urn:oid:2.16.840.1.113883.6.90": "icd10cm",
    "urn:oid:2.16.840.1.113883.6.88": "rxnorm",
    "urn:oid:2.16.840.1.113883.6.4": "icd10pcs",
    "http://www.ama-assn.org/go/cpt/": "cpt",
    "http://www.nlm.nih.gov/research/umls/hcpcs": "hcpcs",  # the URI some eCQM value sets use
    "http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender": "admin-gender",
}

_BY_URI: dict[str, str] = {uri: name for name, uri in SYSTEM_URIS.items()} | _URI_ALIASES


def system_name_for_uri(uri: str) -> str | None:
    """Short name for a FHIR code-system URI, or None when the system is not one we model."""
    return _BY_URI.get(uri.strip())


def uri_for_system_name(name: str) -> str:
    return SYSTEM_URIS[name]

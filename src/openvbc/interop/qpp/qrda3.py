"""QRDA Category III (HL7 CDA R2, QRDA III R1 STU 2.1 with the CMS implementation guide) with lxml.

The structure follows the CMS sample files of CMSgov/qpp-conversion-tool (sample-files/2025,
CC0): a CDA header whose ``informationRecipient`` names the program (MIPS_INDIV / MIPS_GROUP) and
whose ``documentationOf/serviceEvent/performer`` carries the NPI (root 2.16.840.1.113883.4.6) and
the TIN (root 2.16.840.1.113883.4.2); one Measure Section (templates 2.16.840.1.113883.10.20.24.2.2,
…27.2.1 ext 2020-12-01, …27.2.3 ext 2022-05-01) with one Measure Reference and Results organizer
per measure (…24.3.98, …27.3.1, …27.3.17), a Performance Rate observation per stratum (…27.3.30,
…27.3.14, …27.3.25) and one Measure Data observation per population (…27.3.5, …27.3.16) whose
Aggregate Count (…27.3.3, …27.3.24) is the count; plus the Reporting Parameters act
(2.16.840.1.113883.10.20.17.3.8). Supplemental data strata (sex, race, ethnicity, payer) are not
written: the sample IG marks them required for eCQMs, so this is listed as open work in the docs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from openvbc.interop.qpp.counts import MeasureCounts, StratumCounts, SubmissionHeader, require_reconciled

HL7 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"h": HL7, "xsi": XSI}
ACT_CODE = "2.16.840.1.113883.5.4"
LOINC = "2.16.840.1.113883.6.1"
NPI_ROOT = "2.16.840.1.113883.4.6"
TIN_ROOT = "2.16.840.1.113883.4.2"
MEASURE_DOC_ROOT = "2.16.840.1.113883.4.738"
POPULATION_CODES = ("IPOP", "DENOM", "DENEX", "DENEXCEP", "NUMER")


def _q(tag: str) -> str:
    return f"{{{HL7}}}{tag}"


def _el(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, _q(tag), {k: v for k, v in attrs.items()})


def _template(parent: etree._Element, root: str, extension: str | None = None) -> None:
    attrs = {"root": root}
    if extension:
        attrs["extension"] = extension
    _el(parent, "templateId", **attrs)


def _typed_value(parent: etree._Element, xsi_type: str, **attrs: str) -> etree._Element:
    value = _el(parent, "value", **attrs)
    value.set(f"{{{XSI}}}type", xsi_type)
    return value


def _population_counts(stratum: StratumCounts) -> dict[str, int]:
    p = stratum.populations
    return {
        "IPOP": p.initial_population,
        "DENOM": p.denominator,
        "DENEX": p.denominator_exclusion,
        "DENEXCEP": p.denominator_exception,
        "NUMER": p.numerator,
    }


def _stable_id(*parts: str) -> str:
    # Population ids must be stable across runs when the rule file gives none (uuid5 of the names).
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "openvbc:" + ":".join(parts))).upper()


def _population_id(measure: MeasureCounts, stratum: StratumCounts, code: str) -> str:
    given = (stratum.population_ids or {}).get(code)
    return given or _stable_id(measure.quality_id, stratum.stratum, code)


def _header(root: etree._Element, header: SubmissionHeader, document_id: str, now: datetime) -> None:
    _el(root, "realmCode", code="US")
    _el(root, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_HD000040")
    _template(root, "2.16.840.1.113883.10.20.27.1.1", "2020-12-01")
    _template(root, "2.16.840.1.113883.10.20.27.1.2", "2024-12-01")
    _el(root, "id", root=document_id)
    _el(
        root,
        "code",
        code="55184-6",
        codeSystem=LOINC,
        codeSystemName="LOINC",
        displayName="Quality Reporting Document Architecture Calculated Summary Report",
    )
    title = _el(root, "title")
    title.text = f"{header.performance_year} MIPS quality report (QRDA III) from openvbc"
    _el(root, "effectiveTime", value=now.strftime("%Y%m%d%H%M%S"))
    _el(root, "confidentialityCode", codeSystem="2.16.840.1.113883.5.25", code="N")
    _el(root, "languageCode", code="en")
    _el(root, "setId", root=document_id)
    _el(root, "versionNumber", value="1")
    patient_role = _el(_el(root, "recordTarget"), "patientRole")
    _el(patient_role, "id", nullFlavor="NA")
    author = _el(_el(root, "author"), "time", value=now.strftime("%Y%m%d%H%M%S")).getparent()
    assert author is not None
    assigned = _el(author, "assignedAuthor")
    _el(assigned, "id", root=_stable_id("author", header.tin))
    device = _el(assigned, "assignedAuthoringDevice")
    _el(device, "softwareName").text = "openvbc"
    organization = _el(assigned, "representedOrganization")
    _el(organization, "id", root=TIN_ROOT, extension=header.tin)
    _el(organization, "name").text = header.organization_name or f"TIN {header.tin}"
    custodian = _el(_el(_el(root, "custodian"), "assignedCustodian"), "representedCustodianOrganization")
    _el(custodian, "id", root=TIN_ROOT, extension=header.tin)
    _el(custodian, "name").text = header.organization_name or f"TIN {header.tin}"
    recipient = _el(_el(root, "informationRecipient"), "intendedRecipient")
    program = "MIPS_INDIV" if header.entity_type == "individual" else "MIPS_GROUP"
    _el(recipient, "id", root="2.16.840.1.113883.3.249.7", extension=program)
    legal = _el(root, "legalAuthenticator")
    _el(legal, "time", value=now.strftime("%Y%m%d%H%M%S"))
    _el(legal, "signatureCode", code="S")
    legal_entity = _el(legal, "assignedEntity")
    _el(legal_entity, "id", root=_stable_id("legal", header.tin))
    legal_org = _el(legal_entity, "representedOrganization")
    _el(legal_org, "id", root=TIN_ROOT, extension=header.tin)
    event = _el(_el(root, "documentationOf", typeCode="DOC"), "serviceEvent", classCode="PCPR")
    span = _el(event, "effectiveTime")
    _el(span, "low", value=header.performance_start.strftime("%Y%m%d"))
    _el(span, "high", value=header.performance_end.strftime("%Y%m%d"))
    performer = _el(event, "performer", typeCode="PRF")
    when = _el(performer, "time")
    _el(when, "low", value=header.performance_start.strftime("%Y%m%d"))
    _el(when, "high", value=header.performance_end.strftime("%Y%m%d"))
    entity = _el(performer, "assignedEntity")
    if header.npi:
        _el(entity, "id", root=NPI_ROOT, extension=header.npi)
    else:
        _el(entity, "id", root=NPI_ROOT, nullFlavor="NA")
    represented = _el(entity, "representedOrganization")
    _el(represented, "id", root=TIN_ROOT, extension=header.tin)


def _count(parent: etree._Element, value: int) -> None:
    relation = _el(parent, "entryRelationship", typeCode="SUBJ", inversionInd="true")
    observation = _el(relation, "observation", classCode="OBS", moodCode="EVN")
    _template(observation, "2.16.840.1.113883.10.20.27.3.3")
    _template(observation, "2.16.840.1.113883.10.20.27.3.24")
    _el(
        observation,
        "code",
        code="MSRAGG",
        codeSystem=ACT_CODE,
        codeSystemName="ActCode",
        displayName="rate aggregation",
    )
    _el(observation, "statusCode", code="completed")
    _typed_value(observation, "INT", value=str(value))
    _el(
        observation,
        "methodCode",
        code="COUNT",
        codeSystem="2.16.840.1.113883.5.84",
        codeSystemName="ObservationMethod",
    )


def _measure_entry(section: etree._Element, measure: MeasureCounts) -> None:
    organizer = _el(_el(section, "entry"), "organizer", classCode="CLUSTER", moodCode="EVN")
    _template(organizer, "2.16.840.1.113883.10.20.24.3.98")
    _template(organizer, "2.16.840.1.113883.10.20.27.3.1", "2020-12-01")
    _template(organizer, "2.16.840.1.113883.10.20.27.3.17", "2022-05-01")
    _el(organizer, "id", root=_stable_id("organizer", measure.quality_id))
    _el(organizer, "statusCode", code="completed")
    document = _el(
        _el(organizer, "reference", typeCode="REFR"), "externalDocument", classCode="DOC", moodCode="EVN"
    )
    _el(
        document,
        "id",
        root=MEASURE_DOC_ROOT,
        extension=measure.qrda_version_specific_id or measure.quality_id,
    )
    _el(
        document,
        "code",
        code="57024-2",
        codeSystem=LOINC,
        codeSystemName="LOINC",
        displayName="Health Quality Measure Document",
    )
    _el(document, "text").text = measure.title
    for stratum in measure.strata:
        rate = stratum.performance_rate
        if rate is not None:
            observation = _el(_el(organizer, "component"), "observation", classCode="OBS", moodCode="EVN")
            _template(observation, "2.16.840.1.113883.10.20.27.3.30", "2016-09-01")
            _template(observation, "2.16.840.1.113883.10.20.27.3.14", "2016-09-01")
            _template(observation, "2.16.840.1.113883.10.20.27.3.25", "2022-05-01")
            _el(
                observation,
                "code",
                code="72510-1",
                codeSystem=LOINC,
                codeSystemName="LOINC",
                displayName="Performance Rate",
            )
            _el(observation, "statusCode", code="completed")
            _typed_value(observation, "REAL", value=f"{rate:.6f}")
            reference = _el(
                _el(observation, "reference", typeCode="REFR"),
                "externalObservation",
                classCode="OBS",
                moodCode="EVN",
            )
            _el(reference, "id", root=_population_id(measure, stratum, "NUMER"))
            _el(
                reference,
                "code",
                code="NUMER",
                codeSystem=ACT_CODE,
                codeSystemName="ActCode",
                displayName="Numerator",
            )
        for code, value in _population_counts(stratum).items():
            observation = _el(_el(organizer, "component"), "observation", classCode="OBS", moodCode="EVN")
            _template(observation, "2.16.840.1.113883.10.20.27.3.5", "2016-09-01")
            _template(observation, "2.16.840.1.113883.10.20.27.3.16", "2018-05-01")
            _el(
                observation,
                "code",
                code="ASSERTION",
                codeSystem=ACT_CODE,
                codeSystemName="ActCode",
                displayName="Assertion",
            )
            _el(observation, "statusCode", code="completed")
            _typed_value(observation, "CD", code=code, codeSystem=ACT_CODE, codeSystemName="ActCode")
            _count(observation, value)
            reference = _el(
                _el(observation, "reference", typeCode="REFR"),
                "externalObservation",
                classCode="OBS",
                moodCode="EVN",
            )
            _el(reference, "id", root=_population_id(measure, stratum, code))


def build_qrda3(
    header: SubmissionHeader,
    measures: list[MeasureCounts],
    *,
    now: datetime,
    document_id: str | None = None,
) -> bytes:
    """A QRDA III document (UTF-8 bytes); refuses counts that do not reconcile."""
    require_reconciled(measures)
    root = etree.Element(_q("ClinicalDocument"), nsmap={None: HL7, "xsi": XSI})
    _header(
        root,
        header,
        document_id or _stable_id("document", header.tin, str(header.npi), str(header.performance_year)),
        now,
    )
    section = _el(_el(_el(root, "component"), "structuredBody"), "component")
    section = _el(section, "section")
    _template(section, "2.16.840.1.113883.10.20.24.2.2")
    _template(section, "2.16.840.1.113883.10.20.27.2.1", "2020-12-01")
    _template(section, "2.16.840.1.113883.10.20.27.2.3", "2022-05-01")
    _el(section, "code", code="55186-1", codeSystem=LOINC, displayName="measure section")
    _el(section, "title").text = "Measure Section"
    _el(section, "text").text = ", ".join(f"{m.quality_id} {m.title}" for m in measures)
    for measure in measures:
        _measure_entry(section, measure)
    parameters = _el(_el(section, "entry", typeCode="DRIV"), "act", classCode="ACT", moodCode="EVN")
    _template(parameters, "2.16.840.1.113883.10.20.17.3.8")
    _el(parameters, "id", root=_stable_id("parameters", header.tin, str(header.performance_year)))
    _el(
        parameters,
        "code",
        code="252116004",
        codeSystem="2.16.840.1.113883.6.96",
        displayName="Observation Parameters",
    )
    span = _el(parameters, "effectiveTime")
    _el(span, "low", value=header.performance_start.strftime("%Y%m%d"))
    _el(span, "high", value=header.performance_end.strftime("%Y%m%d"))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True))


@dataclass(frozen=True)
class ParsedPopulation:
    code: str
    count: int
    population_id: str | None


@dataclass(frozen=True)
class ParsedMeasure:
    measure_reference: str  # externalDocument/id/@extension
    title: str
    populations: tuple[ParsedPopulation, ...]
    performance_rates: tuple[tuple[str | None, float], ...]  # (NUMER population id, rate)


@dataclass(frozen=True)
class ParsedQrda3:
    program: str | None
    npi: str | None
    tin: str | None
    period: tuple[str, str] | None
    measures: tuple[ParsedMeasure, ...]


def _first(node: etree._Element, path: str) -> str | None:
    found = node.xpath(path, namespaces=NS)
    return str(found[0]) if found else None


def parse_qrda3(data: bytes) -> ParsedQrda3:
    """Read the header identifiers and every measure's population counts from a QRDA III document."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(data, parser)
    measures = []
    for organizer in root.xpath("//h:section/h:entry/h:organizer", namespaces=NS):
        populations = []
        rates = []
        for observation in organizer.xpath("h:component/h:observation", namespaces=NS):
            code = _first(observation, "h:code/@code")
            if code == "72510-1":
                value = _first(observation, "h:value/@value")
                rates.append(
                    (_first(observation, "h:reference/h:externalObservation/h:id/@root"), float(value or 0))
                )
                continue
            population = _first(observation, "h:value/@code")
            count = _first(
                observation,
                "h:entryRelationship[@typeCode='SUBJ']/h:observation[h:code/@code='MSRAGG']/h:value/@value",
            )
            if population in POPULATION_CODES and count is not None:
                populations.append(
                    ParsedPopulation(
                        population,
                        int(count),
                        _first(observation, "h:reference/h:externalObservation/h:id/@root"),
                    )
                )
        measures.append(
            ParsedMeasure(
                measure_reference=_first(organizer, "h:reference/h:externalDocument/h:id/@extension") or "",
                title=_first(organizer, "h:reference/h:externalDocument/h:text/text()") or "",
                populations=tuple(populations),
                performance_rates=tuple(rates),
            )
        )
    low = _first(root, "h:documentationOf/h:serviceEvent/h:effectiveTime/h:low/@value")
    high = _first(root, "h:documentationOf/h:serviceEvent/h:effectiveTime/h:high/@value")
    return ParsedQrda3(
        program=_first(root, "h:informationRecipient/h:intendedRecipient/h:id/@extension"),
        npi=_first(
            root, f"h:documentationOf//h:performer/h:assignedEntity/h:id[@root='{NPI_ROOT}']/@extension"
        ),
        tin=_first(
            root,
            f"h:documentationOf//h:performer//h:representedOrganization/h:id[@root='{TIN_ROOT}']/@extension",
        ),
        period=(low, high) if low and high else None,
        measures=tuple(measures),
    )

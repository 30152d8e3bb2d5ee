"""Template ids, section codes and code-system OIDs of the C-CDA Pharmacist Care Plan.

Source: HL7 CDA R2 Implementation Guide "Pharmacist Care Plan Document, Release 1, STU 1"
(templates 2.16.840.1.113883.10.20.37.*, version 2017-08-01) on C-CDA R2.1 (2015-08-01
templates), as tabulated in domain-rules.md §A8 from the official sample
(lantanagroup/PhCP-Public-Transforms samples/sampleCDA.xml). The C-CDA R2.1 entry templates it
builds on (Medication Activity, Medication Dispense, Problem Observation, Entry Reference,
Procedure Activity Act, Planned Act, Payers) are as in HL7/C-CDA-Examples (CC0).
Effective: PCP R1 STU1 published 2017-08; C-CDA R2.1 2015-08-01 onwards.
"""

from __future__ import annotations

V3 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SDTC = "urn:hl7-org:sdtc"

PCP = "2017-08-01"  # extension of every Pharmacist Care Plan template
CCDA = "2015-08-01"  # C-CDA R2.1 versions of the templates the PCP builds on
CCDA_2014 = "2014-06-09"

Template = tuple[str, str | None]

US_REALM_HEADER: Template = ("2.16.840.1.113883.10.20.22.1.1", CCDA)
CCDA_CARE_PLAN: Template = ("2.16.840.1.113883.10.20.22.1.15", CCDA)
PHARMACIST_CARE_PLAN: Template = ("2.16.840.1.113883.10.20.37.1.1", PCP)
DOCUMENT_TEMPLATES: tuple[Template, ...] = (US_REALM_HEADER, CCDA_CARE_PLAN, PHARMACIST_CARE_PLAN)

# Sections: (templates, LOINC code, display, title)
HEALTH_CONCERNS_SECTION = (
    (("2.16.840.1.113883.10.20.22.2.58", CCDA), ("2.16.840.1.113883.10.20.37.2.1", PCP)),
    "75310-3",
    "Health concerns document",
    "Health Concerns",
)
GOALS_SECTION = (
    (("2.16.840.1.113883.10.20.22.2.60", None), ("2.16.840.1.113883.10.20.37.2.2", PCP)),
    "61146-7",
    "Goals",
    "Goals",
)
INTERVENTIONS_SECTION = (
    (("2.16.840.1.113883.10.20.21.2.3", CCDA), ("2.16.840.1.113883.10.20.37.2.4", PCP)),
    "62387-6",
    "Interventions Narrative",
    "Interventions",
)
OUTCOMES_SECTION = (
    (("2.16.840.1.113883.10.20.22.2.61", None), ("2.16.840.1.113883.10.20.37.2.3", PCP)),
    "11383-7",
    "Patient problem outcome",
    "Health Status Evaluations and Outcomes",
)
MEDICATIONS_SECTION = (
    (("2.16.840.1.113883.10.20.22.2.1.1", CCDA_2014),),
    "10160-0",
    "History of Medication use Narrative",
    "Medications",
)
PAYERS_SECTION = (
    (("2.16.840.1.113883.10.20.22.2.18", CCDA),),
    "48768-6",
    "Payment sources Document",
    "Payers",
)

# Entries
HEALTH_CONCERN_ACT: tuple[Template, ...] = (
    ("2.16.840.1.113883.10.20.22.4.132", CCDA),
    ("2.16.840.1.113883.10.20.37.3.8", PCP),
)
PROBLEM_OBSERVATION = "2.16.840.1.113883.10.20.22.4.4"
MEDICATION_THERAPY_PROBLEM: tuple[Template, ...] = (
    (PROBLEM_OBSERVATION, CCDA),
    ("2.16.840.1.113883.10.20.37.3.17", PCP),
)
GOAL_OBSERVATION = "2.16.840.1.113883.10.20.22.4.121"
GOAL: tuple[Template, ...] = ((GOAL_OBSERVATION, None), ("2.16.840.1.113883.10.20.37.3.7", PCP))
INTERVENTION_ACT = "2.16.840.1.113883.10.20.22.4.131"
PLANNED_INTERVENTION_ACT = "2.16.840.1.113883.10.20.22.4.146"
INTERVENTION: tuple[Template, ...] = ((INTERVENTION_ACT, CCDA), ("2.16.840.1.113883.10.20.37.3.15", PCP))
PLANNED_INTERVENTION: tuple[Template, ...] = (
    (PLANNED_INTERVENTION_ACT, CCDA),
    ("2.16.840.1.113883.10.20.37.3.12", PCP),
)
PROCEDURE_ACTIVITY_ACT: Template = ("2.16.840.1.113883.10.20.22.4.12", CCDA_2014)
PLANNED_ACT: Template = ("2.16.840.1.113883.10.20.22.4.39", CCDA_2014)
OUTCOME_OBSERVATION = "2.16.840.1.113883.10.20.22.4.144"
OUTCOME: tuple[Template, ...] = ((OUTCOME_OBSERVATION, None), ("2.16.840.1.113883.10.20.37.3.16", PCP))
MEDICATION_ACTIVITY = "2.16.840.1.113883.10.20.22.4.16"
MEDICATION: tuple[Template, ...] = (
    (MEDICATION_ACTIVITY, CCDA_2014),
    ("2.16.840.1.113883.10.20.37.3.10", PCP),
)
MEDICATION_INFORMATION: Template = ("2.16.840.1.113883.10.20.22.4.23", CCDA_2014)
MEDICATION_DISPENSE = "2.16.840.1.113883.10.20.22.4.18"
DISPENSE: tuple[Template, ...] = ((MEDICATION_DISPENSE, CCDA_2014), ("2.16.840.1.113883.10.20.37.3.11", PCP))
ENTRY_REFERENCE: Template = ("2.16.840.1.113883.10.20.22.4.122", None)
COVERAGE_ACTIVITY: Template = ("2.16.840.1.113883.10.20.22.4.60", CCDA)
POLICY_ACTIVITY = "2.16.840.1.113883.10.20.22.4.61"

# Code systems (OIDs) and the short names used inside openvbc.
CODE_SYSTEM_OIDS: dict[str, str] = {
    "snomed": "2.16.840.1.113883.6.96",
    "loinc": "2.16.840.1.113883.6.1",
    "rxnorm": "2.16.840.1.113883.6.88",
    "ndc": "2.16.840.1.113883.6.69",
    "icd10cm": "2.16.840.1.113883.6.90",
    "cpt": "2.16.840.1.113883.6.12",
    "nucc": "2.16.840.1.113883.6.101",
}
SYSTEM_BY_OID: dict[str, str] = {oid: name for name, oid in CODE_SYSTEM_OIDS.items()}

NPI_ROOT = "2.16.840.1.113883.4.6"
# HL7's example arc (2.16.840.1.113883.19): replace with the organisation's own OID in production
# (the root is a parameter of render_careplan_cda).
DEFAULT_ID_ROOT = "2.16.840.1.113883.19.5.1"
DEFAULT_MEMBER_ROOT = "2.16.840.1.113883.19.5.2"

INTERVENTION_CODE = ("362956003", "Procedure/intervention (navigational concept)")  # SNOMED, fixed by C-CDA
HEALTH_CONCERN_CODE = ("75310-3", "Health concern")  # LOINC
PROBLEM_CODE = ("55607006", "Problem")  # SNOMED, as in the PhCP Condition example category
CARE_PLAN_DOCUMENT_CODE = ("52521-2", "Overall plan of care/advance care directives")  # LOINC
PHARMACIST_TAXONOMY = ("183500000X", "Pharmacist")  # NUCC, as in the PCP sample author

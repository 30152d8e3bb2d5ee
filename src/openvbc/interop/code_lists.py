"""The coded values a plan data package may use (mirroring the comments in openvbc.store.tables)."""

from __future__ import annotations

SEX = frozenset({"F", "M", "U"})
PROVIDER_KINDS = frozenset({"pharmacy", "practice", "clinician", "hospital", "plan"})
# "unknown": clinical (FHIR/EHR) sources that carry no Coverage; no program pays on it.
LINES_OF_BUSINESS = frozenset({"commercial", "medicare", "medicaid", "exchange", "unknown"})
SETTINGS = frozenset({"ambulatory", "ed", "inpatient", "observation", "snf", "home", "virtual"})
CLAIM_TYPES = frozenset({"professional", "institutional"})
MTM_KINDS = frozenset({"CMR", "TMR", "FOLLOWUP"})
PATIENT_STATUSES = frozenset({"new", "established"})
PROCEDURE_KINDS = frozenset({"performed", "ordered", "not-done"})
SOURCES = frozenset({"claim", "ehr", "pharmacist", "patient", "device"})
# ADT triggers the worklists act on (HL7 v2.5.1 table 0003 events A01-A13, A40 merge).
ADT_TRIGGERS = frozenset({"A01", "A02", "A03", "A04", "A08", "A11", "A13", "A40"})
TRUE_WORDS = frozenset({"true", "1", "y", "yes"})
FALSE_WORDS = frozenset({"false", "0", "n", "no"})

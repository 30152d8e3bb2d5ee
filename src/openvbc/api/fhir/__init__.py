"""FHIR R4 endpoints: Patient, Observation, Group and bulk export, Measure operations, metadata."""

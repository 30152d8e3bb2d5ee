"""Exclusions and qualifying visits shared by CMS165, CMS122/GSD and CMS138.

Each function returns per-member evidence ``(member_id, evidence)`` and names the CQL it
implements (QI-Core 4.1.1 libraries shipped with the 2025 eCQMs; see common.py).
"""

from __future__ import annotations

import ibis

from openvbc.engine.measures.common import (
    ORDER_STATUS,
    SYMPTOM_OBSERVATION,
    MeasureData,
    Table,
    describe,
    hits,
    shift_months,
    union_hits,
)

QUALIFYING_OUTPATIENT = (
    "Office Visit",
    "Annual Wellness Visit",
    "Preventive Care Services Established Office Visit, 18 and Up",
    "Preventive Care Services Initial Office Visit, 18 and Up",
    "Home Healthcare Services",
    "Virtual Encounter",
    "Telephone Visits",
)
HOSPICE_DISCHARGES = (
    "Hospice.Discharge to home for hospice care (procedure)",
    "Hospice.Discharge to healthcare facility for hospice care (procedure)",
)
HOSPICE_ASSESSMENT = "Hospice.Hospice care [Minimum Data Set]"
HOSPICE_YES = "Hospice.Yes (qualifier value)"
FACIT_PAL = (
    "PalliativeCare.Functional Assessment of Chronic Illness Therapy - Palliative Care Questionnaire"
    " (FACIT-Pal)"
)
EQUIPMENT_USED = "AdvancedIllnessandFrailty.Medical equipment used"
HOUSING_STATUS = "AdvancedIllnessandFrailty.Housing status"
LIVES_IN_NURSING_HOME = "AdvancedIllnessandFrailty.Lives in a nursing home (finding)"


def qualifying_outpatient_encounters(data: MeasureData) -> Table:
    """AdultOutpatientEncounters 4.11.000 "Qualifying Encounters" (during day of MP)."""
    e = data.encounters(*QUALIFYING_OUTPATIENT)
    e = e.filter(data.during(e.day_start, e.day_end))
    return hits(e, describe("visit", e, "encounter_id", e.day_start))


def has_hospice_services(data: MeasureData) -> Table:
    """Hospice 6.12.000 "Has Hospice Services"."""
    discharge_codes = sorted({code for name in HOSPICE_DISCHARGES for _, code in data.codes.by_name[name]})
    inpatient = data.encounters("Encounter Inpatient")
    inpatient = inpatient.filter(
        inpatient.discharge_disposition.isin(discharge_codes) & data.within(inpatient.day_end)
    )
    hospice_enc = data.encounters("Hospice Encounter")
    hospice_enc = hospice_enc.filter(
        data.overlaps(hospice_enc.day_start, hospice_enc.day_end.fill_null(data.period.end))
    )
    assessment = data.observations(HOSPICE_ASSESSMENT, category="survey")
    assessment = assessment.filter(
        data.value_in(assessment.value_code_system, assessment.value_code, HOSPICE_YES).fill_null(False)
        & data.overlaps(assessment.day_start, assessment.day_end)
    )
    order = data.procedures("Hospice Care Ambulatory", kind="ordered", statuses=ORDER_STATUS)
    order = order.filter(data.during(order.day_start, order.day_end))
    performed = data.procedures("Hospice Care Ambulatory", kind="performed", statuses=("completed",))
    performed = performed.filter(data.overlaps(performed.day_start, performed.day_end))
    diagnosis = data.conditions("Hospice Diagnosis")
    diagnosis = diagnosis.filter(data.overlaps(diagnosis.prev_start, diagnosis.prev_end))
    return union_hits(
        hits(
            inpatient,
            describe("hospice: discharged to hospice", inpatient, "encounter_id", inpatient.day_end),
        ),
        hits(
            hospice_enc,
            describe("hospice: hospice encounter", hospice_enc, "encounter_id", hospice_enc.day_start),
        ),
        hits(
            assessment,
            describe("hospice: assessment says yes", assessment, "observation_id", assessment.day_start),
        ),
        hits(order, describe("hospice: hospice care ordered", order, "procedure_id", order.day_start)),
        hits(
            performed, describe("hospice: hospice care given", performed, "procedure_id", performed.day_start)
        ),
        hits(
            diagnosis, describe("hospice: hospice diagnosis", diagnosis, "condition_id", diagnosis.prev_start)
        ),
    )


def has_palliative_care(data: MeasureData) -> Table:
    """PalliativeCare 1.11.000 "Has Palliative Care in the Measurement Period"."""
    survey = data.observations(FACIT_PAL, category="survey")
    survey = survey.filter(data.overlaps(survey.day_start, survey.day_end))
    diagnosis = data.conditions("Palliative Care Diagnosis")
    diagnosis = diagnosis.filter(data.overlaps(diagnosis.prev_start, diagnosis.prev_end))
    encounter = data.encounters("Palliative Care Encounter")
    encounter = encounter.filter(
        data.overlaps(encounter.day_start, encounter.day_end.fill_null(data.period.end))
    )
    intervention = data.procedures("Palliative Care Intervention", kind="performed", statuses=("completed",))
    intervention = intervention.filter(data.overlaps(intervention.day_start, intervention.day_end))
    return union_hits(
        hits(survey, describe("palliative care: assessment", survey, "observation_id", survey.day_start)),
        hits(
            diagnosis, describe("palliative care: diagnosis", diagnosis, "condition_id", diagnosis.prev_start)
        ),
        hits(
            encounter, describe("palliative care: encounter", encounter, "encounter_id", encounter.day_start)
        ),
        hits(
            intervention,
            describe("palliative care: intervention", intervention, "procedure_id", intervention.day_start),
        ),
    )


def has_frailty(data: MeasureData) -> Table:
    """AdvancedIllnessandFrailty 1.16.000 "Has Criteria Indicating Frailty"."""
    device = data.procedures("Frailty Device", kind="device-order", statuses=ORDER_STATUS)
    device = device.filter(data.during(device.day_start, device.day_end))
    used = data.observations(EQUIPMENT_USED, category="survey")
    used = used.filter(
        data.value_in(used.value_code_system, used.value_code, "Frailty Device").fill_null(False)
        & data.within(used.day_end)
    )
    diagnosis = data.conditions("Frailty Diagnosis")
    diagnosis = diagnosis.filter(data.overlaps(diagnosis.prev_start, diagnosis.prev_end))
    encounter = data.encounters("Frailty Encounter")
    encounter = encounter.filter(
        data.overlaps(encounter.day_start, encounter.day_end.fill_null(data.period.end))
    )
    symptom = data.observations("Frailty Symptom", statuses=SYMPTOM_OBSERVATION)
    symptom = symptom.filter(data.overlaps(symptom.day_start, symptom.day_end))
    return union_hits(
        hits(device, describe("frailty: device ordered", device, "procedure_id", device.day_start)),
        hits(used, describe("frailty: device in use", used, "observation_id", used.day_end)),
        hits(diagnosis, describe("frailty: diagnosis", diagnosis, "condition_id", diagnosis.prev_start)),
        hits(encounter, describe("frailty: encounter", encounter, "encounter_id", encounter.day_start)),
        hits(symptom, describe("frailty: symptom", symptom, "observation_id", symptom.day_start)),
    )


def has_advanced_illness_or_dementia_medication(data: MeasureData) -> Table:
    """ "Has Advanced Illness in Year Before or During MP" or "Has Dementia Medications ..."."""
    year_before = shift_months(data.period.start, -12)
    illness = data.conditions("Advanced Illness")
    illness = illness.filter(data.within(illness.prev_start, year_before, data.period.end))
    medication = data.medication_orders("Dementia Medications", statuses=("active",))
    medication = medication.filter(
        medication.start_date.notnull()
        & medication.end_date.notnull()
        & data.overlaps(medication.start_date, medication.end_date, year_before, data.period.end)
    )
    return union_hits(
        hits(illness, describe("advanced illness: diagnosis", illness, "condition_id", illness.prev_start)),
        hits(
            medication,
            describe(
                "advanced illness: dementia medication",
                medication,
                "medication_order_id",
                medication.start_date,
            ),
        ),
    )


def lives_in_nursing_home(data: MeasureData) -> Table:
    """ "Is Age 66 or Older Living Long Term in a Nursing Home" (the age test is the caller's)."""
    housing = data.observations(HOUSING_STATUS, category="survey")
    housing = housing.filter(housing.day_end <= data.period.end)
    # Last(... sort by end of effective): the latest assessment decides; ties take the highest id
    ranked = housing.mutate(
        position=ibis.row_number().over(
            group_by="member_id",
            order_by=[
                housing.effective_end.fill_null(housing.effective_at).desc(),
                housing.observation_id.desc(),
            ],
        )
    )
    latest = ranked.filter(ranked.position == 0)
    latest = latest.filter(
        data.value_in(latest.value_code_system, latest.value_code, LIVES_IN_NURSING_HOME).fill_null(False)
    )
    return hits(
        latest, describe("lives in a nursing home: housing status", latest, "observation_id", latest.day_end)
    )

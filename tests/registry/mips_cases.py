"""A small practice for the MIPS tests; every expected count is worked out by hand below.

TIN 123456789 has clinicians A and B; clinician C bills under TIN 987654321. A member's result
belongs to the clinicians who rendered their qualifying visits (office visit CPT 99213).

236 (CMS165, hypertension I10 since 2020):
  101 A, BP 130/80 -> met ; 102 A, BP 150/85 -> not met ; 103 B, no BP -> not met ;
  104 C (other TIN), BP 120/70 -> not counted for TIN 123456789 ; 105 A, ESRD N18.6 -> excluded.
  TIN 123456789: IPOP 4, DENOM 4, DENEX 1, NUMER 1 -> eCQM notMet = 4 - 1 - 0 - 1 = 2.
001 (CMS122, inverse, diabetes E11.9): 201 A HbA1c 9.5 % -> numerator (poor control);
  202 A HbA1c 7.0 % -> not ; 203 A no HbA1c -> numerator (missing counts as poor).
  IPOP 3, DENOM 3, NUMER 2 -> notMet 1.
226 (CMS138, two office visits each, all with A): 301 screened non-user ; 302 screened user, no
  intervention ; 303 never screened.
  screenedForUse: DENOM 3, NUMER 2 (301, 302) -> notMet 1
  intervention: the CQL's Initial Population is shared by the three groups (IPOP 3); the second
    Denominator keeps the tobacco users: DENOM 1 (302), NUMER 0 -> notMet 1
  overall: DENOM 3, NUMER 1 (301) -> notMet 2
Individual B (TIN/NPI): 236 has only 103: IPOP 1, DENOM 1, NUMER 0 -> notMet 1; 001 and 226 empty.
"""

from __future__ import annotations

from openvbc.domain.npi import make_npi
from registry.world import D, World

TIN = "123456789"
OTHER_TIN = "987654321"
NPI_A = make_npi("170000001")
NPI_B = make_npi("170000002")
NPI_C = make_npi("170000003")
BORN = D(1975, 2, 1)


def build_mips_world() -> World:
    w = World()
    w.add_provider(NPI_A, "clinician", TIN, "Dr A")
    w.add_provider(NPI_B, "clinician", TIN, "Dr B")
    w.add_provider(NPI_C, "clinician", OTHER_TIN, "Dr C")
    for member in (101, 102, 103, 104, 105, 201, 202, 203, 301, 302, 303):
        w.add_member(member, BORN)
    bp = {101: (130, 80), 102: (150, 85), 104: (120, 70), 105: (128, 78)}
    for member, npi in ((101, NPI_A), (102, NPI_A), (103, NPI_B), (104, NPI_C), (105, NPI_A)):
        w.add_condition(member, "I10", D(2020, 1, 1))
        w.add_encounter(member, D(2025, 3, 1), provider_npi=npi)
        if member in bp:
            systolic, diastolic = bp[member]
            w.add_observation(member, D(2025, 6, 1), "8480-6", systolic, "mm[Hg]", panel=f"bp{member}")
            w.add_observation(member, D(2025, 6, 1), "8462-4", diastolic, "mm[Hg]", panel=f"bp{member}")
    w.add_condition(105, "N18.6", D(2024, 1, 1))
    for member, a1c in ((201, 9.5), (202, 7.0), (203, None)):
        w.add_condition(member, "E11.9", D(2019, 1, 1))
        w.add_encounter(member, D(2025, 4, 1), provider_npi=NPI_A)
        if a1c is not None:
            w.add_observation(member, D(2025, 5, 1), "4548-4", a1c, "%", category="laboratory")
    answers = {301: "105539002", 302: "110483000"}  # SNOMED non-smoker / tobacco user (CMS138 value sets)
    for member in (301, 302, 303):
        w.add_encounter(member, D(2025, 2, 1), provider_npi=NPI_A)
        w.add_encounter(member, D(2025, 8, 1), provider_npi=NPI_A)
        if member in answers:
            w.add_observation(
                member, D(2025, 2, 1), "68535-4", None, None, category="survey", value_code=answers[member]
            )
    return w


# quality id -> stratum -> (IPOP, DENOM, DENEX, DENEXCEP, NUMER)
EXPECTED_GROUP = {
    "236": {"overall": (4, 4, 1, 0, 1)},
    "001": {"overall": (3, 3, 0, 0, 2)},
    "226": {"screenedForUse": (3, 3, 0, 0, 2), "intervention": (3, 1, 0, 0, 0), "overall": (3, 3, 0, 0, 1)},
}
EXPECTED_INDIVIDUAL_B = {
    "236": {"overall": (1, 1, 0, 0, 0)},
    "001": {"overall": (0, 0, 0, 0, 0)},
    "226": {"screenedForUse": (0, 0, 0, 0, 0), "intervention": (0, 0, 0, 0, 0), "overall": (0, 0, 0, 0, 0)},
}

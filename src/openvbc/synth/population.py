"""Members: demographics, line of business, chronic conditions, enrolment, death and hospice.

One call draws a whole chunk of members with numpy; every later module reads these arrays.
Days are offsets from 1 January of the measurement year (0 = Jan 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openvbc.synth.arrays import (
    BoolArray,
    FloatArray,
    IntArray,
    choose,
    format_keys,
    join_keys,
    take_strings,
    to_date32,
)
from openvbc.synth.places import CITIES, FEMALE_NAMES, LAST_NAMES, MALE_NAMES, STREETS
from openvbc.synth.profile import Profile
from openvbc.synth.providers import ProviderNetwork

LINES_OF_BUSINESS = ["commercial", "medicaid", "medicare", "exchange"]
SEX_CODES = ["F", "M", "U"]
NO_DAY = -1  # "never" in day-offset arrays
HISPANIC, NOT_HISPANIC = "2135-2", "2186-5"  # CDC race and ethnicity codes


@dataclass(frozen=True)
class PlanYear:
    """The measurement year: calendar arithmetic in epoch days."""

    year: int

    @property
    def first_day(self) -> int:
        return (date(self.year, 1, 1) - date(1970, 1, 1)).days

    @property
    def days(self) -> int:
        return (date(self.year + 1, 1, 1) - date(self.year, 1, 1)).days


@dataclass
class MemberBatch:
    """A chunk of members as parallel arrays (index i is the i-th member of the chunk)."""

    number: IntArray  # global member number: member_key is M + 9 digits of it
    lob: IntArray
    band: IntArray
    age: IntArray  # age on 31 December of the year
    birth: IntArray  # epoch day
    sex: IntArray
    htn: BoolArray
    dm: BoolArray
    dm_type1: BoolArray
    tobacco: BoolArray
    tobacco_quit: IntArray  # day a user quits, NO_DAY if not during the year
    esrd: BoolArray
    start: IntArray  # first covered day
    end: IntArray  # last covered day (death, disenrolment or 31 Dec)
    death: IntArray
    disenrolled: BoolArray
    gap_start: IntArray  # a coverage gap [gap_start, gap_end], NO_DAY if none
    gap_end: IntArray
    hospice: IntArray  # day hospice care starts, NO_DAY if none
    hospice_via_discharge: BoolArray
    pcp: IntArray  # clinician index, -1 if none
    home_pharmacy: IntArray
    home_hospital: IntArray
    adherence: FloatArray  # latent medication-taking propensity in (0, 1)
    no_care: BoolArray  # members with no encounters or claims at all

    @property
    def size(self) -> int:
        return len(self.number)

    def covered(self, owner: IntArray, day: IntArray) -> BoolArray:
        """True where ``day`` falls inside the owner's coverage (outside any gap)."""
        inside = (day >= self.start[owner]) & (day <= self.end[owner])
        in_gap = (day >= self.gap_start[owner]) & (day <= self.gap_end[owner])
        return inside & ~in_gap

    def keys(self, owner: IntArray | None = None) -> pa.Array:
        numbers = self.number if owner is None else self.number[owner]
        return format_keys("M", numbers, 9)

    def chronic_count(self) -> IntArray:
        return self.htn.astype(np.int64) + self.dm + self.esrd + self.tobacco


def draw_members(
    rng: np.random.Generator,
    first_number: int,
    count: int,
    profile: Profile,
    network: ProviderNetwork,
    plan_year: PlanYear,
) -> MemberBatch:
    """Draw ``count`` members numbered from ``first_number``."""
    n, ndays = count, plan_year.days
    lob_codes, lob_p = profile.weighted("line_of_business", "share")
    lob_order = np.array([LINES_OF_BUSINESS.index(code) for code in lob_codes])
    lob = lob_order[choose(rng, lob_p, n)]
    band_w = np.array(
        [profile.section("line_of_business", "age_band_weights", name) for name in LINES_OF_BUSINESS]
    )
    band = _choose_by(rng, band_w, lob)
    low = np.array([b[0] for b in profile.section("age_bands")])
    high = np.array([b[1] for b in profile.section("age_bands")])
    age = low[band] + np.floor(rng.random(n) * (high[band] - low[band] + 1)).astype(np.int64)
    # Born in (year - age): age on 31 December is exactly ``age``.
    birth_year_start = np.array(
        [(date(plan_year.year - a, 1, 1) - date(1970, 1, 1)).days for a in range(0, 102)]
    )
    # Births during the plan year are not modelled: a newborn's claims would need every event
    # generator to start at birth, so the youngest members are born in the year before.
    birth = birth_year_start[np.maximum(age, 1)] + np.floor(rng.random(n) * 365).astype(np.int64)

    female = rng.random(n) < profile.by_band("sex", "female_share_by_band")[band]
    sex = np.where(female, 0, 1)
    sex[rng.random(n) < profile.section("sex", "unknown_share")] = 2

    chronic = profile.section("chronic_conditions")
    htn = rng.random(n) < profile.by_band("chronic_conditions", "hypertension", "by_band")[band]
    dm = rng.random(n) < profile.by_band("chronic_conditions", "diabetes", "by_band")[band]
    dm_type1 = dm & ((rng.random(n) < chronic["diabetes"]["type1_share"]) | (age < 18))
    tob_p = profile.by_band("chronic_conditions", "tobacco", "by_band")[band]
    tob_p = np.where(
        lob == LINES_OF_BUSINESS.index("medicaid"), tob_p * chronic["tobacco"]["medicaid_multiplier"], tob_p
    )
    tobacco = (rng.random(n) < tob_p) & (age >= 12)
    quits = tobacco & (rng.random(n) < chronic["tobacco"]["quit_during_year_share"])
    tobacco_quit = np.where(quits, rng.integers(30, ndays - 30, n), NO_DAY)
    esrd = rng.random(n) < profile.by_band("chronic_conditions", "esrd", "by_band")[band]

    enrol = profile.section("enrolment")
    start = np.where(rng.random(n) < enrol["enrol_after_january_share"], rng.integers(20, 300, n), 0)
    death_p = profile.by_band("mortality", "annual_rate_by_band")[band]
    dies = rng.random(n) < death_p
    death = np.where(dies, start + np.floor(rng.random(n) * (ndays - start)).astype(np.int64), NO_DAY)
    disenrol_p = np.array([enrol["disenrol_during_year"][name] for name in LINES_OF_BUSINESS])[lob]
    disenrolled = ~dies & (rng.random(n) < disenrol_p)
    disenrol_day = start + 30 + np.floor(rng.random(n) * np.maximum(1, ndays - 60 - start)).astype(np.int64)
    end = np.where(dies, death, np.where(disenrolled, disenrol_day, ndays - 1))
    has_gap = (rng.random(n) < enrol["coverage_gap_share"]) & (end - start > 150)
    gap_start = np.where(has_gap, start + 60 + rng.integers(0, 30, n), NO_DAY)
    gap_end = np.where(has_gap, gap_start + rng.integers(31, 61, n), NO_DAY)

    hospice_cfg = profile.section("hospice")
    hospice_before_death = dies & (rng.random(n) < profile.section("mortality", "hospice_before_death_share"))
    living_hospice = ~dies & (rng.random(n) < profile.by_band("hospice", "living_in_hospice_by_band")[band])
    hospice = np.full(n, NO_DAY, dtype=np.int64)
    hospice = np.where(hospice_before_death, np.maximum(start, death - rng.integers(3, 60, n)), hospice)
    hospice = np.where(
        living_hospice,
        start + np.floor(rng.random(n) * np.maximum(1, end - start - 20)).astype(np.int64),
        hospice,
    )
    hospice_via_discharge = (hospice != NO_DAY) & (rng.random(n) < hospice_cfg["discharge_to_hospice_share"])

    prov = profile.section("providers")
    pcp = choose(rng, network.clinician_weight, n)
    pcp[rng.random(n) < prov["no_pcp_share"]] = -1
    beta = profile.section("pharmacy", "adherence_beta")
    no_care_share = profile.section("utilisation", "office_visits", "none_share")
    no_care = (rng.random(n) < no_care_share) & ~htn & ~dm & ~esrd & (hospice == NO_DAY)
    return MemberBatch(
        number=np.arange(first_number, first_number + n, dtype=np.int64),
        lob=lob,
        band=band,
        age=age,
        birth=birth,
        sex=sex,
        htn=htn,
        dm=dm,
        dm_type1=dm_type1,
        tobacco=tobacco,
        tobacco_quit=tobacco_quit,
        esrd=esrd,
        start=start,
        end=end,
        death=death,
        disenrolled=disenrolled,
        gap_start=gap_start,
        gap_end=gap_end,
        hospice=hospice,
        hospice_via_discharge=hospice_via_discharge,
        pcp=pcp,
        home_pharmacy=choose(rng, network.pharmacy_weight, n),
        home_hospital=choose(rng, network.hospital_weight, n),
        adherence=rng.beta(beta["a"], beta["b"], n),
        no_care=no_care,
    )


def _choose_by(rng: np.random.Generator, weights: FloatArray, group: IntArray) -> IntArray:
    """One categorical draw per row, with the weight row picked by ``group``."""
    cdf = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    return (rng.random(len(group))[:, None] > cdf[group]).sum(axis=1).astype(np.int64)


def build_member_columns(
    rng: np.random.Generator,
    batch: MemberBatch,
    profile: Profile,
    network: ProviderNetwork,
    plan_year: PlanYear,
) -> dict[str, object]:
    """Columns of members.csv for the batch."""
    n = batch.size
    first_f = take_strings(FEMALE_NAMES, rng.integers(0, len(FEMALE_NAMES), n))
    first_m = take_strings(MALE_NAMES, rng.integers(0, len(MALE_NAMES), n))
    first = pc.if_else(pa.array(batch.sex == 0), first_f, first_m)
    race_codes, race_p = profile.weighted("race", "race_codes")
    hispanic = rng.random(n) < profile.section("race", "hispanic_share")
    city = rng.integers(0, len(CITIES), n)
    street = take_strings(STREETS, rng.integers(0, len(STREETS), n))
    house = pc.cast(pa.array(rng.integers(10, 9999, n)), pa.string())
    has_pcp = batch.pcp >= 0
    pcp_npi = network.clinician_npi.take(pa.array(np.where(has_pcp, batch.pcp, 0), mask=~has_pcp))
    died = batch.death != NO_DAY
    return {
        "member_key": batch.keys(),
        "first_name": first,
        "last_name": take_strings(LAST_NAMES, rng.integers(0, len(LAST_NAMES), n)),
        "birth_date": to_date32(batch.birth),
        "sex": take_strings(SEX_CODES, batch.sex),
        "race": take_strings(race_codes, choose(rng, race_p, n)),
        "ethnicity": take_strings([NOT_HISPANIC, HISPANIC], hispanic.astype(np.int64)),
        "address": join_keys(house, " ", street),
        "city": take_strings([c[0] for c in CITIES], city),
        "state": take_strings([c[1] for c in CITIES], city),
        "zip": take_strings([c[2] for c in CITIES], city),
        "line_of_business": take_strings(LINES_OF_BUSINESS, batch.lob),
        "pcp_npi": pcp_npi,
        "death_date": pa.array(
            np.where(died, plan_year.first_day + batch.death, 0).astype(np.int32),
            type=pa.date32(),
            mask=~died,
        ),
    }


def build_coverage_columns(
    rng: np.random.Generator, batch: MemberBatch, profile: Profile, plan_year: PlanYear
) -> dict[str, object]:
    """Columns of coverage.csv: one span per member, two when the member has a gap."""
    has_gap = batch.gap_start != NO_DAY
    owner = np.concatenate([np.arange(batch.size), np.flatnonzero(has_gap)])
    second = np.concatenate([np.zeros(batch.size, dtype=bool), np.ones(int(has_gap.sum()), dtype=bool)])
    order = np.lexsort((second, owner))
    owner, second = owner[order], second[order]
    start = np.where(second, batch.gap_end[owner] + 1, batch.start[owner])
    end = np.where(has_gap[owner] & ~second, batch.gap_start[owner] - 1, batch.end[owner])
    # Members still covered on 31 December have an open-ended span.
    open_end = (end == plan_year.days - 1) & ~(has_gap[owner] & ~second)
    # Members who joined in January of an earlier year: coverage began before the measurement year.
    continuing = start == 0
    start_epoch = plan_year.first_day + start - np.where(continuing, rng.integers(0, 3650, len(owner)), 0)
    plan_codes = profile.section("line_of_business", "plan_codes")
    # Every synthetic member has the pharmacy benefit, so fills never fall outside rx coverage.
    rx = np.ones(len(owner), dtype=bool)
    return {
        "coverage_key": join_keys(
            format_keys("V", batch.number[owner], 9),
            "-",
            pc.cast(pa.array(second.astype(np.int64) + 1), pa.string()),
        ),
        "member_key": batch.keys(owner),
        "line_of_business": take_strings(LINES_OF_BUSINESS, batch.lob[owner]),
        "plan_code": take_strings([plan_codes[name] for name in LINES_OF_BUSINESS], batch.lob[owner]),
        "start_date": to_date32(start_epoch),
        "end_date": pa.array((plan_year.first_day + end).astype(np.int32), type=pa.date32(), mask=open_end),
        "rx_benefit": pa.array(rx),
    }

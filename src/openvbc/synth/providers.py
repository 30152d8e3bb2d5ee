"""Pharmacies (with chains), primary care practices with their clinicians, hospitals and pharmacists.

Counts scale with the number of members (about one pharmacy per 1,000 members by default) and
sizes follow Zipf-like long tails: a few large providers, many small ones. Every NPI is made by
:func:`openvbc.domain.npi.make_npi`, so it passes the Luhn check digit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from openvbc.domain.npi import make_npi
from openvbc.synth.arrays import FloatArray, IntArray, choose, zipf_weights
from openvbc.synth.places import CHAIN_NAMES, CITIES, FEMALE_NAMES, LAST_NAMES, MALE_NAMES, STREETS
from openvbc.synth.profile import Profile

_NPI_BASE = 130_000_000  # nine-digit bodies count up from here; NPIs start with 1 like real ones


@dataclass(frozen=True)
class ProviderNetwork:
    """The plan's providers, as NPIs plus the weights members choose them by."""

    pharmacy_npi: pa.Array
    pharmacy_weight: FloatArray
    pharmacist_npi: pa.Array  # ``pharmacists_per_pharmacy`` per pharmacy, pharmacy-major order
    pharmacists_per_pharmacy: int
    clinician_npi: pa.Array
    clinician_weight: FloatArray
    clinician_practice: IntArray  # index into practice_npi
    practice_npi: pa.Array
    hospital_npi: pa.Array
    hospital_weight: FloatArray
    table_rows: dict[str, list[str | None]]

    @property
    def pharmacy_count(self) -> int:
        return len(self.pharmacy_npi)


class _NpiSerial:
    """Hands out consecutive valid NPIs."""

    def __init__(self) -> None:
        self.next_body = _NPI_BASE

    def take(self, count: int) -> list[str]:
        bodies = range(self.next_body, self.next_body + count)
        self.next_body += count
        return [make_npi(str(body)) for body in bodies]


def build_network(rng: np.random.Generator, members: int, profile: Profile) -> ProviderNetwork:
    """Draw the provider network for a plan of ``members`` members."""
    p = profile.section("providers")
    tax = p["taxonomies"]
    serial = _NpiSerial()
    rows: dict[str, list[str | None]] = {
        name: []
        for name in (
            "npi",
            "kind",
            "name",
            "taxonomy",
            "parent_npi",
            "tin",
            "address",
            "city",
            "state",
            "zip",
        )
    }
    city_weight = zipf_weights(len(CITIES), 1.0)

    def add(npi: str, kind: str, name: str, taxonomy: str, parent: str | None, tin: str | None) -> None:
        city, state, zip_code = CITIES[int(choose(rng, city_weight, 1)[0])]
        street = STREETS[int(rng.integers(len(STREETS)))]
        for column, value in (
            ("npi", npi),
            ("kind", kind),
            ("name", name),
            ("taxonomy", taxonomy),
            ("parent_npi", parent),
            ("tin", tin),
            ("address", f"{int(rng.integers(100, 9999))} {street}"),
            ("city", city),
            ("state", state),
            ("zip", zip_code),
        ):
            rows[column].append(value)

    def tin() -> str:
        return f"{int(rng.integers(10, 99))}{int(rng.integers(1_000_000, 9_999_999))}"

    # Pharmacies: chains own a share of the stores (store counts per chain are Zipf-like);
    # chain head offices are listed as pharmacy organisations that stores name as parent_npi.
    n_pharmacies = max(5, round(members / p["members_per_pharmacy"]))
    n_chains = min(len(CHAIN_NAMES), max(1, n_pharmacies // 25))
    chain_npis = serial.take(n_chains)
    chain_tins = [tin() for _ in range(n_chains)]
    for index, npi in enumerate(chain_npis):
        add(npi, "pharmacy", f"{CHAIN_NAMES[index]} Corporate", tax["pharmacy"], None, chain_tins[index])
    is_chain = rng.random(n_pharmacies) < p["chain_store_share"]
    chain_of = choose(rng, zipf_weights(n_chains, p["stores_per_chain_zipf"]), n_pharmacies)
    pharmacy_npis = serial.take(n_pharmacies)
    pharmacist_npis = serial.take(n_pharmacies * p["pharmacists_per_pharmacy"])
    for index, npi in enumerate(pharmacy_npis):
        if is_chain[index]:
            chain = int(chain_of[index])
            add(
                npi,
                "pharmacy",
                f"{CHAIN_NAMES[chain]} #{index + 1}",
                tax["pharmacy"],
                chain_npis[chain],
                chain_tins[chain],
            )
        else:
            owner = LAST_NAMES[int(rng.integers(len(LAST_NAMES)))]
            add(npi, "pharmacy", f"{owner} Family Pharmacy", tax["pharmacy"], None, tin())
        for slot in range(p["pharmacists_per_pharmacy"]):
            add(
                pharmacist_npis[index * p["pharmacists_per_pharmacy"] + slot],
                "clinician",
                _person_name(rng, "PharmD"),
                tax["pharmacist"],
                npi,
                None,
            )

    # Practices and their clinicians: practice sizes are Zipf-like, capped.
    n_practices = max(2, round(members / p["members_per_practice"]))
    n_clinicians = max(n_practices, round(members / p["members_per_clinician"]))
    size_weight = zipf_weights(n_practices, p["clinicians_per_practice_zipf"])
    sizes = np.maximum(1, np.minimum(p["max_clinicians_per_practice"], np.round(size_weight * n_clinicians)))
    practice_npis = serial.take(n_practices)
    clinician_practice = np.repeat(np.arange(n_practices), sizes.astype(np.int64))
    clinician_npis = serial.take(len(clinician_practice))
    for index, npi in enumerate(practice_npis):
        city = CITIES[index % len(CITIES)][0]
        add(npi, "practice", f"{city} Family Medicine {index + 1}", tax["practice"], None, tin())
    for index, npi in enumerate(clinician_npis):
        add(
            npi,
            "clinician",
            _person_name(rng, "MD"),
            tax["clinician"],
            practice_npis[int(clinician_practice[index])],
            None,
        )

    n_hospitals = max(2, round(members / p["members_per_hospital"]))
    hospital_npis = serial.take(n_hospitals)
    for index, npi in enumerate(hospital_npis):
        city = CITIES[index % len(CITIES)][0]
        add(npi, "hospital", f"{city} Regional Hospital {index + 1}", tax["hospital"], None, tin())

    # Shuffle which provider is large so NPI order does not give the size away.
    return ProviderNetwork(
        pharmacy_npi=pa.array(pharmacy_npis),
        pharmacy_weight=rng.permutation(zipf_weights(n_pharmacies, p["pharmacy_zipf"])),
        pharmacist_npi=pa.array(pharmacist_npis),
        pharmacists_per_pharmacy=p["pharmacists_per_pharmacy"],
        clinician_npi=pa.array(clinician_npis),
        clinician_weight=rng.permutation(zipf_weights(len(clinician_npis), p["clinician_zipf"])),
        clinician_practice=clinician_practice.astype(np.int64),
        practice_npi=pa.array(practice_npis),
        hospital_npi=pa.array(hospital_npis),
        hospital_weight=rng.permutation(zipf_weights(n_hospitals, 1.0)),
        table_rows=rows,
    )


def _person_name(rng: np.random.Generator, suffix: str) -> str:
    first = FEMALE_NAMES if rng.random() < 0.5 else MALE_NAMES
    return f"{first[int(rng.integers(len(first)))]} {LAST_NAMES[int(rng.integers(len(LAST_NAMES)))]} {suffix}"

"""ADT events of a chunk as parallel arrays, gathered by the hospital modules before keys and
messages are made (see :mod:`openvbc.synth.adt`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from openvbc.synth.arrays import IntArray


@dataclass
class AdtRows:
    """ADT events of a chunk, before keys and messages are made (see :mod:`openvbc.synth.adt`)."""

    owner: list[IntArray] = field(default_factory=list)
    trigger: list[np.ndarray] = field(default_factory=list)
    patient_class: list[np.ndarray] = field(default_factory=list)
    event_at: list[IntArray] = field(default_factory=list)
    admit_at: list[IntArray] = field(default_factory=list)
    discharge_at: list[IntArray] = field(default_factory=list)  # -1 = none
    facility: list[IntArray] = field(default_factory=list)
    visit: list[pa.Array] = field(default_factory=list)
    disposition: list[np.ndarray] = field(default_factory=list)  # "" = none

    def add(
        self,
        owner: IntArray,
        trigger: str,
        patient_class: str,
        event_at: IntArray,
        admit_at: IntArray,
        discharge_at: IntArray | None,
        facility: IntArray,
        visit: pa.Array,
        disposition: np.ndarray | None,
    ) -> None:
        m = len(owner)
        self.owner.append(owner)
        self.trigger.append(np.full(m, trigger, dtype=object))
        self.patient_class.append(np.full(m, patient_class, dtype=object))
        self.event_at.append(event_at)
        self.admit_at.append(admit_at)
        self.discharge_at.append(np.full(m, -1, dtype=np.int64) if discharge_at is None else discharge_at)
        self.facility.append(facility)
        self.visit.append(visit)
        self.disposition.append(np.full(m, "", dtype=object) if disposition is None else disposition)

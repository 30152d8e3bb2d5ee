"""ADT events as package rows (adt_events) and as HL7 v2.5.1 messages.

Messages are built column-wise with Arrow string kernels: MSH, EVN, PID and PV1 segments,
separated by carriage returns (HL7 v2 §2.5), one message per event. MSH-10 (control id) is the
member number plus a per-member sequence, so it is unique across the whole plan whatever the
chunking; ``event_key`` is ``MSH-3|MSH-4|MSH-10``, the same string the HL7 importer builds
(``openvbc.interop.hl7v2.adt.format_event_key``), so both import paths de-duplicate alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openvbc.synth.adt_rows import AdtRows
from openvbc.synth.arrays import format_keys, hl7_datetimes, join_keys, null_where, rank_within, to_timestamp
from openvbc.synth.population import MemberBatch
from openvbc.synth.providers import ProviderNetwork
from openvbc.synth.tables import ChunkTables

SENDING_APPLICATION = "OPENVBC-SYNTH"
RECEIVING = ("OPENVBC", "PLAN")
MESSAGE_STRUCTURE = {"A01": "ADT_A01", "A03": "ADT_A03", "A04": "ADT_A01", "A08": "ADT_A01"}
LOCATION = {"E": "ED", "I": "MED"}


@dataclass
class Hl7Batch:
    """HL7 messages of a chunk with the epoch day of their event (for one file per day)."""

    day: np.ndarray
    message: pa.Array


def finish_adt(
    batch: MemberBatch,
    rows: AdtRows,
    network: ProviderNetwork,
    member_columns: dict[str, object],
    out: ChunkTables,
) -> Hl7Batch:
    if not rows.owner:
        return Hl7Batch(np.zeros(0, np.int64), pa.array([], pa.string()))
    owner = np.concatenate(rows.owner)
    event_at = np.concatenate(rows.event_at)
    order = np.lexsort((event_at, owner))
    owner, event_at = owner[order], event_at[order]
    take = pa.array(order)
    trigger = pa.array(np.concatenate(rows.trigger)[order].tolist(), pa.string())
    patient_class = pa.array(np.concatenate(rows.patient_class)[order].tolist(), pa.string())
    admit_at = np.concatenate(rows.admit_at)[order]
    discharge_raw = np.concatenate(rows.discharge_at)[order]
    facility = np.concatenate(rows.facility)[order]
    visit = pa.concat_arrays([v.cast(pa.string()) for v in rows.visit]).take(take)
    disposition_raw = np.concatenate(rows.disposition)[order]
    disposition = null_where(pa.array(disposition_raw.tolist(), pa.string()), disposition_raw == "")
    facility_npi = network.hospital_npi.take(pa.array(facility))
    control = format_keys("", batch.number[owner] * 1000 + rank_within(owner) + 1, 12)
    member_key = batch.keys(owner)
    event_ts = to_timestamp(event_at)
    admit_ts = to_timestamp(admit_at)
    discharge_ts = null_where(to_timestamp(np.maximum(discharge_raw, 0)), discharge_raw < 0)
    out.add(
        "adt_events",
        {
            "event_key": join_keys(SENDING_APPLICATION, "|", facility_npi, "|", control),
            "member_key": member_key,
            "trigger": trigger,
            "patient_class": patient_class,
            "event_at": event_ts,
            "admit_at": admit_ts,
            "discharge_at": discharge_ts,
            "facility_npi": facility_npi,
            "visit_number": visit,
            "discharge_disposition": disposition,
        },
    )

    def hl7_time(values: pa.Array) -> pa.Array:
        text = hl7_datetimes(values.cast(pa.int64()).fill_null(0).to_numpy())
        return pc.if_else(pc.is_null(values), "", text) if values.null_count else text

    members = pa.table({k: member_columns[k] for k in ("first_name", "last_name", "birth_date", "sex")})
    person = members.take(pa.array(owner))
    structure = pc.if_else(pc.equal(trigger, "A03"), MESSAGE_STRUCTURE["A03"], MESSAGE_STRUCTURE["A01"])
    msh = pc.binary_join_element_wise(
        "MSH",
        "^~\\&",
        SENDING_APPLICATION,
        facility_npi,
        RECEIVING[0],
        RECEIVING[1],
        hl7_time(event_ts),
        "",
        join_keys("ADT^", trigger, "^", structure),
        control,
        "P",
        "2.5.1",
        "|",
    )
    evn = pc.binary_join_element_wise("EVN", trigger, hl7_time(event_ts), "|")
    pid = pc.binary_join_element_wise(
        "PID",
        "1",
        "",
        join_keys(member_key, "^^^OPENVBC^MR"),
        "",
        join_keys(
            person.column("last_name").combine_chunks(), "^", person.column("first_name").combine_chunks()
        ),
        "",
        pc.utf8_slice_codeunits(
            hl7_time(person.column("birth_date").combine_chunks().cast(pa.timestamp("s"))), 0, 8
        ),
        person.column("sex").combine_chunks(),
        "|",
    )
    location = join_keys(
        pc.if_else(pc.equal(patient_class, "E"), LOCATION["E"], LOCATION["I"]), "^^^", facility_npi
    )
    # PV1 fields 1..45: class (2), location (3), visit number (19), disposition (36),
    # admit (44), discharge (45).
    fields: list[object] = [""] * 46
    fields[0] = "PV1"
    fields[1], fields[2], fields[3] = "1", patient_class, location
    fields[19] = visit
    fields[36] = pc.fill_null(disposition, "")
    fields[44] = hl7_time(admit_ts)
    fields[45] = hl7_time(discharge_ts)
    pv1 = pc.binary_join_element_wise(*fields, "|")
    message = pc.binary_join_element_wise(msh, evn, pid, pv1, "", "\r")
    return Hl7Batch(day=event_at // 86_400, message=message)

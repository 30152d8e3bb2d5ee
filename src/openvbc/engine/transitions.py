"""Transitions of care: the day's ED visits and discharges with their flags (Ibis, any backend).

One expression over the ``encounter`` table (domain-rules.md §A11; PatientPing flag glossary):

- an **ED visit** is an encounter in setting ``ed`` whose start falls on the day;
- a **discharge** is a finished ``inpatient`` / ``observation`` / ``snf`` encounter whose end
  falls on the day;
- **high utilizer**: three or more ED visits whose start lies in the 60 days ending on the event
  day (the visit itself included);
- **readmission within 30 days**: the event's own start (ED arrival or admission) comes no more
  than 30 days after the end of an earlier *inpatient* stay of the same member.

Cancelled encounters (A11) count for nothing. The expression takes a table and a date and
returns a table; the caller decides where the rows come from and where the answer goes.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import ibis

DISCHARGE_SETTINGS = ("inpatient", "observation", "snf")
READMISSION_INDEX_SETTINGS = ("inpatient",)
IGNORED_STATUSES = ("cancelled", "entered-in-error")
HIGH_UTILIZER_VISITS = 3
HIGH_UTILIZER_WINDOW_DAYS = 60
READMISSION_WINDOW_DAYS = 30

EVENT_COLUMNS = (
    "member_id",
    "encounter_key",
    "event_kind",
    "event_at",
    "event_date",
    "episode_start",
    "setting",
    "facility_npi",
    "discharge_disposition",
    "ed_visits_60d",
    "high_utilizer",
    "readmission_30d",
)


def find_transition_events(encounters: Any, day: date) -> Any:
    """ED visits and discharges that happened on ``day``, one row each, with both flags."""
    usable = encounters.filter(~encounters.status.isin(IGNORED_STATUSES))
    ed = usable.filter(usable.setting == "ed")
    ed_events = ed.select(
        member_id=ed.member_id,
        encounter_key=ed.encounter_key,
        event_kind=ibis.literal("ed_visit"),
        event_at=ed.start_at,
        episode_start=ed.start_at,
        setting=ed.setting,
        facility_npi=ed.facility_npi,
        discharge_disposition=ed.discharge_disposition,
    )
    stays = usable.filter(
        usable.setting.isin(DISCHARGE_SETTINGS) & usable.end_at.notnull() & (usable.status == "finished")
    )
    discharge_events = stays.select(
        member_id=stays.member_id,
        encounter_key=stays.encounter_key,
        event_kind=ibis.literal("discharge"),
        event_at=stays.end_at,
        episode_start=stays.start_at,
        setting=stays.setting,
        facility_npi=stays.facility_npi,
        discharge_disposition=stays.discharge_disposition,
    )
    events = ed_events.union(discharge_events)
    events = events.mutate(event_date=events.event_at.date())
    events = events.filter(events.event_date == ibis.literal(day))

    # ED visits in the 60 days ending on the event day.
    window_start = ibis.literal(day - timedelta(days=HIGH_UTILIZER_WINDOW_DAYS - 1))
    visits = ed.select(v_member=ed.member_id, v_day=ed.start_at.date())
    visits = visits.filter((visits.v_day >= window_start) & (visits.v_day <= ibis.literal(day)))
    counts = (
        events.select(c_key=events.encounter_key, c_member=events.member_id)
        .join(visits, [ibis._.c_member == visits.v_member])
        .group_by("c_key")
        .aggregate(ed_visits_60d=ibis._.count())
    )

    # Earlier inpatient stays that ended within 30 days before this event's start.
    index = usable.filter(usable.setting.isin(READMISSION_INDEX_SETTINGS) & usable.end_at.notnull())
    index = index.select(i_member=index.member_id, i_key=index.encounter_key, i_end=index.end_at)
    base = events.select(r_key=events.encounter_key, r_member=events.member_id, r_start=events.episode_start)
    readmits = (
        base.join(index, [base.r_member == index.i_member])
        .filter(
            (ibis._.i_key != ibis._.r_key)
            & (ibis._.i_end <= ibis._.r_start)
            & (ibis._.i_end.date() >= ibis._.r_start.date() - ibis.interval(days=READMISSION_WINDOW_DAYS))
        )
        .group_by("r_key")
        .aggregate(prior_stays=ibis._.count())
    )

    joined = events.left_join(counts, events.encounter_key == counts.c_key).left_join(
        readmits, events.encounter_key == readmits.r_key
    )
    n_visits = joined.ed_visits_60d.fill_null(0).cast("int64")
    return joined.select(
        member_id=joined.member_id,
        encounter_key=joined.encounter_key,
        event_kind=joined.event_kind,
        event_at=joined.event_at,
        event_date=joined.event_date,
        episode_start=joined.episode_start,
        setting=joined.setting,
        facility_npi=joined.facility_npi,
        discharge_disposition=joined.discharge_disposition,
        ed_visits_60d=n_visits,
        high_utilizer=n_visits >= HIGH_UTILIZER_VISITS,
        readmission_30d=joined.prior_stays.fill_null(0) > 0,
    ).order_by(["member_id", "event_at", "encounter_key"])

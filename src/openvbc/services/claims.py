"""Use case: bill MTM encounters not yet billed as one 837P interchange (plus a CSV copy).

One database transaction covers the whole run: take the next control numbers from
``x12_counter``, select encounters with no ``claim_submission``, code them under the payer's unit
rule, build and validate the 837P (our element checks, then pyx12), record one
``claim_submission`` per encounter, and write the file. The file is written and flushed to a
``.partial`` name before the commit and renamed after it, so a crash can leave an unsent file
but never a billed-twice encounter (the unique ``(source_kind, source_key)`` key backs this up).
Those steps are shared with the care-management claims and live in
:mod:`openvbc.services.claim_files`; this module holds what is MTM's own (units, CSV copy).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.domain.mtm_units import MtmUnitRule, PatientStatus, classify_patient_status, code_mtm_encounter
from openvbc.interop.x12.build_837p import Claim, Envelope, Payer, RenderingProvider, ServiceLine
from openvbc.rules.billing_schema import FeeScheduleFile, load_fee_schedule, load_mtm_unit_rule
from openvbc.services import claim_files
from openvbc.services.care_claims import generate_care_claims
from openvbc.services.claim_files import ClaimsProfile, ClaimsRun
from openvbc.store.tables import member, mtm_encounter, provider

__all__ = ["ClaimsProfile", "ClaimsRun", "generate_ccm_claims", "generate_mtm_claims", "generate_tcm_claims"]

SOURCE_KIND = "mtm"


@dataclass(frozen=True)
class _Pending(claim_files.PendingClaim):
    encounter: dict[str, Any]  # the mtm_encounter + member row, for the CSV copy


def generate_mtm_claims(
    engine: Engine,
    profile: ClaimsProfile,
    *,
    out: Path,
    now: datetime,
    since: date | None = None,
    csv_out: Path | None = None,
) -> ClaimsRun:
    """Write the 837P (and CSV) for every MTM encounter not billed yet; record them as billed."""
    claim_files.refuse_existing_files(out, csv_out)
    unit_rule = load_mtm_unit_rule(profile.unit_rule_path)
    fees = load_fee_schedule(profile.fee_schedule_path)
    run = ClaimsRun()
    with claim_files.open_billing_transaction(engine) as billing:
        envelope = claim_files.reserve_envelope(billing.conn, profile, now)
        pending = _code_unbilled(billing.conn, unit_rule, fees, profile, since, run)
        if not pending:
            return run
        claim_files.bill_pending_claims(
            billing, envelope, profile, pending, out=out, now=now, billing_role="pharmacy"
        )
        if csv_out is not None:
            billing.write_file(csv_out, _render_csv(pending, envelope))
    run.csv_out = csv_out
    return claim_files.summarize_run(run, pending, envelope, out)


def _code_unbilled(
    conn: Connection,
    rule: MtmUnitRule,
    fees: FeeScheduleFile,
    profile: ClaimsProfile,
    since: date | None,
    run: ClaimsRun,
) -> list[_Pending]:
    query = (
        select(mtm_encounter, member)
        .join(member, member.c.member_id == mtm_encounter.c.member_id)
        .where(claim_files.is_unbilled(SOURCE_KIND, mtm_encounter.c.mtm_key))
        .order_by(mtm_encounter.c.pharmacy_npi, mtm_encounter.c.service_date, mtm_encounter.c.mtm_key)
    )
    if since is not None:
        query = query.where(mtm_encounter.c.service_date >= since)
    issues: list[InputIssue] = []
    pending: list[_Pending] = []
    for row in conn.execute(query).mappings():
        encounter = dict(row)
        status = _patient_status(conn, encounter, rule)
        coding = code_mtm_encounter(encounter["minutes"], status, encounter["kind"], rule)
        if not coding.lines:
            run.skipped.append(
                {"mtm_key": encounter["mtm_key"], "reason": coding.reason or "no billable units"}
            )
            continue
        lines = []
        for line in coding.lines:
            if line.code not in fees.charges:
                issues.append(
                    InputIssue(profile.fee_schedule_path, None, "charges", f"no charge for {line.code}")
                )
                continue
            unit_charge = Decimal(fees.charges[line.code])
            lines.append(
                ServiceLine(
                    line.code, unit_charge * line.units, line.units, encounter["service_date"], line.modifiers
                )
            )
        claim = _claim(conn, encounter, tuple(lines), fees, profile, issues)
        if claim is not None:
            pending.append(
                _Pending(SOURCE_KIND, encounter["mtm_key"], encounter["pharmacy_npi"], claim, encounter)
            )
    if issues:
        raise InvalidInput(issues)
    return pending


def _patient_status(conn: Connection, encounter: dict[str, Any], rule: MtmUnitRule) -> PatientStatus:
    # History can only turn "new" into "established": a second 99605 inside the payer's look-back
    # would be denied. Service before our records began is known only to the pharmacist.
    if encounter["patient_status"] == "established":
        return "established"
    earlier = conn.execute(
        select(mtm_encounter.c.service_date).where(
            mtm_encounter.c.member_id == encounter["member_id"],
            mtm_encounter.c.pharmacy_npi == encounter["pharmacy_npi"],
            mtm_encounter.c.service_date < encounter["service_date"],
        )
    ).scalars()
    return classify_patient_status(encounter["service_date"], list(earlier), rule.new_patient_lookback_days)


def _claim(
    conn: Connection,
    encounter: dict[str, Any],
    lines: tuple[ServiceLine, ...],
    fees: FeeScheduleFile,
    profile: ClaimsProfile,
    issues: list[InputIssue],
) -> Claim | None:
    source = f"mtm_encounter {encounter['mtm_key']}"
    missing = claim_files.list_subscriber_gaps(encounter)
    issues.extend(missing)
    filing = fees.claim_filing_indicator_by_line_of_business.get(encounter["line_of_business"])
    if filing is None:
        issues.append(
            InputIssue(
                profile.fee_schedule_path,
                None,
                "claim_filing_indicator_by_line_of_business",
                f"no claim filing indicator for line of business {encounter['line_of_business']!r}",
            )
        )
    pharmacist = (
        conn.execute(select(provider).where(provider.c.npi == encounter["pharmacist_npi"])).mappings().first()
    )
    if pharmacist is None:
        issues.append(
            InputIssue(source, None, "pharmacist_npi", f"provider {encounter['pharmacist_npi']} not on file")
        )
    if missing or filing is None or pharmacist is None:
        return None
    last, first = claim_files.split_person_name(pharmacist["name"])
    return Claim(
        source=source,
        claim_id=f"MTM{encounter['mtm_encounter_id']}",
        subscriber=claim_files.build_subscriber(encounter, filing),
        payer=Payer(profile.payer_name, profile.payer_id),
        place_of_service=fees.place_of_service,
        diagnoses=claim_files.list_claim_diagnoses(conn, encounter["member_id"], fees.fallback_diagnosis),
        lines=lines,
        rendering=RenderingProvider(encounter["pharmacist_npi"], last, first, pharmacist["taxonomy"]),
    )


CSV_COLUMNS = (
    "claim_id",
    "mtm_key",
    "member_key",
    "pharmacy_npi",
    "pharmacist_npi",
    "service_date",
    "line_number",
    "procedure_code",
    "modifiers",
    "units",
    "charge",
    "diagnoses",
    "interchange_control_number",
)


def _render_csv(pending: Sequence[_Pending], envelope: Envelope) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in pending:
        for number, line in enumerate(p.claim.lines, start=1):
            writer.writerow(
                [
                    p.claim.claim_id,
                    p.encounter["mtm_key"],
                    p.encounter["member_key"],
                    p.encounter["pharmacy_npi"],
                    p.encounter["pharmacist_npi"],
                    line.service_date.isoformat(),
                    number,
                    line.procedure_code,
                    "|".join(line.modifiers),
                    line.units,
                    f"{line.charge:.2f}",
                    "|".join(p.claim.diagnoses),
                    f"{envelope.interchange_control_number:09d}",
                ]
            )
    return buffer.getvalue()


# --- care management claims (CCM / PCM months, TCM cases) -----------------------------------


def generate_ccm_claims(
    engine: Engine, profile: ClaimsProfile, *, month: str, out: Path, now: datetime
) -> ClaimsRun:
    """Write the 837P for the coded CCM/PCM patient-months of ``month`` (YYYY-MM) not billed yet."""
    return generate_care_claims(engine, profile, kind="ccm", month=month, out=out, now=now)


def generate_tcm_claims(
    engine: Engine, profile: ClaimsProfile, *, month: str, out: Path, now: datetime
) -> ClaimsRun:
    """Write the 837P for TCM cases coded with a face-to-face visit in ``month`` not billed yet."""
    return generate_care_claims(engine, profile, kind="tcm", month=month, out=out, now=now)

"""TCM deadlines with the holiday calendar and the 99495/99496 choice (domain-rules.md §A4)."""

from __future__ import annotations

from datetime import date

from openvbc.domain.tcm import TcmCase, TcmResult, add_business_days, code_tcm, open_tcm_case
from openvbc.rules.billing_schema import load_tcm_rule
from openvbc.rules.loader import load_holidays

RULE = load_tcm_rule()
HOLIDAYS = load_holidays(2025)


def open_case(discharge: date) -> TcmCase:
    case = open_tcm_case(discharge, "inpatient", "home", HOLIDAYS, RULE)
    assert isinstance(case, TcmCase)
    return case


def test_contact_deadline_skips_the_weekend_and_a_holiday() -> None:
    # Friday 2025-07-03 discharge: Fri 4 July is a federal holiday, Sat/Sun skipped,
    # so the two business days are Mon 7 and Tue 8 July.
    assert open_case(date(2025, 7, 3)).contact_due == date(2025, 7, 8)
    # Wednesday discharge with no holiday: Thursday and Friday.
    assert add_business_days(date(2025, 3, 5), 2, HOLIDAYS) == date(2025, 3, 7)


def test_visit_deadlines_and_service_period() -> None:
    case = open_case(date(2025, 3, 5))
    assert case.visit_due_by_code == {"99496": date(2025, 3, 12), "99495": date(2025, 3, 19)}
    assert case.service_period_end == date(2025, 4, 3)  # 30 days counting the discharge day


def test_high_mdm_within_7_days_is_99496_and_day_8_is_99495() -> None:
    case = open_case(date(2025, 3, 5))
    day7 = code_tcm(case, date(2025, 3, 6), date(2025, 3, 12), "high", date(2025, 3, 12), RULE)
    day8 = code_tcm(case, date(2025, 3, 6), date(2025, 3, 13), "high", date(2025, 3, 13), RULE)
    assert day7 == TcmResult("99496", ())
    assert day8.code == "99495"


def test_moderate_mdm_within_7_days_is_99495() -> None:
    case = open_case(date(2025, 3, 5))
    assert (
        code_tcm(case, date(2025, 3, 7), date(2025, 3, 10), "moderate", date(2025, 3, 10), RULE).code
        == "99495"
    )


def test_late_contact_or_late_visit_bills_nothing_with_reasons() -> None:
    case = open_case(date(2025, 3, 5))
    late_contact = code_tcm(case, date(2025, 3, 10), date(2025, 3, 11), "high", date(2025, 3, 11), RULE)
    assert late_contact.code is None and "outside" in late_contact.reasons[0]
    late_visit = code_tcm(case, date(2025, 3, 6), date(2025, 3, 20), "high", date(2025, 3, 20), RULE)
    assert late_visit.code is None and len(late_visit.reasons) == 2
    low = code_tcm(case, date(2025, 3, 6), date(2025, 3, 10), "low", date(2025, 3, 10), RULE)
    assert low.code is None and any("moderate" in reason for reason in low.reasons)


def test_discharge_to_a_snf_does_not_open_a_case() -> None:
    result = open_tcm_case(date(2025, 3, 5), "inpatient", "snf", HOLIDAYS, RULE)
    assert isinstance(result, TcmResult) and "community" in result.reasons[0]

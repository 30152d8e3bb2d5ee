"""Date arguments of the care-coordination commands, rejected with the option's name."""

from __future__ import annotations

from datetime import date, datetime

from openvbc.domain.errors import InputIssue, InvalidInput


def parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            [InputIssue("command line", None, option, f"{text!r} is not YYYY-MM-DD")]
        ) from None


def parse_moment(text: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            [InputIssue("command line", None, option, f"{text!r} is not YYYY-MM-DDTHH:MM")]
        ) from None

"""Which module evaluates which measure.

Each entry points to ``evaluate(tables, rule, period) -> ibis table`` with the columns of
``openvbc.engine.canonical.MEMBER_RESULT_COLUMNS`` (extra columns allowed after them).
Modules are imported lazily so a missing optional backend never breaks the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

MEASURE_EVALUATORS: dict[str, str] = {
    "CMS165": "openvbc.engine.measures.cms165:evaluate",
    "CMS122": "openvbc.engine.measures.cms122:evaluate",
    "GSD": "openvbc.engine.measures.gsd:evaluate",
    "CMS138": "openvbc.engine.measures.cms138:evaluate",
    "TOBACCO-FREE": "openvbc.engine.measures.tobacco_free:evaluate",
    "PDC-DR": "openvbc.engine.adherence:evaluate",
    "PDC-RASA": "openvbc.engine.adherence:evaluate",
    "PDC-STA": "openvbc.engine.adherence:evaluate",
}


def find_evaluator(measure_id: str) -> Callable[..., Any]:
    """Return the evaluate function for a measure id (KeyError names the known ids)."""
    try:
        target = MEASURE_EVALUATORS[measure_id.upper()]
    except KeyError:
        known = ", ".join(sorted(MEASURE_EVALUATORS))
        raise KeyError(f"unknown measure {measure_id!r}; known: {known}") from None
    module_name, function_name = target.split(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module_name), function_name)
    return function

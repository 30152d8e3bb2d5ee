"""Validation of X12 text with pyx12 (azoner/pyx12, BSD-3-Clause) and its 005010X222A1 map.

pyx12 walks the document against the implementation-guide map and reports structure, code and
length errors plus envelope mismatches (ISA13/IEA02, GS06/GE02, ST02/SE02, SE01 counts). We read
its JSON error report and return one readable line per error; an empty list means valid.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any


class ValidatorUnavailable(RuntimeError):
    """pyx12 is not installed."""


def validate_x12(text: str) -> list[str]:
    """Every error pyx12 finds in ``text`` (empty when the document is valid)."""
    try:
        import pyx12.params
        import pyx12.x12n_document
    except ImportError as error:  # pragma: no cover - pyx12 is a declared dependency
        raise ValidatorUnavailable("pyx12 is needed to validate X12 (pip install pyx12==4.0.0)") from error
    params = pyx12.params.params()
    report = io.StringIO()
    logger = logging.getLogger("pyx12")
    # pyx12 logs each error as well as reporting it; the report is what we return.
    previous_level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        ok = pyx12.x12n_document.x12n_document(
            param=params, src_file=io.StringIO(text), fd_997=None, fd_html=None, fd_json=report
        )
    except Exception as error:  # pyx12 raises on documents it cannot walk at all
        return [f"pyx12 could not read the document: {error}"]
    finally:
        logger.setLevel(previous_level)
    problems = list(_collect_errors(json.loads(report.getvalue() or "{}"), ""))
    if not ok and not problems:
        problems.append("pyx12 rejected the document without a detailed error")
    return problems


def _collect_errors(node: Any, where: str) -> Iterator[str]:
    if isinstance(node, dict):
        here = where
        for key in ("seg_id", "trn_set_control_num", "gs_control_num", "isa_trn_set_id"):
            if key in node and node[key] is not None:
                here = f"{where}/{key}={node[key]}"
                break
        for error in node.get("errors", []) or []:
            yield f"{here}: {_describe(error)}"
        for key, value in node.items():
            if key != "errors" and isinstance(value, (list, dict)):
                yield from _collect_errors(value, here)
    elif isinstance(node, list):
        for item in node:
            yield from _collect_errors(item, where)


def _describe(error: Any) -> str:
    if isinstance(error, dict):
        parts = [f"{key}={value}" for key, value in error.items() if value not in (None, "")]
        return ", ".join(parts)
    return str(error)

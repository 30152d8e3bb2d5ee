"""The one error type C-CDA reading raises: every problem found, by file, line and element."""

from __future__ import annotations

from openvbc.domain.errors import InvalidInput


class CcdaInputError(InvalidInput):
    """A C-CDA document that is not XML, has the wrong root, or lacks a required template."""

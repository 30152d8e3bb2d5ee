"""National Drug Code normalisation to the 11-digit 5-4-2 billing form.

FDA NDCs are 10 digits in one of three hyphenated layouts (4-4-2, 5-3-2, 5-4-1); claims
carry the 11-digit form made by zero-padding the short segment (CMS/NCPDP convention).
"""

from __future__ import annotations

import re

_HYPHENATED = re.compile(r"^(\d{4,5})-(\d{3,4})-(\d{1,2})$")


class NdcError(ValueError):
    """An NDC that cannot be normalised."""


def normalize_ndc(raw: str) -> str:
    """Return the 11-digit NDC for a hyphenated 10-digit, 11-digit or 5-4-2 hyphenated code."""
    value = raw.strip()
    match = _HYPHENATED.match(value)
    if match:
        labeler, product, package = match.groups()
        layout = (len(labeler), len(product), len(package))
        if layout not in {(4, 4, 2), (5, 3, 2), (5, 4, 1), (5, 4, 2)}:
            raise NdcError(f"NDC {raw!r} has segment layout {layout}, not 4-4-2, 5-3-2, 5-4-1 or 5-4-2")
        return labeler.zfill(5) + product.zfill(4) + package.zfill(2)
    if value.isdigit() and len(value) == 11:
        return value
    if value.isdigit() and len(value) == 10:
        # An unhyphenated 10-digit NDC is ambiguous: the layout cannot be recovered.
        raise NdcError(f"NDC {raw!r} is 10 digits without hyphens; its 4-4-2/5-3-2/5-4-1 layout is ambiguous")
    raise NdcError(f"NDC {raw!r} is not an 11-digit code or a hyphenated 10-digit code")


def format_ndc11(ndc11: str) -> str:
    """Hyphenate an 11-digit NDC as 5-4-2."""
    return f"{ndc11[:5]}-{ndc11[5:9]}-{ndc11[9:]}"

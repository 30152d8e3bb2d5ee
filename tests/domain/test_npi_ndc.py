"""NPI check digits and NDC normalisation against published examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openvbc.domain.ndc import NdcError, format_ndc11, normalize_ndc
from openvbc.domain.npi import compute_npi_check_digit, is_valid_npi, make_npi


def test_cms_worked_example() -> None:
    # CMS "NPI check digit" example: body 123456789 -> check digit 3 (NPI 1234567893).
    assert compute_npi_check_digit("123456789") == 3
    assert is_valid_npi("1234567893")
    assert not is_valid_npi("1234567890")


@pytest.mark.parametrize("bad", ["", "123", "12345678901", "abcdefghij", "123456789X"])
def test_malformed_npis_are_invalid(bad: str) -> None:
    assert not is_valid_npi(bad)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_made_npis_validate_and_any_single_digit_change_breaks_them(body: str) -> None:
    npi = make_npi(body)
    assert is_valid_npi(npi)
    last = int(npi[-1])
    for other in range(10):
        if other != last:
            assert not is_valid_npi(npi[:-1] + str(other))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # FDA layouts padded to 5-4-2 (CMS NDC 11-digit conversion convention)
        ("1234-5678-90", "01234567890"),  # 4-4-2 -> pad labeler
        ("12345-678-90", "12345067890"),  # 5-3-2 -> pad product
        ("12345-6789-0", "12345678900"),  # 5-4-1 -> pad package
        ("12345-6789-01", "12345678901"),  # already 5-4-2
        ("12345678901", "12345678901"),
    ],
)
def test_ndc_layouts_normalise_to_eleven_digits(raw: str, expected: str) -> None:
    assert normalize_ndc(raw) == expected
    assert format_ndc11(expected).replace("-", "") == expected


@pytest.mark.parametrize("bad", ["1234567890", "123-4567-89", "12345-67890-1", "abc", "1234-567-8"])
def test_ambiguous_or_malformed_ndcs_are_rejected(bad: str) -> None:
    with pytest.raises(NdcError):
        normalize_ndc(bad)

"""National Provider Identifier validation.

The NPI check digit is the Luhn mod-10 digit computed over the nine identifier digits
prefixed with the constant 80840 (CMS, "Requirements for NPI check digit", NPI final rule
45 CFR 162.406). Adding 24 to the Luhn sum of the nine digits is the same thing.
"""

from __future__ import annotations

_PREFIX_SUM = 24  # Luhn contribution of the "80840" card-issuer prefix


def compute_npi_check_digit(first_nine: str) -> int:
    """Return the check digit for the first nine digits of an NPI."""
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError("an NPI body is nine digits")
    total = _PREFIX_SUM
    # Double every second digit from the right of the full 10-digit number, i.e. the
    # first, third, ... digit of the nine-digit body.
    for index, char in enumerate(first_nine):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def is_valid_npi(value: str) -> bool:
    """True when ``value`` is ten digits whose last digit is the NPI Luhn check digit."""
    if len(value) != 10 or not value.isdigit():
        return False
    return compute_npi_check_digit(value[:9]) == int(value[9])


def make_npi(first_nine: str) -> str:
    """Complete a nine-digit body into a valid NPI (used by the synthetic generator)."""
    return first_nine + str(compute_npi_check_digit(first_nine))

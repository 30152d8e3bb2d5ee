"""Arrow helpers that replaced per-row Python loops (worked by hand below)."""

from __future__ import annotations

import pyarrow as pa

from openvbc.services.attribution import compare_methods
from openvbc.services.payments import group_member_ids


def test_group_member_ids_sorts_and_splits_by_pharmacy() -> None:
    """Rows (pharmacy, member): (2, 9) (1, 5) (2, 3) (1, 4) -> P1 (4, 5), P2 (3, 9); empty -> {}."""
    table = pa.table({"pharmacy_id": [2, 1, 2, 1], "member_id": [9, 5, 3, 4]})
    assert group_member_ids(table) == {1: (4, 5), 2: (3, 9)}
    assert group_member_ids(table.slice(0, 0)) == {}


def test_compare_methods_counts_each_member_once() -> None:
    """M1 both P1 (same); M2 P2 vs P3 (different); M3 and M6 one side only; M4 neither; M5 only right.

    same 1, different 1, only_one 3 (M3, M5, M6), neither 1 (M4).
    """
    left = pa.table({"member_id": [1, 2, 3, 4, 6], "provider_id": [1, 2, 7, None, None]})
    right = pa.table({"member_id": [1, 2, 3, 4, 5, 6], "provider_id": [1, 3, None, None, 8, 4]})
    assert compare_methods(left, right) == {"same": 1, "different": 1, "only_one": 3, "neither": 1}

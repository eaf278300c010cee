"""How a what-if plan uses a B-tree for a LIKE/ILIKE search, and whether that holds for real search terms.

A B-tree cannot find the rows of `col ILIKE '%term%'`; the planner may still choose one for such a statement:

- ``index_condition``: the pattern is an Index Cond. PostgreSQL derives one only from a left-anchored literal
  prefix (docs 11.2 "Index Types": `col LIKE 'foo%'`, with the C collation or text_pattern_ops), so it does not
  hold for a '%term%' search term. Does not hold.
- ``ordered_scan_until_limit``: an Index Scan read in ORDER BY order with the pattern as a Filter below a Limit:
  it stops after LIMIT matches, cheap only while matches are common; a rare term reads the whole index and
  table. Does not hold.
- ``index_only_scan``: the pattern is tested on a narrow index instead of the table's rows (an Index Only
  Scan): every search term reads less. Holds.
- ``other_condition``: the index is used for another condition of the statement (an equality, a range, a
  join); the pattern is applied to the rows it finds. Holds.
"""

from __future__ import annotations

from typing import Any

#: way → (holds for real search terms, how a finding words it)
WAYS = {
    "index_condition": (False, "uses the pattern as an index condition, which PostgreSQL derives only from a "
                               "left-anchored literal prefix, not from a '%term%' search"),
    "ordered_scan_until_limit": (False, "walks the index in ORDER BY order and tests each row against the "
                                        "pattern until LIMIT rows match: cheap only while matches are common, "
                                        "a rare term reads the whole index and table"),
    "index_only_scan": (True, "tests the pattern on the narrow index instead of the table's rows (an Index "
                              "Only Scan), which reads less for every search term"),
    "other_condition": (True, "finds rows by another condition of the statement and applies the pattern to "
                              "those rows only"),
}


def _mentions(text: str | None, cols: list[str]) -> bool:
    return bool(text) and "~~" in text and any(c in text for c in cols)


def pattern_way(plan: dict[str, Any], index_name: str, pattern_cols: list[str]) -> str | None:
    """The way (a WAYS key) the plan uses index `index_name` for a statement searching `pattern_cols` with
    LIKE/ILIKE; None when the plan does not use the index."""
    found = None

    def visit(node: dict[str, Any], under_limit: bool) -> None:
        nonlocal found
        under = under_limit or node.get("Node Type") == "Limit"
        if node.get("Index Name") == index_name and found is None:
            if _mentions(node.get("Index Cond"), pattern_cols):
                found = "index_condition"
            elif node.get("Node Type") == "Index Only Scan":
                found = "index_only_scan"
            elif node.get("Index Cond") or node.get("Node Type") == "Bitmap Index Scan":
                found = "other_condition"
            else:  # a full index scan read for its order, the pattern as a Filter
                found = "ordered_scan_until_limit"
        for child in node.get("Plans", []) or []:
            visit(child, under)

    visit(plan, False)
    return found


def describe(way: str | None) -> tuple[bool, str]:
    """(holds for real search terms, wording) for a way; an unknown way is not claimed."""
    if way in WAYS:
        return WAYS[way]
    return False, "was not checked against the what-if plan"

"""Facts taken from EXPLAIN (FORMAT JSON) plans for the rules beyond indexes: memory-hungry nodes and their
estimated size (PG008), and every node's estimated versus actual rows (PG009). Pure functions of plan dicts.

Memory estimates follow PostgreSQL 15's own data structures:

- a Sort keeps, per tuple, a SortTuple (24 bytes) and a MinimalTuple (16-byte header + the row, MAXALIGNed)
  in a Generation memory context (24-byte chunk header): rows × (MAXALIGN(width) + 64) bytes
  (src/backend/utils/sort/tuplesort.c; measured within 10% of "Sort Space Used" on PostgreSQL 15 for rows of
  8 and 49 bytes);
- a Hash (join) keeps rows × (HJTUPLE_OVERHEAD 16 + MAXALIGN(SizeofMinimalTupleHeader) 16 + MAXALIGN(width))
  plus one 8-byte bucket pointer per row (src/backend/executor/nodeHash.c, ExecChooseHashTableSize);
- a hashed Aggregate keeps, per group, about the same as a sort tuple (nodeAgg.c, hash_agg_entry_size), so
  the sort formula is used.

Sorts get work_mem, hash nodes work_mem × hash_mem_multiplier (PostgreSQL docs 20.4.1).
"""

from __future__ import annotations

from typing import Any

MAXALIGN = 8
SORT_TUPLE_OVERHEAD_BYTES = 64
HASH_TUPLE_OVERHEAD_BYTES = 16 + 16 + 8

#: Node types that hold rows in work_mem (or work_mem × hash_mem_multiplier) and write temp files beyond it.
_SORTS = ("Sort", "Incremental Sort")


def _maxalign(n: float) -> float:
    return float(-(-int(n) // MAXALIGN) * MAXALIGN)


def walk(plan: dict[str, Any], depth: int = 0):
    """(node, depth) for every node of a plan, depth first."""
    yield plan, depth
    for child in plan.get("Plans", []) or []:
        yield from walk(child, depth + 1)


def memory_kind(node: dict[str, Any]) -> str | None:
    """"sort" or "hash" for a node that holds its input in memory, else None."""
    t = node.get("Node Type")
    if t in _SORTS:
        return "sort"
    if t == "Hash":
        return "hash"
    if t in ("Aggregate", "SetOp") and node.get("Strategy") in ("Hashed", "Mixed"):
        return "hash"
    return None


def estimated_bytes(node: dict[str, Any]) -> float:
    """The planner-estimated memory a Sort/Hash/hashed Aggregate node needs (see the module docstring)."""
    rows = float(node.get("Plan Rows") or 0)
    width = _maxalign(node.get("Plan Width") or 0)
    if node.get("Node Type") == "Hash":
        return rows * (width + HASH_TUPLE_OVERHEAD_BYTES)
    return rows * (width + SORT_TUPLE_OVERHEAD_BYTES)


def memory_nodes(plan: dict[str, Any] | None) -> list[dict[str, Any]]:
    """[{node_type, kind ("sort"|"hash"), plan_rows, plan_width, estimated_bytes, key}] for each node that
    holds rows in memory. `key` is the sort key or hash condition, for the reader."""
    out = []
    for node, _ in walk(plan or {}):
        kind = memory_kind(node)
        if kind is None:
            continue
        key = node.get("Sort Key") or node.get("Group Key") or node.get("Hash Cond")
        out.append({"node_type": node.get("Node Type"), "kind": kind, "plan_rows": node.get("Plan Rows"),
                    "plan_width": node.get("Plan Width"), "estimated_bytes": round(estimated_bytes(node)),
                    "key": ", ".join(key) if isinstance(key, list) else key})
    return out


#: Fields of an EXPLAIN ANALYZE node the snapshot keeps (JSON name → snapshot name).
_KEEP = {"Node Type": "node_type", "Relation Name": "relation", "Alias": "alias", "Index Name": "index_name",
         "Join Type": "join_type", "Strategy": "strategy", "Plan Rows": "plan_rows", "Plan Width": "plan_width",
         "Actual Rows": "actual_rows", "Actual Loops": "actual_loops", "Actual Total Time": "actual_total_time_ms",
         "Filter": "filter", "Index Cond": "index_cond", "Recheck Cond": "recheck_cond",
         "Join Filter": "join_filter", "Hash Cond": "hash_cond", "Merge Cond": "merge_cond",
         "Rows Removed by Filter": "rows_removed_by_filter", "Sort Method": "sort_method",
         "Sort Space Used": "sort_space_used_kb", "Sort Space Type": "sort_space_type",
         "Peak Memory Usage": "peak_memory_usage_kb", "Hash Batches": "hash_batches",
         "Original Hash Batches": "original_hash_batches", "Disk Usage": "disk_usage_kb",
         "HashAgg Batches": "hashagg_batches", "Workers Launched": "workers_launched",
         "Parent Relationship": "parent_relationship"}


def compact(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of an EXPLAIN (ANALYZE) plan as a flat dict (fields of _KEEP that are present) with `id`
    (depth-first position) and `parent` (its parent's id, None for the top node). Sort/hash nodes of parallel
    workers report their own space: the largest of the leader's and the workers' is kept."""
    out: list[dict[str, Any]] = []

    def visit(node: dict[str, Any], parent: int | None) -> None:
        item = {"id": len(out), "parent": parent}
        item.update({short: node[name] for name, short in _KEEP.items() if name in node})
        for w in node.get("Workers") or []:
            used = w.get("Sort Space Used")
            if used is not None and used > (item.get("sort_space_used_kb") or 0):
                item["sort_space_used_kb"], item["sort_space_type"] = used, w.get("Sort Space Type")
            if w.get("Disk Usage"):
                item["disk_usage_kb"] = max(item.get("disk_usage_kb") or 0, w["Disk Usage"])
        kind = memory_kind(node)
        if kind:
            item["kind"] = kind
        out.append(item)
        for child in node.get("Plans", []) or []:
            visit(child, item["id"])

    visit(plan, None)
    return out


def spilled(node: dict[str, Any]) -> bool:
    """Whether an EXPLAIN ANALYZE node (compact form) wrote temp files: an external sort, a hash join with
    more than one batch, a hashed aggregate that used disk."""
    return (node.get("sort_space_type") == "Disk" or (node.get("hash_batches") or 1) > 1
            or (node.get("disk_usage_kb") or 0) > 0)


def memory_used_kb(node: dict[str, Any]) -> float | None:
    """Memory an in-memory sort/hash node used (kB): Sort Space Used (Memory) or Peak Memory Usage."""
    if node.get("sort_space_type") == "Memory":
        return float(node["sort_space_used_kb"])
    if node.get("peak_memory_usage_kb") is not None:
        return float(node["peak_memory_usage_kb"])
    return None


def disk_used_kb(node: dict[str, Any]) -> float:
    """Temp-file space a node used (kB): an external sort's Sort Space Used, a hashed aggregate's Disk Usage;
    for a multi-batch hash join, its peak memory × batches (the batches written out)."""
    if node.get("sort_space_type") == "Disk":
        return float(node.get("sort_space_used_kb") or 0)
    if node.get("disk_usage_kb"):
        return float(node["disk_usage_kb"])
    if (node.get("hash_batches") or 1) > 1:
        return float(node.get("peak_memory_usage_kb") or 0) * (node["hash_batches"] - 1)
    return 0.0


def row_error(node: dict[str, Any]) -> float | None:
    """How far the estimate is off: max(estimate, actual) / min(estimate, actual), both per loop and at least
    one row (so 0 actual rows against 40 estimated is 40×). None for a node that never ran."""
    loops = node.get("actual_loops")
    if not loops or node.get("actual_rows") is None or node.get("plan_rows") is None:
        return None
    est, act = max(float(node["plan_rows"]), 1.0), max(float(node["actual_rows"]), 1.0)
    return max(est, act) / min(est, act)

"""PG012 dead-tuples and PG013 stale-statistics: tables that autovacuum is not keeping clean or analysed.

Autovacuum starts on a table when its dead rows exceed
``autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor × reltuples`` and analyses it when the rows changed
since the last ANALYZE exceed ``autovacuum_analyze_threshold + autovacuum_analyze_scale_factor × reltuples``
(PostgreSQL docs 25.1.6 "The Autovacuum Daemon"; per-table storage parameters override both). A table past
AUTOVACUUM_LAG_FACTOR × its trigger has been left behind: autovacuum is off for it, or cannot keep up (cost
limits, a long transaction holding back the xmin horizon), or the table changes faster than it is visited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from advisor.model import Finding
from analyzers.postgres import ruleutil

#: A table is "left behind" past this multiple of its autovacuum trigger (perfadvisor's convention: twice the
#: point at which autovacuum should have started, so a table merely waiting for the next naptime is not
#: flagged). thresholds.postgres.autovacuum_lag_factor.
AUTOVACUUM_LAG_FACTOR = 2.0
#: Dead rows share of all rows at which PG012 speaks; 0.2 is autovacuum_vacuum_scale_factor's default
#: (PostgreSQL docs 20.10). thresholds.postgres.dead_tuple_share.
DEAD_TUPLE_SHARE = 0.2
#: …and at least this many dead rows (perfadvisor's convention: smaller tables cost little to scan).
#: thresholds.postgres.dead_tuples_min.
DEAD_TUPLES_MIN = 10_000
#: PG013 speaks for tables with at least this many rows changed since the last ANALYZE (perfadvisor's
#: convention). thresholds.postgres.stale_min_modified_rows.
STALE_MIN_MODIFIED_ROWS = 1000
#: Defaults of the autovacuum settings when the snapshot lacks them (PostgreSQL 15 docs 20.10).
_DEFAULTS = {"autovacuum_vacuum_threshold": 50.0, "autovacuum_vacuum_scale_factor": 0.2,
             "autovacuum_analyze_threshold": 50.0, "autovacuum_analyze_scale_factor": 0.1}
REFERENCES = (ruleutil.DOCS + "routine-vacuuming.html#AUTOVACUUM",
              ruleutil.DOCS + "runtime-config-autovacuum.html", ruleutil.DOCS + "sql-analyze.html")


def _param(table: dict[str, Any], section: dict[str, Any], name: str) -> float:
    own = ruleutil.reloption(table, name)
    if own is not None:
        try:
            return float(own)
        except ValueError:
            pass
    return ruleutil.setting_float(section, name, _DEFAULTS[name]) or _DEFAULTS[name]


def _rows(table: dict[str, Any]) -> float:
    return max(float(table.get("reltuples") or 0), float(table.get("n_live_tup") or 0), 0.0)


def vacuum_trigger(table: dict[str, Any], section: dict[str, Any]) -> float:
    """Dead rows at which autovacuum vacuums the table."""
    return (_param(table, section, "autovacuum_vacuum_threshold")
            + _param(table, section, "autovacuum_vacuum_scale_factor") * _rows(table))


def analyze_trigger(table: dict[str, Any], section: dict[str, Any]) -> float:
    """Rows changed since the last ANALYZE at which autovacuum analyses the table."""
    return (_param(table, section, "autovacuum_analyze_threshold")
            + _param(table, section, "autovacuum_analyze_scale_factor") * _rows(table))


def autovacuum_off(table: dict[str, Any], section: dict[str, Any]) -> str | None:
    """Why autovacuum does not run on this table, or None."""
    if (ruleutil.reloption(table, "autovacuum_enabled") or "").lower() in ("false", "off", "0", "no"):
        return "autovacuum is disabled on this table (autovacuum_enabled = false)"
    if (ruleutil.setting(section, "autovacuum") or "on") == "off":
        return "autovacuum is off for the whole server"
    if (ruleutil.setting(section, "track_counts") or "on") == "off":
        return "track_counts is off, so autovacuum cannot see the table's changes"
    return None


def never_analysed(table: dict[str, Any]) -> bool:
    return not table.get("last_analyze") and not table.get("last_autoanalyze")


def _when(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace(" ", "T")) if text else None
    except ValueError:
        return None


def changes_since_analyze(table: dict[str, Any]) -> float:
    """n_mod_since_analyze, less the inserts the last ANALYZE already saw.

    ANALYZE run in the same transaction as a bulk load (a load script run as one transaction) sees the new rows,
    but their inserts reach n_mod_since_analyze only at commit, after ANALYZE reset it. The sign: reltuples,
    which ANALYZE sets, already counts the rows there are now (within 5%), and no VACUUM — which also sets
    reltuples — ran after that ANALYZE. Then the inserts (n_tup_ins) are taken as seen."""
    mod = float(table.get("n_mod_since_analyze") or 0)
    analysed = max((d for d in (_when(table.get("last_analyze")), _when(table.get("last_autoanalyze"))) if d),
                   default=None)
    vacuumed = [d for d in (_when(table.get("last_vacuum")), _when(table.get("last_autovacuum"))) if d]
    live, rel = float(table.get("n_live_tup") or 0), float(table.get("reltuples") or 0)
    ins = float(table.get("n_tup_ins") or 0)
    if analysed is None or any(v > analysed for v in vacuumed) or live <= 0 or rel < 0.95 * live:
        return mod
    return max(mod - ins, 0.0) if ins <= 1.05 * rel else mod


def stale(table: dict[str, Any], section: dict[str, Any], factor: float) -> bool:
    """Statistics older than the table's churn: never analysed while holding rows, or more rows changed since
    the last ANALYZE (changes_since_analyze) than `factor` × its analyze trigger."""
    if never_analysed(table) and (table.get("n_live_tup") or table.get("n_mod_since_analyze") or 0) > 0:
        return True
    return changes_since_analyze(table) > factor * analyze_trigger(table, section)


def _oldest_xact(section: dict[str, Any]) -> str:
    db = section.get("database_stats") or {}
    age = db.get("oldest_xact_age_s")
    if age and age > 300:
        idle = db.get("idle_in_transaction") or 0
        return (f" The oldest open transaction is {age / 60:.0f} minutes old"
                + (f" ({idle} session(s) idle in transaction)" if idle else "")
                + ": dead rows it may still see cannot be removed until it ends.")
    return ""


def _reset_sql(table: dict[str, Any], why_off: str | None) -> str:
    if why_off and "this table" in why_off:
        return f"ALTER TABLE {ruleutil.qualified(table['schema'], table['table'])} RESET (autovacuum_enabled);\n"
    return ""


def dead_tuple_findings(section: dict[str, Any], th: dict[str, float]) -> list[Finding]:
    """PG012: tables with many dead rows that autovacuum has left behind."""
    out = []
    for t in section.get("tables") or []:
        dead, live = float(t.get("n_dead_tup") or 0), float(t.get("n_live_tup") or 0)
        if dead < th["dead_tuples_min"] or dead / max(dead + live, 1.0) < th["dead_tuple_share"]:
            continue
        trigger = vacuum_trigger(t, section)
        why_off = autovacuum_off(t, section)
        if dead <= th["autovacuum_lag_factor"] * trigger and not why_off:
            continue
        name = ruleutil.qualified(t["schema"], t["table"])
        share = dead / max(dead + live, 1.0)
        cause = why_off or ("autovacuum is on but has not caught up (see last_autovacuum); check its cost "
                            "limits and long-running transactions")
        out.append(Finding(
            rule="PG012", name="dead-tuples", area="postgres",
            severity="high" if share >= 0.5 and dead >= 10 * th["dead_tuples_min"] else "medium",
            confidence="verified",
            title=f"{t['table']}: {share:.0%} of its rows are dead ({dead:,.0f}); autovacuum has left it behind",
            detail=(f"{t['table']} holds {dead:,.0f} dead rows next to {live:,.0f} live ones; autovacuum should "
                    f"have vacuumed it at {trigger:,.0f} dead rows. {cause}. Every scan reads the dead rows too, "
                    f"and the table and its indexes stay larger than they need to be." + _oldest_xact(section)),
            key=f"{t['schema']}.{t['table']}",
            evidence={"n_dead_tup": int(dead), "n_live_tup": int(live), "dead_share": round(share, 4),
                      "vacuum_trigger_rows": round(trigger), "last_vacuum": t.get("last_vacuum"),
                      "last_autovacuum": t.get("last_autovacuum"), "autovacuum_count": t.get("autovacuum_count"),
                      "autovacuum": why_off or "on", "table_bytes": t.get("table_bytes")},
            impact={"metric": "dead_tuples", "before": int(dead), "after": 0, "estimated": True},
            action={"kind": "config", "sql": _reset_sql(t, why_off) + f"VACUUM (ANALYZE) {name};",
                    "summary": f"Vacuum {t['table']} and let autovacuum keep it clean"},
            references=REFERENCES))
    return out


def stale_statistics_findings(section: dict[str, Any], th: dict[str, float]) -> list[Finding]:
    """PG013: tables whose planner statistics are older than their churn."""
    read = {(u["schema"], u["table"]) for s in section.get("statements") or [] for u in s.get("uses") or []}
    out = []
    for t in section.get("tables") or []:
        mod = changes_since_analyze(t)
        if mod < th["stale_min_modified_rows"] or not stale(t, section, th["autovacuum_lag_factor"]):
            continue
        trigger = analyze_trigger(t, section)
        why_off = autovacuum_off(t, section)
        name = ruleutil.qualified(t["schema"], t["table"])
        last = t.get("last_analyze") or t.get("last_autoanalyze")
        when = f"last analysed {last}" if last else "never analysed"
        queried = (t["schema"], t["table"]) in read
        out.append(Finding(
            rule="PG013", name="stale-statistics", area="postgres",
            severity="medium" if queried else "low", confidence="verified",
            title=f"{t['table']}: statistics are stale ({mod:,.0f} rows changed since the last ANALYZE)",
            detail=(f"{t['table']} was {when}; {mod:,.0f} rows changed since, {mod / max(trigger, 1):.0f}× the "
                    f"{trigger:,.0f} at which autovacuum analyses it. {why_off + '. ' if why_off else ''}The "
                    "planner still plans with the old row counts and value distributions"
                    + (", and the analysed workload reads this table." if queried else ".")),
            key=f"{t['schema']}.{t['table']}",
            evidence={"n_mod_since_analyze": int(t.get("n_mod_since_analyze") or 0),
                      "changes_since_analyze": int(mod), "analyze_trigger_rows": round(trigger),
                      "n_live_tup": t.get("n_live_tup"), "reltuples": t.get("reltuples"),
                      "last_analyze": t.get("last_analyze"), "last_autoanalyze": t.get("last_autoanalyze"),
                      "autoanalyze_count": t.get("autoanalyze_count"), "autovacuum": why_off or "on",
                      "read_by_analysed_statements": queried},
            impact=None,
            action={"kind": "config", "sql": _reset_sql(t, why_off) + f"ANALYZE {name};",
                    "summary": f"ANALYZE {t['table']}"},
            references=REFERENCES))
    return out

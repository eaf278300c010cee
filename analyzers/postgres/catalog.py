"""Read-only catalog and statistics queries (pg_stat_statements, pg_class, pg_index, pg_stats, …).

Every query carries the OWN_MARKER comment so that perfadvisor's own statements are never mistaken for the
workload. Column names follow the PostgreSQL views they come from.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from analyzers.postgres.statements import OWN_MARKER as M

STATEMENTS_SQL = M + """
SELECT s.queryid::text AS queryid, s.query, s.calls, s.total_exec_time AS total_exec_time_ms,
       s.mean_exec_time AS mean_exec_time_ms, s.rows, s.shared_blks_hit, s.shared_blks_read,
       s.temp_blks_read, s.temp_blks_written, r.rolname AS role
FROM pg_stat_statements s
LEFT JOIN pg_roles r ON r.oid = s.userid
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY s.total_exec_time DESC
"""

TABLES_SQL = M + """
SELECT n.nspname AS schema, c.relname AS table, c.relkind::text AS relkind, c.reltuples::float8 AS reltuples,
       pg_relation_size(c.oid) AS table_bytes, pg_total_relation_size(c.oid) AS total_bytes,
       s.seq_scan, s.seq_tup_read, s.idx_scan, s.n_live_tup, s.n_dead_tup, s.n_tup_upd, s.n_tup_del,
       s.last_analyze::text AS last_analyze, s.last_autoanalyze::text AS last_autoanalyze,
       s.n_tup_ins, s.n_tup_hot_upd, s.n_mod_since_analyze, s.n_ins_since_vacuum,
       s.last_vacuum::text AS last_vacuum, s.last_autovacuum::text AS last_autovacuum,
       s.vacuum_count, s.autovacuum_count, s.analyze_count, s.autoanalyze_count,
       io.heap_blks_read, io.heap_blks_hit, io.idx_blks_read, io.idx_blks_hit,
       c.reloptions::text[] AS reloptions,
       (SELECT ARRAY[pn.nspname::text, p.relname::text] FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
        JOIN pg_namespace pn ON pn.oid = p.relnamespace
        WHERE i.inhrelid = c.oid AND p.relkind = 'p') AS partition_of
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
LEFT JOIN pg_statio_user_tables io ON io.relid = c.oid
WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp%%'
ORDER BY 1, 2
"""

COLUMNS_SQL = M + """
SELECT n.nspname AS schema, c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_t%%'
ORDER BY 1, 2, a.attnum
"""

#: Relations that are not tables but can be named in FROM: views (with their definition, which candidate
#: extraction expands) and foreign tables (which carry no index).
OTHER_RELATIONS_SQL = M + """
SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
       CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END AS definition
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_t%%'
ORDER BY 1, 2
"""

INDEXES_SQL = M + """
SELECT n.nspname AS schema, t.relname AS table, t.relkind::text AS table_relkind, ic.relname AS name,
       am.amname AS method,
       i.indisunique AS is_unique, i.indisprimary AS is_primary, i.indisvalid AS valid,
       pg_get_indexdef(i.indexrelid) AS definition,
       pg_get_expr(i.indpred, i.indrelid) AS predicate,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) k) AS columns,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
             FROM generate_series(i.indnkeyatts + 1, i.indnatts) k) AS include,
       con.contype AS constraint_type, con.conname AS constraint_name,
       pg_relation_size(i.indexrelid) AS size_bytes, s.idx_scan, s.idx_tup_read
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_t%%'
ORDER BY 1, 2, 3
"""

FOREIGN_KEYS_SQL = M + """
SELECT n.nspname AS schema, c.relname AS table, con.conname AS name,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord) AS columns,
       rn.nspname AS ref_schema, rc.relname AS ref_table,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num ORDER BY k.ord) AS ref_columns
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class rc ON rc.oid = con.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE con.contype = 'f' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2, 3
"""

PG_STATS_SQL = M + """
SELECT schemaname AS schema, tablename AS table, attname AS column, null_frac, avg_width, n_distinct,
       correlation, most_common_vals::text::text[] AS most_common_vals, most_common_freqs,
       histogram_bounds::text::text[] AS histogram_bounds
FROM pg_stats
WHERE (schemaname, tablename) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
ORDER BY 1, 2, 3
"""

SERVER_SQL = M + """
SELECT current_setting('server_version') AS server_version,
       current_setting('server_version_num')::int AS server_version_num,
       current_database() AS database, current_user AS role,
       CASE WHEN pg_has_role(current_user, 'pg_read_all_settings', 'USAGE')
            THEN current_setting('shared_preload_libraries') END AS shared_preload_libraries,
       pg_postmaster_start_time()::text AS postmaster_start_time,
       (SELECT stats_reset::text FROM pg_stat_database WHERE datname = current_database()) AS database_stats_reset,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS can_read_all_stats,
       current_setting('search_path') AS search_path,
       ARRAY(SELECT s FROM unnest(current_schemas(false)) s) AS schemas,
       CASE WHEN pg_has_role(current_user, 'pg_read_all_settings', 'USAGE')
            THEN current_setting('data_directory') END AS data_directory
"""

#: Settings the rules read (PG008 spills, PG011 cache, PG012/PG013 autovacuum, PG014 settings). `source` is
#: pg_settings.source ("default" when nobody set it), `boot_val` the compiled-in default.
SETTINGS_SQL = M + """
SELECT name, setting, unit, source, boot_val, vartype FROM pg_settings
WHERE name IN ('random_page_cost', 'seq_page_cost', 'effective_cache_size', 'work_mem', 'shared_buffers',
               'default_statistics_target', 'pg_stat_statements.max', 'pg_stat_statements.track',
               'track_activity_query_size', 'max_connections',
               'hash_mem_multiplier', 'maintenance_work_mem', 'temp_file_limit', 'block_size',
               'effective_io_concurrency', 'max_parallel_workers_per_gather', 'track_io_timing',
               'jit', 'jit_above_cost', 'jit_inline_above_cost', 'jit_optimize_above_cost',
               'autovacuum', 'autovacuum_naptime', 'autovacuum_vacuum_threshold',
               'autovacuum_vacuum_scale_factor', 'autovacuum_analyze_threshold',
               'autovacuum_analyze_scale_factor', 'autovacuum_vacuum_insert_threshold',
               'autovacuum_vacuum_insert_scale_factor', 'track_counts')
ORDER BY name
"""

#: pg_stat_statements columns beyond STATEMENTS_SQL's: I/O and temp-file timing (track_io_timing), and JIT
#: time (PostgreSQL 15+; F.32 pg_stat_statements). Read by PG008 (spill time) and PG014 (jit).
_STATEMENT_TIMING_COLUMNS = """, s.blk_read_time AS blk_read_time_ms, s.blk_write_time AS blk_write_time_ms"""
_STATEMENT_PG15_COLUMNS = """, s.temp_blk_read_time AS temp_blk_read_time_ms,
       s.temp_blk_write_time AS temp_blk_write_time_ms, s.jit_functions,
       s.jit_generation_time + s.jit_inlining_time + s.jit_optimization_time + s.jit_emission_time AS jit_time_ms"""


def statements_sql(server_version_num: int) -> str:
    """STATEMENTS_SQL with the timing columns this server's pg_stat_statements has (PostgreSQL 15 added
    temp_blk_*_time and jit_*)."""
    extra = _STATEMENT_TIMING_COLUMNS + (_STATEMENT_PG15_COLUMNS if server_version_num >= 150000 else "")
    return STATEMENTS_SQL.replace("r.rolname AS role\n", "r.rolname AS role" + extra + "\n", 1)


#: The database's own counters (pg_stat_database): buffer hits/reads, read time (track_io_timing), temp files.
DATABASE_SQL = M + """
SELECT d.blks_read, d.blks_hit, d.blk_read_time AS blk_read_time_ms, d.blk_write_time AS blk_write_time_ms,
       d.temp_files, d.temp_bytes, d.xact_commit, d.xact_rollback, d.deadlocks,
       d.stats_reset::text AS stats_reset, pg_database_size(current_database()) AS database_bytes,
       pg_jit_available() AS jit_available
FROM pg_stat_database d WHERE d.datname = current_database()
"""

#: The oldest open transaction of another session (it holds back vacuum's cleanup). Rows of other roles need
#: pg_read_all_stats; without it only this role's sessions are seen.
OLDEST_XACT_SQL = M + """
SELECT extract(epoch FROM now() - min(xact_start))::float8 AS oldest_xact_age_s,
       count(*) FILTER (WHERE state LIKE 'idle in transaction%%')::int AS idle_in_transaction
FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
"""

#: Extended statistics (CREATE STATISTICS) that exist, so PG009 does not advise one twice.
EXTENDED_STATS_SQL = M + """
SELECT n.nspname AS schema, c.relname AS table, e.stxname AS name,
       ARRAY(SELECT a.attname FROM unnest(e.stxkeys) k JOIN pg_attribute a
             ON a.attrelid = e.stxrelid AND a.attnum = k ORDER BY a.attname) AS columns,
       e.stxkind::text[] AS kinds
FROM pg_statistic_ext e JOIN pg_class c ON c.oid = e.stxrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2, 3
"""


def rows(conn: psycopg.Connection, query: str, params: Any = None) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return [dict(r) for r in cur.fetchall()]


def one(conn: psycopg.Connection, query: str, params: Any = None) -> dict[str, Any]:
    found = rows(conn, query, params)
    return found[0] if found else {}

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
       s.last_analyze::text AS last_analyze, s.last_autoanalyze::text AS last_autoanalyze
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
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
       ARRAY(SELECT s FROM unnest(current_schemas(false)) s) AS schemas
"""

SETTINGS_SQL = M + """
SELECT name, setting, unit FROM pg_settings
WHERE name IN ('random_page_cost', 'seq_page_cost', 'effective_cache_size', 'work_mem', 'shared_buffers',
               'default_statistics_target', 'pg_stat_statements.max', 'pg_stat_statements.track',
               'track_activity_query_size', 'max_connections')
ORDER BY name
"""


def rows(conn: psycopg.Connection, query: str, params: Any = None) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return [dict(r) for r in cur.fetchall()]


def one(conn: psycopg.Connection, query: str, params: Any = None) -> dict[str, Any]:
    found = rows(conn, query, params)
    return found[0] if found else {}

"""Bad inputs give one clear line naming the input, exit code 2, no traceback, and no password."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from advisor.pgcluster import TempCluster
from tests.conftest import PG_PORT, validate_report


def perfadvisor(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "advisor.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def assert_one_line_error(res: subprocess.CompletedProcess, *needles: str) -> None:
    assert res.returncode == 2, res.stdout + res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("perfadvisor: error: "), res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    for n in needles:
        assert n in lines[0], lines[0]


def test_unreachable_server_names_dsn_without_password(tmp_path):
    res = perfadvisor("analyze", "--pg", "postgresql://app:s3cret@127.0.0.1:1/shop", "--out", str(tmp_path))
    assert_one_line_error(res, "unreachable", "postgresql://app:***@127.0.0.1:1/shop")
    assert "s3cret" not in res.stderr + res.stdout
    # what could be written is still written, with the failure recorded
    report = validate_report(tmp_path)
    assert report["targets"]["postgres"]["status"] == "error"
    assert "s3cret" not in (tmp_path / "report.html").read_text() + (tmp_path / "snapshot.json").read_text()


def test_malformed_dsn(tmp_path):
    res = perfadvisor("analyze", "--pg", "host=127.0.0.1 nonsense_option=1", "--out", str(tmp_path))
    assert_one_line_error(res, "malformed", "nonsense_option")


def test_failed_authentication(pgshop_dsn, pg_cluster, tmp_path):
    # the test cluster trusts loopback; a missing role is refused at authentication time
    res = perfadvisor("analyze", "--pg", pg_cluster.dsn("pgshop", user="nosuchrole"), "--out", str(tmp_path))
    assert_one_line_error(res, "nosuchrole")


def test_database_without_pg_stat_statements_extension(pg_cluster, tmp_path):
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS noext")
        conn.execute("CREATE DATABASE noext")
    res = perfadvisor("analyze", "--pg", pg_cluster.dsn("noext"), "--out", str(tmp_path))
    assert_one_line_error(res, "not created in database noext", "CREATE EXTENSION pg_stat_statements")


def test_server_without_preloaded_pg_stat_statements(tmp_path):
    base = Path(tempfile.mkdtemp(prefix="perfadvisor-nopreload-"))
    os.chmod(base, 0o755)
    cluster = TempCluster(base / "data", PG_PORT + 1, preload="")
    cluster.start()
    try:
        cluster.wait_ready()
        res = perfadvisor("analyze", "--pg", cluster.dsn(), "--out", str(tmp_path))
        assert_one_line_error(res, "not preloaded", "shared_preload_libraries = 'pg_stat_statements'")
    finally:
        cluster.stop(remove=True)


def test_role_without_pg_read_all_stats(pgshop_dsn, pg_cluster, tmp_path):
    with psycopg.connect(pgshop_dsn, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS limited")
        conn.execute("CREATE ROLE limited LOGIN")
    res = perfadvisor("analyze", "--pg", pg_cluster.dsn("pgshop", user="limited"), "--out", str(tmp_path))
    assert_one_line_error(res, "cannot read the text", "GRANT pg_read_all_stats TO limited")


def test_role_that_cannot_explain_the_workload(pgshop_dsn, pg_cluster, tmp_path):
    with psycopg.connect(pgshop_dsn, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS statsonly")
        conn.execute("CREATE ROLE statsonly LOGIN IN ROLE pg_read_all_stats")
    res = perfadvisor("analyze", "--pg", pg_cluster.dsn("pgshop", user="statsonly"), "--out", str(tmp_path))
    assert_one_line_error(res, "cannot EXPLAIN the workload", "permission denied",
                          "GRANT pg_read_all_data TO statsonly")
    with psycopg.connect(pgshop_dsn, autocommit=True) as conn:
        conn.execute("GRANT pg_read_all_data TO statsonly")
    res = perfadvisor("analyze", "--pg", pg_cluster.dsn("pgshop", user="statsonly"), "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert validate_report(tmp_path)["coverage"]["postgres"]["analysed_share"] > 0.5


@pytest.mark.parametrize("content, needle", [
    ("{not json", "not valid JSON"),
    ('{"kind": "something-else"}', "not a perfadvisor snapshot"),
    ('{"kind": "perfadvisor-snapshot", "schema_version": 99, "targets": {}}', "schema_version 99"),
    ("\x00\xff\xfe", "not"),
])
def test_corrupt_snapshot(tmp_path, content, needle):
    bad = tmp_path / "snapshot.json"
    bad.write_bytes(content.encode("latin-1"))
    res = perfadvisor("analyze", "--from-snapshot", str(bad), "--out", str(tmp_path / "out"))
    assert_one_line_error(res, str(bad), needle)


def test_structurally_broken_snapshot_keeps_the_rest(analyzed, tmp_path):
    snap = json.loads((analyzed[2] / "snapshot.json").read_text())
    del snap["postgres"]["statements"]
    bad = tmp_path / "cut.json"
    bad.write_text(json.dumps(snap))
    res = perfadvisor("analyze", "--from-snapshot", str(bad), "--out", str(tmp_path / "out"))
    assert_one_line_error(res, f"snapshot {bad}: snapshot section 'postgres' is malformed")
    assert validate_report(tmp_path / "out")["targets"]["postgres"]["status"] == "error"


def test_missing_snapshot(tmp_path):
    res = perfadvisor("analyze", "--from-snapshot", str(tmp_path / "nope.json"), "--out", str(tmp_path))
    assert_one_line_error(res, "nope.json", "cannot read")


def test_bad_config(tmp_path):
    cfg = tmp_path / "perfadvisor.toml"
    cfg.write_text("[targets.postgres\n")
    assert_one_line_error(perfadvisor("analyze", "--config", str(cfg)), str(cfg), "invalid TOML")
    cfg.write_text('[targets.postgres]\ndsn = "${UNSET_PERFADVISOR_VAR}"\n')
    assert_one_line_error(perfadvisor("analyze", "--config", str(cfg)), "UNSET_PERFADVISOR_VAR")
    assert_one_line_error(perfadvisor("analyze", "--config", str(cfg), "--profile", "staging"),
                          "no profile [profiles.staging]")


@pytest.mark.parametrize("toml, needle", [
    ("[targets.postgres]\ndsn = 5\n", "targets.postgres.dsn must be text"),
    ('targets = "x"\n', "[targets] must hold one table per area"),
    ('[targets]\npostgres = "x"\n', "[targets] must hold one table per area"),
    ("thresholds = 5\n", "[thresholds] must hold one table per area"),
    ("[thresholds.postgres]\nstorage_budget_mb = -1\n", "must be a finite number ≥ 0"),
    ("[thresholds.postgres]\nmin_cost_savings_pct = nan\n", "must be a finite number ≥ 0"),
    ("[thresholds.postgres]\nmax_new_indexes = 2.7\n", "must be a whole number"),
    ("[thresholds.postgres]\nmax_new_indexes = true\n", "is not a number"),
    ("[thresholds.postgres]\nworkload_share = 7\n", "is a share, at most 1.0"),
    ("[thresholds.postgres]\nno_such_threshold = 1\n", "threshold postgres.no_such_threshold does not exist"),
    ("[thresholds.nosucharea]\nx = 1\n", "thresholds.nosucharea: no analyzer has that name"),
    ("statement_timeout_ms = true\n", "statement_timeout_ms"),
])
def test_config_mistakes_are_one_line_errors(tmp_path, toml, needle):
    cfg = tmp_path / "perfadvisor.toml"
    cfg.write_text(toml)
    res = perfadvisor("analyze", "--config", str(cfg), "--pg", "postgresql://x@127.0.0.1:1/x",
                      "--out", str(tmp_path / "o"))
    assert_one_line_error(res, needle)


def test_profile_that_is_not_a_table(tmp_path):
    cfg = tmp_path / "perfadvisor.toml"
    cfg.write_text("[profiles]\nstaging = 3\n")
    assert_one_line_error(perfadvisor("analyze", "--config", str(cfg), "--profile", "staging"),
                          "[profiles.staging] must be a table")


def test_nothing_configured_is_an_error_not_a_pass(tmp_path):
    res = perfadvisor("analyze", "--out", str(tmp_path), "--fail-on", "info",
                      env={"PERFADVISOR_PG_DSN": ""})
    assert_one_line_error(res, "nothing to analyse")


def test_out_that_is_a_file_and_bad_port(tmp_path):
    f = tmp_path / "afile"
    f.write_text("")
    assert_one_line_error(perfadvisor("analyze", "--out", str(f)), "is a file")
    assert_one_line_error(perfadvisor("analyze", "--pg", "postgresql://x@127.0.0.1:1/x", "--out", str(f / "sub")),
                          "cannot write there")
    assert_one_line_error(perfadvisor("analyze", "--pg", "postgresql://x@127.0.0.1:notaport/x",
                                      "--out", str(tmp_path / "o")), "malformed")


@pytest.mark.parametrize("targets, needle", [
    ({"postgres": {"status": "error"}}, "targets.postgres must be"),
    ({"postgres": "ok"}, "targets.postgres must be"),
    ({"postgres": {"status": "ok"}}, "the \"postgres\" section is missing"),
])
def test_snapshot_with_bad_targets(tmp_path, targets, needle):
    bad = tmp_path / "s.json"
    bad.write_text(json.dumps({"kind": "perfadvisor-snapshot", "schema_version": 1, "targets": targets}))
    assert_one_line_error(perfadvisor("analyze", "--from-snapshot", str(bad), "--out", str(tmp_path / "o")),
                          str(bad), needle)


def test_from_snapshot_rerenders_offline(analyzed, tmp_path):
    report, _, out, _ = analyzed
    res = perfadvisor("analyze", "--from-snapshot", str(out / "snapshot.json"), "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    again = validate_report(tmp_path)
    assert [f["id"] for f in again["findings"]] == [f["id"] for f in report["findings"]]
    assert json.loads((tmp_path / "snapshot.json").read_text())["postgres"]["database"] == "pgshop"


def test_fail_on(analyzed, tmp_path):
    out = analyzed[2]
    res = perfadvisor("analyze", "--from-snapshot", str(out / "snapshot.json"), "--out", str(tmp_path),
                      "--fail-on", "high")
    assert res.returncode == 1 and "--fail-on high" in res.stdout
    res = perfadvisor("analyze", "--from-snapshot", str(out / "snapshot.json"), "--out", str(tmp_path),
                      "--fail-on", "critical", "-q")
    assert res.returncode == (1 if analyzed[0]["summary"]["critical"] else 0)


def test_without_hypopg_recommendations_are_heuristic(pgshop_dsn, tmp_path):
    with psycopg.connect(pgshop_dsn, autocommit=True) as conn:
        conn.execute("DROP EXTENSION hypopg")
    try:
        res = perfadvisor("analyze", "--pg", pgshop_dsn, "--out", str(tmp_path))
    finally:
        with psycopg.connect(pgshop_dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION hypopg")
    assert res.returncode == 0, res.stderr
    assert "apt-get install postgresql-15-hypopg" in res.stdout
    report = validate_report(tmp_path)
    pg001 = [f for f in report["findings"] if f["rule"] == "PG001"]
    assert pg001 and all(f["confidence"] == "heuristic" for f in pg001)
    assert any(f["index"]["table"] == "orders" and f["index"]["columns"][0] == "customer_id" for f in pg001)
    assert not report["coverage"]["postgres"]["whatif"]


def test_thresholds_are_listed_with_defaults():
    from analyzers.postgres import THRESHOLDS
    from analyzers.postgres.collect import MAX_STATEMENTS, WORKLOAD_SHARE
    from analyzers.postgres.select import MAX_NEW_INDEXES, MIN_COST_SAVINGS_PCT
    res = perfadvisor("thresholds")
    assert res.returncode == 0
    assert "postgres.min_cost_savings_pct" in res.stdout and "Dexter" in res.stdout
    defaults = {name: default for name, default, _ in THRESHOLDS}
    assert defaults["workload_share"] == WORKLOAD_SHARE and defaults["max_statements"] == MAX_STATEMENTS
    assert defaults["min_cost_savings_pct"] == MIN_COST_SAVINGS_PCT and defaults["max_new_indexes"] == MAX_NEW_INDEXES


def test_help_shows_defaults():
    res = perfadvisor("analyze", "--help")
    assert res.returncode == 0
    for text in ("--pg", "PERFADVISOR_PG_DSN", "default: perfadvisor-report", "--from-snapshot", "--fail-on",
                 "default: perfadvisor.toml", "--profile"):
        assert text in " ".join(res.stdout.split()), text

"""`perfadvisor apply` on a recorded real report of the sample stack (tests/fixtures/reports/shop-stack, see its
README): every artifact for every action kind in it, migration.sql run twice on a real PostgreSQL with the
sample's schema, spring.env read as an env file, and apply.json's lines matching the files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.envfile import parse_env_file
from advisor.model import severity_rank
from advisor.nginxconf import merge_server_snippet, parse

ROOT = Path(__file__).resolve().parent.parent
REPORT_DIR = ROOT / "tests" / "fixtures" / "reports" / "shop-stack"
SCHEMA = ROOT / "compose" / "postgres"
#: 500 orders: enough rows that every index is built over data, seeded in about a second.
SEED_SCALE = "0.001"


@pytest.fixture(scope="module")
def report() -> dict:
    return json.loads((REPORT_DIR / "report.json").read_text())


@pytest.fixture(scope="module")
def applied(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("apply-recorded")
    res = CliRunner().invoke(cli, ["apply", str(REPORT_DIR), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def _selected(report: dict) -> list[dict]:
    return [f for f in report["findings"] if severity_rank(f["severity"]) < severity_rank("info")]


def _kind(f: dict) -> str:
    act = f.get("action") or {}
    if act.get("kind") == "config":
        return "config redis" if act.get("redis_conf") else "config nginx" if "nginx" in act.get("file", "") \
            else "config other"
    return act.get("kind", "none")


def test_the_recorded_report_holds_every_action_kind(report):
    kinds = {_kind(f) for f in _selected(report)}
    assert {"create_index", "set_property", "config redis", "config nginx", "code_change"} <= kinds, kinds
    assert any(f["action"]["kind"] == "none" for f in report["findings"])


def test_every_selected_finding_lands_in_the_artifact_of_its_kind(report, applied):
    where = {"create_index": "migration.sql", "drop_index": "migration.sql", "set_property": "spring.env",
             "config redis": "redis.conf", "config nginx": "nginx.conf", "code_change": "code-hints.md",
             "config other": "code-hints.md"}
    for f in _selected(report):
        text = (applied / where[_kind(f)]).read_text()
        assert f["id"] in text, (f["id"], where[_kind(f)])
    doc = json.loads((applied / "apply.json").read_text())
    skipped = {s["id"] for s in doc["skipped"]}
    assert {f["id"] for f in report["findings"] if f["severity"] == "info"} <= skipped
    assert set(doc["used"]) == {f["id"] for f in _selected(report)}


def test_spring_env_parses_and_matches_the_properties_file(report, applied):
    env = parse_env_file(applied / "spring.env")
    props = dict(ln.split("=", 1) for ln in (applied / "application-perfadvisor.properties").read_text().splitlines()
                 if ln and not ln.startswith("#"))
    wanted = {f["action"]["property"]: str(f["action"]["value"]) for f in _selected(report)
              if f["action"]["kind"] == "set_property"}
    assert props == wanted and len(env) == len(wanted)
    for prop, value in wanted.items():
        relaxed = prop.upper().replace(".", "_").replace("-", "")  # Spring Boot's relaxed binding of env vars
        assert env[relaxed] == value


def test_apply_json_lines_match_the_files(applied):
    doc = json.loads((applied / "apply.json").read_text())
    by_file: dict[str, list[str]] = {}
    for ln in doc["lines"]:
        by_file.setdefault(ln["file"], []).append(ln["text"])
    assert sorted(by_file) == doc["files"]
    for name, texts in by_file.items():
        content = (applied / name).read_text()
        for t in texts:
            assert t in content, (name, t)
        if name in ("code-hints.md", "nginx.conf"):
            continue
        written = [ln for ln in content.splitlines() if ln.strip() and not ln.lstrip().startswith(("#", "--"))]
        assert written == texts, name  # every setting or statement in the file, once, in the same order
    # nginx.conf: each distinct snippet once (a repeated one is written as "(same snippet as above)")
    nginx = parse((applied / "nginx.conf").read_text())
    assert [n.words for n in nginx] == [n.words for t in dict.fromkeys(by_file["nginx.conf"]) for n in parse(t)]


def test_apply_json_says_what_every_line_is_expected_to_move(applied):
    doc = json.loads((applied / "apply.json").read_text())
    missing = [(ln["rule"], ln["file"]) for ln in doc["lines"] if not ln["expects"].get("metric")]
    assert missing == []


def test_nginx_conf_merges_into_the_sample_template(applied):
    template = (ROOT / "compose" / "nginx" / "default.conf.template").read_text()
    merged = merge_server_snippet(template, (applied / "nginx.conf").read_text())
    assert "gzip on;" in merged and "gzip off;" not in merged and "location ^~ /assets/" in merged


@pytest.fixture(scope="module")
def shop_schema_dsn(pg_cluster) -> str:
    """A database with the sample stack's schema, a tiny seed and its constraints, as `demo up` loads it."""
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS apply_recorded")
        conn.execute("CREATE DATABASE apply_recorded")
    dsn = pg_cluster.dsn("apply_recorded")
    for f in ("01-schema.sql", "02-seed.sql", "03-constraints.sql"):
        _psql(dsn, "-v", f"scale={SEED_SCALE}", "-f", str(SCHEMA / f))
    return dsn


def _psql(dsn: str, *args: str) -> subprocess.CompletedProcess:
    res = subprocess.run(["psql", dsn, "-X", "-q", "-v", "ON_ERROR_STOP=1", *args], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res


def test_migration_sql_runs_twice_on_the_samples_schema(applied, shop_schema_dsn):
    sql = applied / "migration.sql"
    first = _psql(shop_schema_dsn, "-f", str(sql))
    second = _psql(shop_schema_dsn, "-f", str(sql))
    assert "ERROR" not in first.stderr + second.stderr
    assert second.stderr.count("already exists, skipping") == sum(
        1 for ln in sql.read_text().splitlines() if ln.startswith("CREATE INDEX"))
    names = [ln.split(" IF NOT EXISTS ")[1].split()[0] for ln in sql.read_text().splitlines()
             if ln.startswith("CREATE INDEX")]
    with psycopg.connect(shop_schema_dsn) as conn:
        valid = dict(conn.execute("SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c "
                                  "ON c.oid = i.indexrelid WHERE c.relname = ANY(%s)", (names,)).fetchall())
    assert valid == {n: True for n in names}

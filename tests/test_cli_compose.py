"""`perfadvisor analyze --compose`: targets found in a Compose file reach the analysis; flags still win; the
Compose options need --compose. (tests/compose covers discovery itself and the real containers.)"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from advisor.cli import cli

pytestmark = pytest.mark.slow


def test_analyze_finds_the_database_in_a_compose_file(pg_cluster, pgshop_dsn, tmp_path):
    (tmp_path / "db_password").write_text("s3cret-from-a-file\n")
    (tmp_path / "docker-compose.yml").write_text(f"""
services:
  db:
    image: postgres:15
    ports: ["127.0.0.1:${{DB_PORT:-{pg_cluster.port}}}:5432"]
    environment:
      POSTGRES_USER: postgres
      POSTGRES_DB: pgshop
      POSTGRES_PASSWORD_FILE: /run/secrets/db_password
    secrets: [db_password]
secrets:
  db_password:
    file: ./db_password
""")
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["analyze", "--compose", str(tmp_path / "docker-compose.yml"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "postgres" in res.output and "s3cret-from-a-file" not in res.output
    report = json.loads((out / "report.json").read_text())
    assert report["targets"]["postgres"]["status"] == "ok"
    assert report["targets"]["postgres"]["database"] == "pgshop"
    assert "s3cret-from-a-file" not in (out / "report.json").read_text()
    assert "s3cret-from-a-file" not in (out / "snapshot.json").read_text()


def test_compose_options_need_compose(tmp_path):
    res = CliRunner().invoke(cli, ["analyze", "--service", "db", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "need --compose FILE" in res.output

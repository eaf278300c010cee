"""Report rendering (escaping, size limit), settings precedence, and snapshot loading."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.config import build_settings, redact_dsn
from advisor.errors import ConfigError, InputFileError
from advisor.model import load_snapshot
from reports import html, markdown
from tests.conftest import validate_report

EVIL = '</script><script>alert(1)</script><img src=x onerror=alert(2)> & "q" <b>bold</b>'


def test_html_escapes_statement_text(analyzed, tmp_path):
    """A statement whose text holds HTML renders as text (re-rendered from a snapshot with that text)."""
    from advisor import run
    from advisor.config import Settings
    snap = copy.deepcopy(analyzed[1])
    for s in snap["postgres"]["statements"]:
        s["query"] = f"/* {EVIL} */ " + s["query"]
    path = tmp_path / "evil-snapshot.json"
    path.write_text(json.dumps(snap))
    run.analyze_command(Settings(), tmp_path / "out", str(path), echo=lambda s: None)
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<script" not in page and "<img" not in page and "<b>bold</b>" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    md = (tmp_path / "out" / "report.md").read_text()
    # Markdown shows statements in code spans and fenced blocks, which CommonMark renders literally; outside
    # them, nothing raw
    import re
    outside = re.sub(r"`[^`\n]*`", "", re.sub(r"^```.*?^```", "", md, flags=re.S | re.M))
    assert "<script" not in outside and "<img" not in outside
    assert "`/* </script><script>alert(1)</script>" in md
    validate_report(tmp_path / "out")


def test_markdown_stays_under_github_limit(analyzed):
    report = copy.deepcopy(analyzed[0])
    base = report["findings"][0]
    report["findings"] = [{**base, "id": f"PG001:x{i}", "detail": "d" * 3000} for i in range(200)]
    text = markdown.render(report)
    assert len(text) <= markdown.MAX_CHARS and "size-limited" in text
    assert text.count("| PG001 |") == 200  # every finding is still in the summary table


def test_html_without_findings_or_targets():
    page = html.render({"schema_version": 1, "tool": {"name": "perfadvisor", "version": "0"},
                        "generated_at": "2026-01-01T00:00:00Z", "targets": {"postgres": {
                            "status": "skipped", "reason": "not configured"}},
                        "summary": dict.fromkeys(["critical", "high", "medium", "low", "info"], 0),
                        "coverage": {}, "notes": [], "findings": []})
    assert "No findings." in page and "not configured" in page


def test_settings_precedence_env_interpolation_and_profiles(tmp_path, monkeypatch):
    cfg = tmp_path / "perfadvisor.toml"
    cfg.write_text('statement_timeout_ms = 3000\n'
                   '[targets.postgres]\ndsn = "postgresql://${PGUSER_X}@db/shop"\n'
                   '[thresholds.postgres]\nmin_cost_savings_pct = 30\n'
                   '[profiles.staging.targets.postgres]\ndsn = "postgresql://${PGUSER_X:-ro}@staging/shop"\n')
    monkeypatch.setenv("PGUSER_X", "advisor")
    s = build_settings(cfg)
    assert s.target("postgres")["dsn"] == "postgresql://advisor@db/shop" and s.statement_timeout_ms == 3000
    assert s.threshold("postgres", "min_cost_savings_pct", 50.0) == 30.0
    assert build_settings(cfg, "staging").target("postgres")["dsn"] == "postgresql://advisor@staging/shop"
    monkeypatch.delenv("PGUSER_X")
    assert build_settings(cfg, "staging").target("postgres")["dsn"] == "postgresql://ro@staging/shop"
    with pytest.raises(ConfigError, match="PGUSER_X"):
        build_settings(cfg)
    monkeypatch.setenv("PGUSER_X", "advisor")
    # flags override the file; the environment fills in only what the file lacks
    monkeypatch.setenv("PERFADVISOR_PG_DSN", "postgresql://env@db/shop")
    s = build_settings(cfg, target_flags={"postgres": {"dsn": "postgresql://flag@db/shop"}},
                       statement_timeout_ms=99)
    assert s.target("postgres")["dsn"] == "postgresql://flag@db/shop" and s.statement_timeout_ms == 99
    assert build_settings(tmp_path / "absent.toml").target("postgres")["dsn"] == "postgresql://env@db/shop"
    with pytest.raises(ConfigError, match="not a number"):
        s.thresholds["postgres"] = {"min_cost_savings_pct": "lots"}
        s.threshold("postgres", "min_cost_savings_pct", 50.0)


def test_unknown_config_keys_are_rejected(tmp_path):
    cfg = tmp_path / "perfadvisor.toml"
    cfg.write_text("[target.postgres]\ndsn = 'x'\n")
    with pytest.raises(ConfigError, match="unknown key"):
        build_settings(cfg)


@pytest.mark.parametrize("dsn, shown", [
    ("postgresql://app:s3cret@db:5432/shop", "postgresql://app:***@db:5432/shop"),
    ("host=db user=app password=s3cret dbname=shop", "host=db user=app password=*** dbname=shop"),
    ("postgresql://db/shop?user=app&password=s3cret", "postgresql://db/shop?user=app&password=***"),
    ("host=db password='Adv1\\'sorPW x' dbname=shop", "host=db password=*** dbname=shop"),
])
def test_redact_dsn(dsn, shown):
    assert redact_dsn(dsn) == shown


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=300),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                              lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                              max_leaves=20).map(lambda v: json.dumps(v).encode())))
def test_load_snapshot_fuzz(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("fuzz") / "snapshot.json"
    p.write_bytes(data)
    try:
        snap = load_snapshot(p)
    except InputFileError as e:
        assert str(p) in str(e) and "\n" not in str(e)
    else:
        assert snap["kind"] == "perfadvisor-snapshot"

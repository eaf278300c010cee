"""The shared sampling window (advisor/sampling.py), the database's sampling source and the sampling settings.

The sources here are real: a file on disk (whose removal mid-window is a real fault of the kind a target
going away produces) and the test PostgreSQL cluster."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from advisor import sampling
from advisor.config import build_settings
from advisor.errors import ConfigError


class FileSource:
    """Reads a number from a file at every sample; fails (OSError) when the file is gone."""

    def __init__(self, path: Path, name: str = "file") -> None:
        self.path, self.name = path, name

    def open(self):
        return {"size_at_open": self.path.stat().st_size}

    def sample(self):
        return {"value": float(self.path.read_text() or 0), f'mtime{{file="{self.path.name}"}}': self.path.stat().st_mtime}

    def close(self):
        return {"closed": True}

    def headline(self, prev, cur, dt_s):
        return f"{self.name}={cur['value']:.0f}"


def test_durations_take_locust_forms():
    assert sampling.parse_duration("40s") == 40
    assert sampling.parse_duration("2m") == 120
    assert sampling.parse_duration("1h30m") == 5400
    assert sampling.parse_duration("1.5s") == 1.5
    assert sampling.parse_duration("0") == 0
    assert sampling.parse_duration(3) == 3.0
    for bad in ("", "ten", "5x", "-3s", "m"):
        with pytest.raises(ValueError, match="duration"):
            sampling.parse_duration(bad)


@given(st.text(max_size=12))
def test_duration_parser_only_raises_value_error(text):
    try:
        assert sampling.parse_duration(text) >= 0
    except ValueError:
        pass


def test_sources_sample_side_by_side_on_one_clock(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("1")
    b.write_text("2")
    lines: list[str] = []
    w = sampling.run_window([FileSource(a, "a"), FileSource(b, "b")], duration_s=2.0, interval_s=0.5,
                            progress=lines.append)
    assert w.mode == "window" and not w.interrupted
    ra, rb = w.recordings
    assert len(ra.samples) == len(rb.samples) == 5
    # sample k of every source is taken at k × interval: the two clocks agree to well under an interval
    assert all(abs(x - y) < 0.2 for x, y in zip(ra.t_s, rb.t_s, strict=True))
    assert all(abs(t - 0.5 * k) < 0.3 for k, t in enumerate(ra.t_s))
    assert ra.opened == {"size_at_open": 1} and ra.closed == {"closed": True}
    cols = ra.series()
    assert cols["series"]["value"] == [1.0] * 5 and len(cols["t_s"]) == 5
    assert any("a=1" in line and "b=2" in line for line in lines)
    assert 1.9 < w.duration_s < 3.0


def test_a_source_that_fails_mid_window_keeps_its_samples_and_the_others_go_on(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("1")
    b.write_text("2")
    threading.Timer(0.75, a.unlink).start()
    w = sampling.run_window([FileSource(a, "a"), FileSource(b, "b")], duration_s=2.0, interval_s=0.5)
    ra, rb = w.recordings
    assert 1 <= len(ra.samples) <= 3 and len(rb.samples) == 5
    assert ra.error["phase"] == "sample" and "FileNotFoundError" in ra.error["message"]
    line = ra.error_line()
    assert line.startswith("a: failed ") and "s into the window" in line and "sample(s) kept" in line
    assert rb.error is None and rb.error_line() is None


def test_a_source_that_cannot_open_is_recorded_and_not_sampled(tmp_path):
    ok = tmp_path / "ok"
    ok.write_text("5")
    w = sampling.run_window([FileSource(tmp_path / "absent", "gone"), FileSource(ok, "ok")], 0.5, 0.25)
    gone, good = w.recordings
    assert gone.error["phase"] == "open" and not gone.samples and "before the window" in gone.error_line()
    assert len(good.samples) == 3


def test_sample_zero_takes_one_sample_since_start(tmp_path):
    f = tmp_path / "f"
    f.write_text("7")
    w = sampling.run_window([FileSource(f)], duration_s=0, interval_s=1.0)
    assert w.mode == "since_start" and w.duration_s == 0 and len(w.recordings[0].samples) == 1
    assert w.info()["mode"] == "since_start"


def test_stopping_early_keeps_what_was_sampled(tmp_path):
    f = tmp_path / "f"
    f.write_text("1")
    stop = threading.Event()
    threading.Timer(0.6, stop.set).start()
    t0 = time.monotonic()
    w = sampling.run_window([FileSource(f)], duration_s=30, interval_s=0.25, stop=stop)
    assert time.monotonic() - t0 < 5
    assert w.interrupted and 2 <= len(w.recordings[0].samples) <= 4


def test_progress_is_quiet_off_a_terminal(tmp_path):
    with open(tmp_path / "log", "w") as stream:
        assert sampling.terminal_progress(stream) is None


def test_sampling_settings_from_flags_file_and_defaults(tmp_path):
    cfg = tmp_path / "perfadvisor.toml"
    cfg.write_text('[targets.redis]\nurl = "redis://127.0.0.1:1/0"\n[sampling]\nwindow = "2m"\ninterval = "2s"\n'
                   '[targets.actuator]\nurls = ["http://a:8081", "http://b:8081"]\n')
    s = build_settings(cfg)
    assert (s.sample_s, s.sample_interval_s) == (120, 2)
    assert s.target("actuator")["urls"] == ["http://a:8081", "http://b:8081"]
    assert build_settings(cfg, sample="0", sample_interval="0.5").sample_s == 0
    assert build_settings(tmp_path / "none.toml").sample_s is None  # nothing samples: no window
    assert build_settings(tmp_path / "none.toml", target_flags={"redis": {"url": "redis://x"}}).sample_s == \
        sampling.DEFAULT_WINDOW_S
    with pytest.raises(ConfigError, match="--sample: 'soon' is not a duration"):
        build_settings(cfg, sample="soon")
    with pytest.raises(ConfigError, match="interval"):
        build_settings(cfg, sample_interval="0")
    cfg.write_text("[sampling]\nwindw = '1m'\n")
    with pytest.raises(ConfigError, match=r"\[sampling\] takes window and interval"):
        build_settings(cfg)


def test_redis_url_and_actuator_header_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PERFADVISOR_REDIS_URL", "redis://env:6379/0")
    monkeypatch.setenv("PERFADVISOR_ACTUATOR_AUTH_HEADER", "Authorization: Bearer t0ken")
    s = build_settings(tmp_path / "none.toml")
    assert s.target("redis")["url"] == "redis://env:6379/0"
    assert "actuator" not in s.targets  # a header alone configures nothing
    s = build_settings(tmp_path / "none.toml", target_flags={"actuator": {"urls": ["http://a"]},
                                                             "redis": {"url": "redis://flag:1/0"}})
    assert s.target("actuator")["auth_header"] == "Authorization: Bearer t0ken"
    assert s.target("redis")["url"] == "redis://flag:1/0"


@pytest.mark.slow
def test_database_activity_over_a_window(pg_cluster):
    from analyzers.postgres import activity

    admin = pg_cluster.dsn()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS sampling_test")
        conn.execute("CREATE DATABASE sampling_test")
    dsn = pg_cluster.dsn("sampling_test")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("CREATE TABLE prices (id int PRIMARY KEY, cents int)")
        conn.execute("INSERT INTO prices SELECT g, g FROM generate_series(1, 100) g")
    settings = build_settings(Path(os.devnull + ".toml"), target_flags={"postgres": {"dsn": dsn}}, sample="3s",
                              sample_interval="0.5")
    (src,) = activity.sources(settings)
    writer_done = threading.Event()

    def writer():
        with psycopg.connect(dsn, autocommit=True, application_name="price-updater") as conn:
            time.sleep(0.5)  # after the window has opened; PostgreSQL flushes an idle backend's stats within 1 s
            for i in range(40):
                conn.execute("UPDATE prices SET cents = cents + 1 WHERE id = %s", (i + 1,))
                time.sleep(0.03)
            # An idle backend flushes its table statistics within 10 s (PGSTAT_IDLE_INTERVAL); do it now.
            conn.execute("SELECT pg_stat_force_next_flush()")
            conn.execute("SELECT 1")
            writer_done.wait(5)

    t = threading.Thread(target=writer)
    t.start()
    w = sampling.run_window([src], settings.sample_s, settings.sample_interval_s)
    writer_done.set()
    t.join()
    sec = activity.section(w, w.recordings[0])
    assert sec["error"] is None and sec["mode"] == "window" and 2.9 < sec["window_s"] < 4.5
    assert sec["max_connections"] >= 10 and sec["server_is_local"] is True
    prices = next(r for r in sec["table_writes"] if r["table"] == "prices")
    assert prices["n_tup_upd"] == 40 and prices["writes_per_s"] > 5
    assert sec["peak_connections"].get("price-updater") == 1
    assert "perfadvisor" not in sec["peak_connections"]  # its own session is not counted
    upd = [s for s in sec["statements"] if s["query"].startswith("UPDATE prices")]
    assert upd and upd[0]["calls"] == 40
    hidden = activity.PgActivitySource("postgresql://app:s3cret@127.0.0.1:1/x", 1000)
    assert "s3cret" not in hidden.name and "***" in hidden.name

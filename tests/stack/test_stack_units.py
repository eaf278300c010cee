"""advisor.stack and the worker without the running stack: errors a user can hit, and the pieces that
must be exactly right (SCRAM verifiers, pid reuse, secrets)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor import stack as st
from advisor.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def load_worker():
    spec = importlib.util.spec_from_file_location("shop_worker", ROOT / "compose" / "worker" / "shop_worker.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["shop_worker"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_scram_verifier_matches_rfc_5802():
    v = st.scram_verifier("pencil", iterations=4096)
    m = re.fullmatch(r"SCRAM-SHA-256\$4096:([^$]+)\$([^:]+):(.+)", v)
    assert m
    salt = base64.b64decode(m.group(1))
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", salt, 4096)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    assert base64.b64decode(m.group(2)) == hashlib.sha256(client_key).digest()
    assert base64.b64decode(m.group(3)) == hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    assert st.scram_verifier("pencil") != v  # a fresh salt each time


def test_secrets_are_generated_once_with_mode_0600(tmp_path):
    a = st._secret(tmp_path, "x")
    assert len(a) >= 24 and st._secret(tmp_path, "x") == a
    assert (tmp_path / "secrets" / "x").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700


def test_a_reused_pid_is_never_signalled():
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
    try:
        real = st.Proc("x", p.pid, st._proc_start_ticks(p.pid))
        impostor = st.Proc("x", p.pid, real.start_ticks - 1)  # same pid, other start time
        assert real.alive() and not impostor.alive()
        assert impostor.stop() is False and p.poll() is None
        assert real.stop(signal.SIGTERM, timeout_s=5) is True
        assert not real.alive()
    finally:
        if p.poll() is None:
            p.kill()


def test_missing_tools_are_named_with_the_install_command(monkeypatch):
    monkeypatch.setattr(st, "requirements", lambda cfg: [
        st.Requirement("redis-server 7", lambda: False, ("redis-server",)),
        st.Requirement("Node.js 20 and npm", lambda: False, (), "install Node.js 20.19+ with npm")])
    with pytest.raises(st.StackError) as e:
        st.ensure_requirements(st.StackConfig(install=False), echo=lambda s: None)
    assert "redis-server 7: apt-get install redis-server" in str(e.value)
    assert "Node.js 20 and npm: install Node.js 20.19+ with npm" in str(e.value)


def test_a_busy_port_is_refused_before_anything_starts():
    # Under /tmp itself: pytest's tmp_path is private to root, which the service-user check would refuse.
    tmp_path = Path(tempfile.mkdtemp(prefix="perfadvisor-unit-"))
    os.chmod(tmp_path, 0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        ports = st.Ports(postgres=port, redis=port + 1, backend=port + 2, management=port + 3, nginx=port + 4)
        stack = st.Stack(st.StackConfig(run_dir=tmp_path / "run", ports=ports, build=False, install=False))
        with pytest.raises(st.StackError, match=f"ports in use on 127.0.0.1: postgres {port}"):
            stack.up(echo=lambda s: None)
    assert not (tmp_path / "run" / "state.json").exists()
    shutil.rmtree(tmp_path)


def test_a_corrupt_state_file_is_one_clear_error(tmp_path):
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(st.StackError, match="state.json is unreadable"):
        st.Stack(st.StackConfig(run_dir=tmp_path)).status()


def test_cli_status_and_down_without_a_stack(tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["demo", "status", "--run-dir", str(tmp_path / "none")])
    assert res.exit_code == 1 and "no stack in" in res.output
    res = runner.invoke(cli, ["demo", "down", "--run-dir", str(tmp_path / "none")])
    assert res.exit_code == 0 and "nothing to stop" in res.output
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "state.json").write_text("[]")
    res = runner.invoke(cli, ["demo", "status", "--run-dir", str(tmp_path / "bad")])
    assert res.exit_code == 2 and "perfadvisor: error:" in res.output


def test_cli_help_shows_the_options_with_defaults():
    res = CliRunner().invoke(cli, ["demo", "up", "--help"])
    assert res.exit_code == 0
    for text in ("--scale", "--port-offset", "--run-dir", "--no-build", "--no-install", ".perfadvisor/stack"):
        assert text in res.output


def test_stale_build_detection(tmp_path):
    src = tmp_path / "compose"
    (src / "backend" / "src" / "main").mkdir(parents=True)
    (src / "backend" / "pom.xml").write_text("<project/>")
    cfg = st.StackConfig(source_dir=src)
    assert cfg.backend_stale()  # no jar
    cfg.jar.parent.mkdir(parents=True)
    cfg.jar.write_bytes(b"jar")
    assert not cfg.backend_stale()
    later = time.time() + 10
    (src / "backend" / "src" / "main" / "A.java").write_text("class A {}")
    os.utime(src / "backend" / "src" / "main" / "A.java", (later, later))
    assert cfg.backend_stale()


def test_nginx_config_is_valid_and_keeps_the_planted_problems(tmp_path):
    stack = st.Stack(st.StackConfig(run_dir=tmp_path))
    conf = stack.nginx_conf(st.Ports())
    assert "listen 127.0.0.1:18088;" in conf and "proxy_pass http://127.0.0.1:18080;" in conf
    assert "gzip off;" in conf and "add_header" not in conf and "${NGINX_" not in conf
    (tmp_path / "nginx").mkdir()
    for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / "nginx" / d).mkdir()
    (tmp_path / "logs").mkdir()
    (tmp_path / "nginx" / "nginx.conf").write_text(conf)
    res = subprocess.run(["nginx", "-t", "-c", str(tmp_path / "nginx" / "nginx.conf"), "-p", str(tmp_path / "nginx")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_worker_invoice_and_checksum():
    w = load_worker()
    lines = [w.Line(1, "Oak Chair", 2, 1999), w.Line(2, "Steel Lamp", 1, 500)]
    doc = w.render_invoice(42, "Ada Lovelace", "2026-01-01T00:00:00+00:00", lines)
    assert doc.startswith("INVOICE 42\nCustomer: Ada Lovelace")
    assert "TOTAL" in doc and "44.98" in doc
    c = w.invoice_checksum(doc)
    assert re.fullmatch(r"[0-9a-f]{16}", c) and w.invoice_checksum(doc) == c
    assert w.invoice_checksum(doc + "x") != c


def test_worker_reads_passwords_from_secret_files(tmp_path):
    w = load_worker()
    (tmp_path / "pw").write_text("s3cret\n")
    s = w.Settings.from_env({"SHOP_DB_PASSWORD_FILE": str(tmp_path / "pw"), "SHOP_REDIS_PASSWORD": "r"})
    assert s.db_password == "s3cret" and s.redis_password == "r" and s.redis_port == 26379
    assert w.Settings.from_env({}).db_password is None


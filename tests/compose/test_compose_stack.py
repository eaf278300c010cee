"""The sample stack in containers, for real: every service healthy (and its health check able to fail), the
images non-root with no secret in a layer, a short Locust load through the front end, `analyze --compose`
against it, a restart through Compose applying an env file, and `demo down` leaving nothing behind.

Runs in file order on one stack (tests/compose/conftest.py); the last test stops it."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

from tests.compose.conftest import PORTS, PROJECT, SCALE, cli

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose"
SECRETS = [(COMPOSE / "secrets" / "dev" / f).read_text().strip() for f in ("postgres_password", "redis_password")]
SERVICES = ("postgres", "redis", "backend", "worker", "frontend")


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=600)
    assert not check or res.returncode == 0, res.stderr
    return res


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read().decode("utf-8", "replace")


def layers_containing(image: str, needles: list[bytes]) -> list[str]:
    """Names of the entries of `docker save IMAGE` (layer tars, config) in which one of needles occurs; the
    archive is read as a stream, never written to disk."""
    hits = []
    with subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE) as proc:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
            for member in archive:
                if member.isfile():
                    data = archive.extractfile(member).read()
                    if any(n in data for n in needles):
                        hits.append(member.name)
    assert proc.returncode == 0
    return hits


def test_every_service_is_healthy_on_loopback(compose_stack):
    containers = compose_stack.containers()
    assert {s: (c["state"], c["health"]) for s, c in containers.items()} == \
        {s: ("running", "healthy") for s in SERVICES}
    for s, c in containers.items():
        ports = json.loads(docker("inspect", "-f", "{{json .NetworkSettings.Ports}}", c["id"]).stdout) or {}
        for bindings in ports.values():
            assert all(b["HostIp"] == "127.0.0.1" for b in bindings or []), (s, bindings)
    assert get(f"http://127.0.0.1:{PORTS.nginx}/")[0] == 200
    status, body = get(f"http://127.0.0.1:{PORTS.nginx}/api/categories")
    assert status == 200 and len(json.loads(body)) > 0
    assert json.loads(get(f"http://127.0.0.1:{PORTS.management}/actuator/health/readiness")[1])["status"] == "UP"


def test_health_checks_fail_when_their_service_is_broken(compose_stack):
    """Each health check is the image's own and runs in it; a check that cannot fail would prove nothing."""
    containers = compose_stack.containers()
    for s, c in containers.items():
        check = json.loads(docker("inspect", "-f", "{{json .Config.Healthcheck}}", c["id"]).stdout)
        assert check and check["Test"][0] in ("CMD", "CMD-SHELL"), s
    redis = containers["redis"]["id"]
    assert docker("exec", redis, "shop-redis-healthcheck", check=False).returncode == 0
    wrong = docker("exec", "-e", "REDIS_PASSWORD_FILE=/etc/hostname", redis, "shop-redis-healthcheck", check=False)
    assert wrong.returncode != 0
    pg = containers["postgres"]["id"]
    assert docker("exec", pg, "pg_isready", "-h", "127.0.0.1", "-p", "5433", check=False).returncode != 0


def test_images_run_as_non_root_and_keep_no_secret_in_a_layer(compose_stack):
    images = compose_stack.images()
    assert set(images) == {*SERVICES, "locust"}
    for service, c in compose_stack.containers().items():
        assert docker("exec", c["id"], "id", "-u").stdout.strip() != "0", service
    for image in images.values():
        user = docker("image", "inspect", "-f", "{{.Config.User}}", image).stdout.strip()
        assert re.fullmatch(r"[1-9]\d*(:\d+)?", user), (image, user)
        history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout
        assert not any(s in history for s in SECRETS), image
        assert not re.search(r"PASSWORD=(?!/)\S", history), image
        # Every file of every layer (a file deleted by a later layer is still in the earlier one).
        assert not layers_containing(image, [x.encode() for x in SECRETS]), image


def test_a_short_load_through_the_front_end(compose_stack, tmp_path):
    out = tmp_path / "locust"
    res = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "sample_workloads" / "shop" / "locustfile.py"),
         "--headless", "-u", "10", "-r", "5", "-t", "20s", "--host", f"http://127.0.0.1:{PORTS.nginx}",
         "--csv", str(out), "--only-summary"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "SHOP_SCALE": str(SCALE), "SHOP_THINK_SCALE": "0.2"})
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    rows = {r["Name"]: r for r in csv.DictReader(open(f"{out}_stats.csv"))}
    total = rows.pop("Aggregated")
    assert int(total["Request Count"]) > 50
    assert int(total["Failure Count"]) == 0, open(f"{out}_failures.csv").read()
    assert any("/api/products" in name for name in rows)


def test_analyze_compose_finds_and_analyses_every_target(compose_stack, tmp_path):
    from advisor import run
    from advisor.compose_targets import discover
    from advisor.config import build_settings
    from advisor.stack.docker import PORT_VARIABLES

    environ = {var: str(getattr(PORTS, name)) for var, name in PORT_VARIABLES.items()}
    found = discover(COMPOSE / "docker-compose.yml", env_files=[COMPOSE / "env" / "dev.env"], environ=environ)
    assert not found.missing, found.lines()
    assert set(found.targets) == {"postgres", "redis", "actuator", "frontend"}
    out = tmp_path / "report"
    settings = build_settings(tmp_path / "none.toml", target_flags=found.targets, sample="5s")
    outcome = run.analyze_command(settings, out, None, echo=print)
    assert outcome.errors == []
    statuses = {a: t["status"] for a, t in outcome.report["targets"].items()}
    assert {a: statuses[a] for a in found.targets} == {a: "ok" for a in found.targets}
    rules = {f["rule"] for f in outcome.report["findings"]}
    assert "PG001" in rules  # a planted missing index, measured in the container's database
    assert any(r.startswith("CDN") for r in rules)  # the planted missing compression, probed through nginx
    for f in out.iterdir():
        text = f.read_text(errors="replace")
        assert not any(s in text for s in SECRETS), f.name


def test_restart_through_compose_applies_an_env_file(compose_stack, tmp_path):
    """The validate loop's restart: `docker compose up -d --no-deps backend` with apply's spring.env."""
    def pool_max() -> float:
        get(f"http://127.0.0.1:{PORTS.management}/actuator/health")  # its db check opens the pool
        text = get(f"http://127.0.0.1:{PORTS.management}/actuator/prometheus")[1]
        return float(re.search(r"^hikaricp_connections_max\{[^}]*\} (\S+)$", text, re.M).group(1))

    assert pool_max() == 2  # env/dev.env: the planted pool of 2
    spring_env = tmp_path / "spring.env"
    spring_env.write_text("# written like perfadvisor apply's spring.env\nSPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE=7\n")
    before = compose_stack.containers()["backend"]["id"]
    compose_stack.restart("backend", spring_env, echo=print)
    after = compose_stack.containers()
    assert after["backend"]["id"] != before  # recreated with the new environment
    assert after["postgres"]["health"] == "healthy"  # --no-deps: the others were left alone
    assert pool_max() == 7


def test_a_second_up_is_refused_while_the_project_runs(compose_stack):
    res = cli("demo", "up", "--engine", "docker", "--project", PROJECT, "--no-build",
              "--port-offset", str(PORTS.nginx - 18088))
    assert res.returncode == 2
    assert f"the Compose project {PROJECT} is already running" in res.stderr and "Traceback" not in res.stderr

def test_status_names_every_service_and_no_password(compose_stack):
    res = cli("demo", "status", "--engine", "docker", "--project", PROJECT, "--port-offset", str(PORTS.nginx - 18088))
    assert res.returncode == 0, res.stderr
    for s in SERVICES:
        assert re.search(rf"^{s}\s+running\s+.*health=healthy", res.stdout, re.M), res.stdout
    assert f"postgresql://shop:***@127.0.0.1:{PORTS.postgres}/shop" in res.stdout
    assert not any(s in res.stdout + compose_stack.up_output for s in SECRETS)


def test_the_layer_scan_finds_a_secret_that_a_later_layer_deleted(compose_stack, tmp_path):
    """The check above can fail: an image that copied a password in and deleted it in the next step."""
    (tmp_path / "password").write_text("not-a-real-password-4711\n")
    (tmp_path / "Dockerfile").write_text(f"FROM {compose_stack.images()['redis']}\nUSER 0\nCOPY password /tmp/p\n"
                                         "RUN rm /tmp/p\n")
    docker("build", "-q", "-t", "perfadvisor-test/leak:1", str(tmp_path))
    try:
        assert docker("history", "--no-trunc", "perfadvisor-test/leak:1").returncode == 0
        assert layers_containing("perfadvisor-test/leak:1", [b"not-a-real-password-4711"])
    finally:
        docker("rmi", "-f", "perfadvisor-test/leak:1", check=False)


def test_zz_down_leaves_no_container_network_or_volume(compose_stack):
    res = cli("demo", "down", "--engine", "docker", "--project", PROJECT, "--purge")
    assert res.returncode == 0, res.stderr
    assert sorted(re.findall(r"^stopped (\w+)", res.stdout, re.M)) == sorted(SERVICES)
    label = f"label=com.docker.compose.project={PROJECT}"
    assert docker("ps", "-aq", "--filter", label).stdout.strip() == ""
    assert docker("network", "ls", "-q", "--filter", label).stdout.strip() == ""
    assert docker("volume", "ls", "-q", "--filter", label).stdout.strip() == ""
    time.sleep(0.5)
    from advisor.stack.procs import _port_free

    assert all(_port_free(p) for p in (PORTS.postgres, PORTS.redis, PORTS.backend, PORTS.management, PORTS.nginx))
    res = cli("demo", "status", "--engine", "docker", "--project", PROJECT)
    assert res.returncode == 1 and "no containers" in res.stdout


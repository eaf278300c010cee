"""advisor.stack.docker and `demo --engine docker` where something is missing: each is one line naming what
is wrong and what to do, with exit code 2, and no traceback. Uses the real docker CLI (pointed at a socket no
engine listens on) where it is installed; needs no engine."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.stack.config import StackError
from advisor.stack.docker import ComposeConfig, ComposeStack, compose_command, engine_version


def test_no_docker_command(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StackError, match=r"docker command is not installed \(apt-get install docker.io\)"):
        engine_version()
    with pytest.raises(StackError, match="Docker Compose is not installed"):
        compose_command()


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker command")
def test_no_engine_answering(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    with pytest.raises(StackError, match="no Docker engine answers .*: start it .* or use --engine native"):
        engine_version()
    res = CliRunner().invoke(cli, ["demo", "up", "--engine", "docker", "--no-build"])
    assert res.exit_code == 2
    assert res.output.startswith("perfadvisor: error: no Docker engine answers") and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    for command in (["status"], ["down"]):
        res = CliRunner().invoke(cli, ["demo", *command, "--engine", "docker"])
        assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1, res.output
        assert "no Docker engine answers" in res.output


def test_missing_source_and_env_file_are_named(tmp_path):
    with pytest.raises(StackError, match=r"docker-compose.yml not found: run from a perfadvisor source checkout"):
        ComposeStack(ComposeConfig(source_dir=tmp_path)).up(echo=lambda s: None)
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    with pytest.raises(StackError, match=r"env file .*nope.env not found \(--env-file\)"):
        ComposeStack(ComposeConfig(source_dir=tmp_path, env_file="nope.env")).up(echo=lambda s: None)
    with pytest.raises(StackError, match="env file .*missing.env not found"):
        ComposeStack(ComposeConfig()).restart("backend", tmp_path / "missing.env", echo=lambda s: None)


def test_cli_help_names_the_engines_and_the_docker_options():
    res = CliRunner().invoke(cli, ["demo", "up", "--help"])
    assert res.exit_code == 0
    for text in ("--engine [native|docker]", "--env-file", "--project", "--bases [auto|official|debian]",
                 "native"):
        assert text in res.output
    res = CliRunner().invoke(cli, ["demo", "down", "--help"])
    assert "--engine" in res.output and "--purge" in res.output


@pytest.mark.skipif(shutil.which("docker") is None or subprocess.run(
    ["docker", "compose", "version"], capture_output=True).returncode != 0, reason="no Compose plugin")
def test_the_images_the_stack_builds_are_read_from_the_compose_file():
    images = ComposeStack(ComposeConfig()).images()
    assert images == {"postgres": "perfadvisor-shop/postgres:15", "redis": "perfadvisor-shop/redis:7",
                      "backend": "perfadvisor-shop/backend:0.1.0", "worker": "perfadvisor-shop/worker:0.1.0",
                      "frontend": "perfadvisor-shop/frontend:0.1.0", "locust": "perfadvisor-shop/locust:2.47.0"}

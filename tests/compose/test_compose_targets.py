"""advisor.compose_targets on compose files that are not ours: several services of one image, ports as ranges
and in long syntax, env files, ${VAR:-default}, profiles and secrets. Pure file parsing (no engine); the
interpolation is checked against `docker compose config` itself when the Compose plugin is installed."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.compose_targets import (
    PortBinding,
    discover,
    final_base_image,
    interpolate,
    parse_env_file,
    parse_ports,
)
from advisor.errors import ConfigError, InputFileError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, compose: str, **files: str) -> Path:
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    path = tmp_path / "compose.yaml"
    path.write_text(textwrap.dedent(compose))
    return path


def password(url: str) -> str | None:
    pw = urlsplit(url).password
    return unquote(pw) if pw is not None else None


# ---------------------------------------------------------------------------------------------------------
# Our own compose file


def test_the_sample_stack_compose_file():
    d = discover(ROOT / "compose" / "docker-compose.yml", env_files=[ROOT / "compose" / "env" / "dev.env"],
                 environ={})
    secrets = ROOT / "compose" / "secrets" / "dev"
    assert d.targets["postgres"]["dsn"] == (
        f"postgresql://shop:{(secrets / 'postgres_password').read_text().strip()}@127.0.0.1:25432/shop")
    assert password(d.targets["redis"]["url"]) == (secrets / "redis_password").read_text().strip()
    assert urlsplit(d.targets["redis"]["url"]).port == 26379
    assert d.targets["actuator"] == {"urls": ["http://127.0.0.1:18081/actuator"]}
    assert d.targets["frontend"] == {"url": "http://127.0.0.1:18088/"}
    assert d.inactive == ("locust",) and not d.missing
    text = "\n".join(d.lines()) + repr(d)
    for f in ("postgres_password", "redis_password"):
        assert (secrets / f).read_text().strip() not in text
    assert "postgresql://shop:***@127.0.0.1:25432/shop" in text


def test_staging_secrets_outside_the_repository_are_reported_not_guessed(tmp_path):
    env = ROOT / "compose" / "env" / "staging.env"
    d = discover(ROOT / "compose" / "docker-compose.yml", env_files=[env], environ={})
    assert d.targets["postgres"]["dsn"] == "postgresql://shop@127.0.0.1:25432/shop"
    pg = next(f for f in d.found if f.area == "postgres")
    assert any("cannot read /etc/perfadvisor-shop/postgres_password" in w for w in pg.warnings)
    # The shell environment wins over the env file, as in Compose: point the secrets at readable files.
    (tmp_path / "pg").write_text("s3cr3t:/@?\n")
    (tmp_path / "rd").write_text("r3dis\n")
    d = discover(ROOT / "compose" / "docker-compose.yml", env_files=[env],
                 environ={"POSTGRES_PASSWORD_FILE": str(tmp_path / "pg"), "REDIS_PASSWORD_FILE": str(tmp_path / "rd"),
                          "POSTGRES_PORT": "25999"})
    assert password(d.targets["postgres"]["dsn"]) == "s3cr3t:/@?"
    assert urlsplit(d.targets["postgres"]["dsn"]).port == 25999
    assert password(d.targets["redis"]["url"]) == "r3dis"


# ---------------------------------------------------------------------------------------------------------
# Compose files that are not ours


def test_several_services_of_one_image(tmp_path):
    path = write(tmp_path, """
        services:
          db-main:
            image: postgres:16
            environment: {POSTGRES_PASSWORD: main-pw, POSTGRES_DB: orders}
            ports: ["127.0.0.1:15432:5432"]
          db-reports:
            image: postgres:16
            environment: {POSTGRES_PASSWORD: reports-pw}
            ports: ["127.0.0.1:15433:5432"]
          api-1:
            image: acme/orders-api:2.1
            environment:
              SPRING_DATASOURCE_URL: jdbc:postgresql://db-main:5432/orders
              MANAGEMENT_SERVER_PORT: "9090"
            ports: ["127.0.0.1:18001:8080", "127.0.0.1:19001:9090"]
          api-2:
            image: acme/orders-api:2.1
            environment:
              SPRING_DATASOURCE_URL: jdbc:postgresql://db-main:5432/orders
              MANAGEMENT_SERVER_PORT: "9090"
            ports: ["127.0.0.1:18002:8080", "127.0.0.1:19002:9090"]
        """)
    d = discover(path, environ={})
    # The application points at db-main: that one, with its superuser and the application's database.
    assert d.targets["postgres"]["dsn"] == "postgresql://postgres:main-pw@127.0.0.1:15432/orders"
    # Two services of one image are two instances of one application.
    assert d.targets["actuator"]["urls"] == ["http://127.0.0.1:19001/actuator", "http://127.0.0.1:19002/actuator"]
    # Choosing the other database explicitly.
    d = discover(path, services=["db-reports"], environ={})
    assert d.targets == {"postgres": {"dsn": "postgresql://postgres:reports-pw@127.0.0.1:15433/postgres"}}
    assert {m.area for m in d.missing} == {"redis", "actuator", "frontend"}


def test_two_databases_and_nothing_pointing_at_one_is_ambiguous(tmp_path):
    path = write(tmp_path, """
        services:
          a: {image: "postgres:15", ports: ["5432:5432"], environment: [POSTGRES_PASSWORD=x]}
          b: {image: "bitnami/postgresql:15", ports: ["5433:5432"]}
          c: {image: "acme/web", environment: [SPRING_PROFILES_ACTIVE=prod]}
          d: {image: "acme/admin", environment: [SPRING_PROFILES_ACTIVE=prod]}
        """)
    d = discover(path, environ={})
    reasons = {m.area: m.reason for m in d.missing}
    assert "several PostgreSQL services (a, b)" in reasons["postgres"] and "--service" in reasons["postgres"]
    assert "several Spring Boot applications (c; d)" in reasons["actuator"]


def test_ports_in_long_syntax_ranges_and_replicas(tmp_path):
    path = write(tmp_path, """
        services:
          cache:
            image: redis:7-alpine
            command: ["redis-server", "--port", "6380", "--requirepass", "plain pw"]
            ports:
              - target: 6380
                published: "16380"
                host_ip: 127.0.0.1
                protocol: tcp
          api:
            image: ghcr.io/acme/api:1
            environment: {SERVER_PORT: "8081", SPRING_PROFILES_ACTIVE: prod}
            deploy: {replicas: 3}
            ports: ["127.0.0.1:18081-18085:8081"]
          web:
            image: nginxinc/nginx-unprivileged:1.27
            ports: ["9443-9444:8443-8444", "[::1]:9080:8080/tcp"]
        """)
    d = discover(path, environ={})
    assert d.targets["redis"]["url"] == "redis://:plain%20pw@127.0.0.1:16380/0"
    assert d.targets["actuator"]["urls"] == [f"http://127.0.0.1:{p}/actuator" for p in (18081, 18082, 18083)]
    assert d.targets["frontend"] == {"url": "http://[::1]:9080/"}
    assert parse_ports("9443-9444:8443-8444", "t") == [PortBinding(8443, 9443), PortBinding(8444, 9444)]
    assert parse_ports({"target": 80}, "t") == [PortBinding(80, None)]
    assert parse_ports("127.0.0.1::5432", "t") == [PortBinding(5432, None, "127.0.0.1")]
    assert parse_ports(5432, "t") == [PortBinding(5432, None)]


def test_a_port_the_engine_picks_is_reported_with_the_command_to_find_it(tmp_path):
    path = write(tmp_path, """
        services:
          db: {image: "postgres:15", ports: ["5432"], environment: {POSTGRES_PASSWORD: x}}
          cache: {image: "redis:7", expose: ["6379"]}
          api: {image: "acme/api", deploy: {replicas: 1}, ports: ["8000-8010:8080"],
                environment: [SPRING_MAIN_BANNER_MODE=off]}
        """)
    reasons = {m.area: m.reason for m in discover(path, environ={}).missing}
    assert "`docker compose port db 5432`" in reasons["postgres"]
    assert "does not publish port 6379" in reasons["redis"] and "--redis" in reasons["redis"]
    assert "one of 8000-8010" in reasons["actuator"]


def test_env_files_and_defaults(tmp_path):
    path = write(tmp_path, """
        name: ${PROJECT:-shop-${STAGE:-dev}}
        services:
          db:
            image: "postgres:${PG_VERSION:-16}"
            env_file: [db.env, {path: optional.env, required: false}]
            environment:
              POSTGRES_USER: ${DB_USER:-app}
            ports: ["${BIND:-127.0.0.1}:${DB_PORT:-5432}:5432"]
          app:
            image: acme/app
            env_file: app.env
            ports: ["127.0.0.1:${MGMT_PORT}:9000"]
        """,
        **{".env": "DB_PORT=15999\nMGMT_PORT=19000 # the management port\n",
           "other.env": "export DB_PORT='25999'\nMGMT_PORT=\"29000\"\nSTAGE=prod\n",
           "db.env": "POSTGRES_PASSWORD=\"p#w\\\"d\"\nPOSTGRES_DB=${DB_NAME:-main}\n",
           "app.env": "MANAGEMENT_SERVER_PORT=9000\nMANAGEMENT_ENDPOINTS_WEB_BASE_PATH=/manage\n"})
    d = discover(path, environ={})  # .env beside the compose file
    assert d.project == "shop-dev"
    assert d.targets["postgres"]["dsn"] == 'postgresql://app:p%23w%22d@127.0.0.1:15999/main'
    assert d.targets["actuator"]["urls"] == ["http://127.0.0.1:19000/manage"]
    d = discover(path, env_files=[tmp_path / "other.env"], environ={"DB_USER": "admin"})
    assert d.project == "shop-prod"
    assert d.targets["postgres"]["dsn"] == 'postgresql://admin:p%23w%22d@127.0.0.1:25999/main'
    assert d.targets["actuator"]["urls"] == ["http://127.0.0.1:29000/manage"]


def test_a_required_variable_that_is_unset_is_one_clear_error(tmp_path):
    path = write(tmp_path, """
        services:
          db: {image: "postgres:15", ports: ["${DB_PORT:?set DB_PORT to the published port}:5432"]}
        """)
    with pytest.raises(ConfigError, match="variable DB_PORT is not set: set DB_PORT to the published port"):
        discover(path, environ={})
    assert discover(path, environ={"DB_PORT": "5555"}).targets["postgres"]["dsn"].endswith("@127.0.0.1:5555/postgres")


def test_profiles(tmp_path):
    path = write(tmp_path, """
        services:
          db: {image: "postgres:15", ports: ["5432:5432"], environment: {POSTGRES_HOST_AUTH_METHOD: trust}}
          cache: {image: "valkey/valkey:8", ports: ["6379:6379"], profiles: [cache, full]}
          web: {image: "caddy:2", ports: ["8080:80"], profiles: [full]}
        """)
    d = discover(path, environ={})
    assert set(d.targets) == {"postgres"} and d.inactive == ("cache", "web")
    assert not next(f for f in d.found if f.area == "postgres").warnings  # trust: no password needed
    assert set(discover(path, profiles=["cache"], environ={}).targets) == {"postgres", "redis"}
    assert set(discover(path, environ={"COMPOSE_PROFILES": "full"}).targets) == {"postgres", "redis", "frontend"}
    assert set(discover(path, environ={"COMPOSE_PROFILES": "*"}).targets) == {"postgres", "redis", "frontend"}
    # Naming a service considers it whatever its profiles.
    assert set(discover(path, services=["web"], environ={}).targets) == {"frontend"}


def test_secrets_files_environment_external_and_missing(tmp_path):
    path = write(tmp_path, """
        services:
          db:
            image: postgres:15
            environment: {POSTGRES_USER_FILE: /run/secrets/db_user, POSTGRES_PASSWORD_FILE: /var/db-pw}
            secrets: [db_user, {source: db_password, target: /var/db-pw}]
            ports: ["127.0.0.1:5432:5432"]
          cache:
            image: redis:7
            command: sh -c 'exec redis-server --requirepass "$$(cat /run/secrets/cache_pw)"'
            secrets: [cache_pw]
            ports: ["127.0.0.1:6379:6379"]
          api:
            image: acme/api
            environment:
              SPRING_CONFIG_IMPORT: "optional:configtree:/run/secrets/"
              MANAGEMENT_SERVER_PORT: "8081"
            secrets: [{source: db_password, target: spring.datasource.password}]
            ports: ["127.0.0.1:8081:8081"]
        secrets:
          db_user: {file: ./secrets/user.txt}
          db_password: {environment: DB_PASSWORD}
          cache_pw: {external: true}
        """, **{"secrets/user.txt": "owner\n"})
    d = discover(path, environ={"DB_PASSWORD": "from-env"})
    assert d.targets["postgres"]["dsn"] == "postgresql://owner:from-env@127.0.0.1:5432/owner"
    assert d.targets["redis"]["url"] == "redis://127.0.0.1:6379/0"
    redis = next(f for f in d.found if f.area == "redis")
    assert any("external" in w for w in redis.warnings)
    d = discover(path, environ={})
    pg = next(f for f in d.found if f.area == "postgres")
    assert any("variable DB_PASSWORD is not set" in w for w in pg.warnings)
    assert "from-env" not in "\n".join(d.lines())


def test_the_application_supplies_what_the_database_service_does_not_say(tmp_path):
    path = write(tmp_path, """
        services:
          pg:
            build: ./db
            ports: ["127.0.0.1:6543:6543"]
            command: ["postgres", "-c", "port=6543"]
          app:
            build: {context: ./app, args: {JRE: "eclipse-temurin:21"}}
            environment:
              DATABASE_URL: postgres://reporter:r%40pw@pg:6543/reports
              SPRING_DATA_REDIS_HOST: cache
              SPRING_DATA_REDIS_PASSWORD_FILE: /run/secrets/redis
            secrets: [redis]
          cache:
            build: {context: ., dockerfile: cache.Dockerfile}
            ports: ["127.0.0.1:7000:6379"]
          proxy:
            build: ./web
            ports: ["127.0.0.1:8443:443", "127.0.0.1:8080:80"]
        secrets:
          redis: {file: redis.txt}
        """,
        **{"db/Dockerfile": "ARG PG=postgres:16\nFROM ${PG} AS base\nFROM base\nRUN true\n",
           "app/Dockerfile": "ARG JRE=eclipse-temurin:17\nFROM maven AS build\nFROM $JRE\n",
           "cache.Dockerfile": "# syntax=docker/dockerfile:1\nFROM \\\n  redis:7.2\n",
           "web/Dockerfile": "FROM node:22 AS build\nFROM --platform=linux/amd64 nginx:1.27\n",
           "redis.txt": "cache-pw\n"})
    d = discover(path, environ={})
    assert d.targets["postgres"]["dsn"] == "postgresql://reporter:r%40pw@127.0.0.1:6543/reports"
    assert d.targets["redis"]["url"] == "redis://:cache-pw@127.0.0.1:7000/0"
    assert d.targets["frontend"] == {"url": "http://127.0.0.1:8080/"}
    assert final_base_image((tmp_path / "app" / "Dockerfile").read_text(), {"JRE": "eclipse-temurin:21"}) == \
        "eclipse-temurin:21"
    assert final_base_image((tmp_path / "db" / "Dockerfile").read_text()) == "postgres:16"


def test_tools_around_a_database_are_not_the_database(tmp_path):
    path = write(tmp_path, """
        services:
          exporter: {image: "prometheuscommunity/postgres-exporter", ports: ["9187:9187"]}
          ui: {image: "rediscommander/redis-commander", ports: ["8081:8081"]}
          pgadmin: {image: "dpage/pgadmin4", ports: ["5050:80"]}
        """)
    d = discover(path, environ={})
    assert d.targets == {}
    assert {m.area for m in d.missing} == {"postgres", "redis", "actuator", "frontend"}


# ---------------------------------------------------------------------------------------------------------
# Bad input: one line naming the input


def test_bad_input_is_named(tmp_path):
    with pytest.raises(InputFileError, match="compose file .*nope.yml: not found"):
        discover(tmp_path / "nope.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("services:\n  a: [\n")
    with pytest.raises(InputFileError, match="not valid YAML at line"):
        discover(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(InputFileError, match="no `services:` mapping"):
        discover(bad)
    path = write(tmp_path, "services:\n  db: {image: postgres, ports: ['70000:5432']}\n")
    with pytest.raises(InputFileError, match="70000 is not a port"):
        discover(path, environ={})
    path = write(tmp_path, "services:\n  db: {image: postgres}\n", **{"bad.env": "GOOD=1\nnot a pair\n"})
    with pytest.raises(InputFileError, match=r"bad.env:2: expected KEY=VALUE"):
        discover(path, env_files=[tmp_path / "bad.env"])
    with pytest.raises(ConfigError, match=r"--service api: no such service .* \(services: db\)"):
        discover(path, services=["api"], environ={})
    with pytest.raises(ConfigError, match="unclosed"):
        interpolate("${A:-x", {})
    with pytest.raises(ConfigError, match="a variable name must follow"):
        interpolate("${}", {})


# ---------------------------------------------------------------------------------------------------------
# Interpolation rules, by example, by property, and against Compose itself


def test_interpolation_forms():
    env = {"A": "1", "EMPTY": ""}
    assert interpolate("$$A ${A} $A ${B:-x} ${EMPTY:-d} ${EMPTY-d} ${B-y}", env) == "$A 1 1 x d  y"
    assert interpolate("${A:+set} ${EMPTY:+set} ${EMPTY+set} ${B+set}|", env) == "set  set |"
    assert interpolate("${B:-${C:-${A}}} ${B:-a}b}", env) == "1 ab}"
    assert interpolate("cost $ 5 and $1", env) == "cost $ 5 and $1"
    with pytest.raises(ConfigError, match="variable B is not set: required"):
        interpolate("${B?}", env)
    with pytest.raises(ConfigError, match="variable EMPTY is not set"):
        interpolate("${EMPTY:?}", env)
    assert interpolate("${EMPTY?}", env) == ""


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="${}:-?+AB_x $", max_size=30))
def test_interpolation_never_fails_other_than_with_a_config_error(text):
    try:
        out = interpolate(text, {"A": "1", "B": ""})
    except ConfigError:
        return
    assert isinstance(out, str)


@given(st.text(alphabet=st.characters(blacklist_characters="$"), max_size=50))
def test_text_without_a_dollar_is_unchanged(text):
    assert interpolate(text, {"A": "1"}) == text


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(alphabet="0123456789:-./[]abc", max_size=25), st.integers(-5, 70000),
                 st.dictionaries(st.sampled_from(["target", "published", "host_ip", "protocol"]),
                                 st.one_of(st.integers(-5, 70000), st.text(max_size=8)))))
def test_port_parsing_fails_only_with_an_input_file_error(spec):
    try:
        binds = parse_ports(spec, "fuzz")
    except InputFileError:
        return
    assert all(0 < b.target < 65536 and (b.published is None or 0 < b.published < 65536) for b in binds)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="AB=#'\"\\ x\n$", max_size=40))
def test_env_file_parsing_fails_only_with_a_named_error(tmp_path_factory, text):
    p = tmp_path_factory.mktemp("env") / "x.env"
    p.write_text(text)
    try:
        parse_env_file(p)
    except (InputFileError, ConfigError) as e:
        assert str(p) in str(e)


def _compose_plugin() -> bool:
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _compose_plugin(), reason="the Docker Compose plugin is not installed (.ci/compose builds it)")
def test_interpolation_and_env_files_agree_with_docker_compose_config(tmp_path):
    path = write(tmp_path, """
        services:
          s:
            image: "postgres:${V:-16}"
            env_file: [s.env]
            environment:
              A: "${A}|${B:-b}|${C-c}|${E:-e}|${E-e}|${A:+plus}|$$lit|${N:-${A}-nested}"
              Q: ${Q}
        """, **{".env": "A=one\nE=\nQ='single $A'\n", "s.env": "X=\"two ${A}\"\nY=three # comment\nexport Z=4\n"})
    res = subprocess.run(["docker", "compose", "-f", str(path), "config", "--format", "json"],
                         capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/local/bin:/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr
    theirs = json.loads(res.stdout)["services"]["s"]
    from advisor.compose_targets.services import load_project, load_services

    doc, env = load_project(path, [], {})
    ours = load_services(doc, tmp_path, env, "t")["s"]
    # `config` prints a file Compose can read again, so a literal $ comes out as $$.
    assert ours.environment == {k: v.replace("$$", "$") for k, v in theirs["environment"].items()}
    assert ours.image == theirs["image"]

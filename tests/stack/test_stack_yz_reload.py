"""`perfadvisor demo reload` on a stack of its own (offset 450, started and stopped by this module, so the
session stack's measurements are not disturbed): what `perfadvisor apply` wrote from a recorded real report
reaches the running services — the back end restarted with spring.env reports the new values in
/actuator/configprops, Redis has the redis.conf settings, nginx serves /assets/ gzipped and immutable — and bad
input leaves the stack running as before."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from advisor.cli import cli
from advisor.envfile import parse_env_file
from advisor.stack import State

from .conftest import running_stack

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "tests" / "fixtures" / "reports" / "shop-stack"
RELOAD_OFFSET = 450  # tests/actuator/test_live.py has 400


@pytest.fixture(scope="module")
def reload_stack():
    with running_stack(RELOAD_OFFSET, {}) as s:
        yield s


@pytest.fixture(scope="module")
def apply_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("apply")
    res = CliRunner().invoke(cli, ["apply", str(REPORT), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def _get(url: str, headers: dict | None = None) -> tuple[dict, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 (loopback)
        return {k.lower(): v for k, v in r.headers.items()}, r.read()


def _configprops(stack) -> dict:
    return json.loads(_get(f"{stack.urls.actuator}/configprops")[1])


def _bound_value(props: dict, prop: str):
    """The value /actuator/configprops shows for a property (by the bean whose prefix is the longest match)."""
    beans = [b for ctx in props["contexts"].values() for b in ctx["beans"].values()]
    bean = max((b for b in beans if prop.startswith(b["prefix"] + ".")), key=lambda b: len(b["prefix"]))
    node = bean["properties"]
    for part in prop[len(bean["prefix"]) + 1:].split("."):
        node = node[re.sub(r"-(\w)", lambda m: m.group(1).upper(), part)]
    return node


def _as_bound(value: str) -> str | int:
    """A property value as configprops shows it: a duration like 15s as ISO-8601 (Spring's Duration), digits
    as an int."""
    m = re.fullmatch(r"(\d+)(s|m|h)", value)
    if m:
        return f"PT{m.group(1)}{m.group(2).upper()}"
    return int(value) if value.isdigit() else value


def _properties(path: Path) -> dict[str, str]:
    return dict(ln.split("=", 1) for ln in path.read_text().splitlines() if ln and not ln.startswith("#"))


def _redis(stack) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=stack.ports.redis, password=stack.stack.redis_password(),
                       decode_responses=True)


def _largest_asset(stack) -> str:
    assets = [p for p in (stack.run_dir / "www" / "assets").iterdir() if p.suffix in (".js", ".css")]
    return "/assets/" + max(assets, key=lambda p: p.stat().st_size).name


def _reload(stack, apply_dir: Path | str | None):
    args = ["demo", "reload", "--run-dir", str(stack.run_dir)] + (["--apply-dir", str(apply_dir)] if apply_dir else [])
    return CliRunner().invoke(cli, args, env={"PERFADVISOR_APPLY_DIR": None})


def _snapshot(stack) -> dict:
    """What bad input must not change: pids, Redis settings, nginx's headers for an asset."""
    state = State.load(stack.stack.state_file)
    headers, _ = _get(stack.urls.frontend.rstrip("/") + _largest_asset(stack), {"Accept-Encoding": "gzip"})
    return {"pids": {k: p.pid for k, p in state.procs.items()},
            "redis": _redis(stack).config_get("maxmemory*"),
            "nginx": (headers.get("content-encoding"), headers.get("cache-control")),
            "backend_env": stack.stack.applied_env()}


def test_reload_applies_the_recorded_reports_settings_to_every_service(reload_stack, apply_dir):
    s = reload_stack
    env = parse_env_file(apply_dir / "spring.env")
    props = _properties(apply_dir / "application-perfadvisor.properties")
    redis_conf = dict(ln.split(" ", 1) for ln in (apply_dir / "redis.conf").read_text().splitlines()
                      if ln and not ln.startswith("#"))
    assert "spring.datasource.hikari.maximum-pool-size" in props and "shop.cache.ttl.products" in props
    assert {"maxmemory", "maxmemory-policy"} <= set(redis_conf)
    asset = s.urls.frontend.rstrip("/") + _largest_asset(s)

    before = _configprops(s)
    for prop, value in props.items():
        assert _bound_value(before, prop) != _as_bound(value), f"{prop} already {value}: the test cannot tell"
    headers, _ = _get(asset, {"Accept-Encoding": "gzip"})
    assert headers.get("content-encoding") is None and "immutable" not in headers.get("cache-control", "")
    backend_pid = s.proc_pid("backend")

    res = _reload(s, apply_dir)
    print(res.output)
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == ["redis", "nginx", "backend", "postgres"]

    after = _configprops(s)
    for prop, value in props.items():
        assert _bound_value(after, prop) == _as_bound(value), prop
    assert s.proc_pid("backend") != backend_pid
    assert s.stack.applied_env() == env
    got = _redis(s).config_get("maxmemory*")
    assert got["maxmemory-policy"] == redis_conf["maxmemory-policy"]
    assert int(got["maxmemory"]) == int(re.fullmatch(r"(\d+)mb", redis_conf["maxmemory"]).group(1)) * 1024 ** 2
    headers, body = _get(asset, {"Accept-Encoding": "gzip"})
    assert headers.get("content-encoding") == "gzip" and body[:2] == b"\x1f\x8b"
    assert headers.get("cache-control") == "public, max-age=31536000, immutable"
    index_headers, _ = _get(s.urls.frontend)
    assert index_headers.get("cache-control") == "no-cache"
    api_headers, body = _get(s.urls.frontend + "api/categories")
    assert json.loads(body)

    status = CliRunner().invoke(cli, ["demo", "status", "--run-dir", str(s.run_dir)])
    assert "applied   by demo reload: SHOP_CACHE_TTL_PRODUCTS=" in status.output, status.output


def test_reload_again_with_the_same_directory_restarts_nothing(reload_stack, apply_dir):
    pid = reload_stack.proc_pid("backend")
    res = _reload(reload_stack, apply_dir)
    assert res.exit_code == 0, res.output
    assert "backend   unchanged, already runs with" in res.output
    assert reload_stack.proc_pid("backend") == pid


def _bad_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    d = tmp_path / "bad-apply"
    d.mkdir()
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def _one_line_error(res, *says: str) -> None:
    lines = res.output.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("perfadvisor: error: "), res.output
    for s in says:
        assert s in lines[0], lines[0]


def test_no_apply_directory_is_one_line(reload_stack, tmp_path):
    before = _snapshot(reload_stack)
    _one_line_error(_reload(reload_stack, None), "pass --apply-dir DIR or set PERFADVISOR_APPLY_DIR")
    _one_line_error(_reload(reload_stack, tmp_path / "missing"), f"apply directory {tmp_path / 'missing'}: not found")
    _one_line_error(_reload(reload_stack, tmp_path), "no apply.json, spring.env, redis.conf or nginx.conf")
    assert _snapshot(reload_stack) == before


def test_a_redis_line_redis_refuses_changes_no_setting(reload_stack, tmp_path):
    before = _snapshot(reload_stack)
    d = _bad_dir(tmp_path, {"redis.conf": "# ok first\nmaxmemory-policy allkeys-lru\nmaxmemory lots\n",
                            "spring.env": "SPRING_DATASOURCE_HIKARI_MINIMUMIDLE=3\n"})
    _one_line_error(_reload(reload_stack, d), f"{d / 'redis.conf'}:3: Redis refused `maxmemory lots`")
    assert _snapshot(reload_stack) == before  # allkeys-lru of line 2 was undone; the back end not restarted


def test_an_nginx_snippet_nginx_rejects_leaves_nginx_serving_as_before(reload_stack, tmp_path):
    before = _snapshot(reload_stack)
    d = _bad_dir(tmp_path, {"nginx.conf": "gzip maybe;\n", "redis.conf": "maxmemory-policy allkeys-lru\n"})
    _one_line_error(_reload(reload_stack, d), f"nginx -t rejects {d / 'nginx.conf'}", 'invalid value "maybe"')
    assert _snapshot(reload_stack) == before


def test_an_unparseable_snippet_or_env_file_is_one_line(reload_stack, tmp_path):
    before = _snapshot(reload_stack)
    d = _bad_dir(tmp_path, {"nginx.conf": "location /x/ {\n    expires 1y;\n"})
    _one_line_error(_reload(reload_stack, d), f"{d / 'nginx.conf'}:1: unbalanced braces")
    (d / "nginx.conf").unlink()
    (d / "spring.env").write_text("SPRING_DATASOURCE_HIKARI_MINIMUMIDLE 3\n")
    _one_line_error(_reload(reload_stack, d), f"{d / 'spring.env'}:1: no '='")
    assert _snapshot(reload_stack) == before


def test_a_back_end_that_does_not_start_is_restarted_with_the_previous_settings(reload_stack, tmp_path):
    before = _snapshot(reload_stack)
    d = _bad_dir(tmp_path, {"spring.env": "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE=lots\n"})
    _one_line_error(_reload(reload_stack, d), "the back end did not start with SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE=lots")
    after = _snapshot(reload_stack)
    assert after["backend_env"] == before["backend_env"] and after["redis"] == before["redis"]
    assert after["nginx"] == before["nginx"]
    bound = _bound_value(_configprops(reload_stack), "spring.datasource.hikari.maximum-pool-size")
    assert bound == int(before["backend_env"]["SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE"])


def test_up_starts_the_stack_as_shipped_again(reload_stack, apply_dir):
    """A later `up` in the same run directory must measure the stack as shipped, not as reloaded."""
    s = reload_stack
    assert s.stack.applied_env() and s.stack.applied_nginx_file.exists()
    s.stack.down(echo=print)
    s.stack.up(echo=print)
    assert s.stack.applied_env() == {} and not s.stack.applied_nginx_file.exists()
    props = _configprops(s)
    for prop, value in _properties(apply_dir / "application-perfadvisor.properties").items():
        assert _bound_value(props, prop) != _as_bound(value), prop
    headers, _ = _get(s.urls.frontend.rstrip("/") + _largest_asset(s), {"Accept-Encoding": "gzip"})
    assert headers.get("content-encoding") is None and "immutable" not in headers.get("cache-control", "")

"""Collection over HTTP from a loopback server that answers with recorded real scrapes (and with the answers of
faults: 401/403, a stalled answer, an HTML login page, a refused connection, an endpoint that goes away
mid-window). Every failure is one line naming the URL, with no password and no auth header in it."""

from __future__ import annotations

import base64
import json

import pytest
from click.testing import CliRunner

import analyzers.actuator as act
from advisor import pipeline, sampling
from advisor.config import Settings
from advisor.errors import ConfigError, TargetError
from analyzers.actuator import client
from analyzers.actuator.source import ActuatorSource
from tests.actuator.conftest import JSON_V3, OPENMETRICS, TEXT_004, Answer, app_routes, recorded

DEAD_PORT = 31461  # nothing listens here


def settings(urls, **target):
    return Settings(targets={"actuator": {"urls": list(urls), **target}})


def window(s: Settings, duration_s=0.6, interval_s=0.2):
    w = sampling.run_window(act.sources(s), duration_s, interval_s)
    return w, act.collect(s, w, w.recordings)


def test_boot35_window_gives_the_documented_section(actuator_server):
    actuator_server.serve(app_routes("boot35-shop"))
    w, sec = window(settings([actuator_server.url]))
    assert sec["window"]["mode"] == "window" and sec["errors"] == []
    [inst] = sec["instances"]
    assert inst["name"] == "127.0.0.1:31460" and inst["url"] == actuator_server.url + "/actuator"
    assert inst["endpoint"] == "prometheus" and inst["format"].startswith("text/plain")
    assert inst["exposed"] == {"prometheus": True, "metrics": None, "configprops": True, "env": False}
    assert any("/actuator/env is not exposed" in n and "management.endpoints.web.exposure.include" in n
               for n in inst["notes"])
    assert inst["boot_version"] == "3.3 or later"
    assert len(inst["t_s"]) == 4 and all(len(v) == 4 for v in inst["series"].values())
    assert 'hikaricp_connections_max{pool="shop"}' in inst["series"]
    assert not any(k.split("{")[0].endswith("_bucket") for k in inst["series"])
    assert inst["histograms"]["t_s"] == [inst["t_s"][0], inst["t_s"][-1]]
    assert any(k.startswith("http_server_requests_seconds_bucket{") for k in inst["histograms"]["last"])
    assert inst["families"]["hikaricp"] == {"exposed": True, "naming": ["micrometer"]}
    assert inst["configured"]["per_cache_ttl"]["products"]["property"] == "shop.cache.ttl.products"
    json.dumps(sec, allow_nan=False)  # the section is plain JSON
    info = act.target_info(sec)
    assert info["instances"][0]["samples"] == 4 and info["mode"] == "window"


@pytest.mark.parametrize("url,target,path", [
    ("{base}", {}, "/actuator"),
    ("{base}/actuator", {}, "/actuator"),
    ("{base}/actuator/", {}, "/actuator"),
    ("{base}", {"base_path": "/manage"}, "/manage"),
    ("http://127.0.0.1:1/manage", {"base_path": "manage", "management_port": 31460}, "/manage"),
])
def test_url_forms_base_path_and_management_port(actuator_server, url, target, path):
    actuator_server.serve(app_routes("boot35-shop", base=path))
    _, sec = window(settings([url.format(base=actuator_server.url)], **target), duration_s=0)
    assert sec["instances"][0]["url"] == actuator_server.url + path
    assert sec["instances"][0]["endpoint"] == "prometheus"


def test_boot27_and_openmetrics(actuator_server):
    actuator_server.serve(app_routes("boot27-catalog", openmetrics=True))
    _, sec = window(settings([actuator_server.url]), duration_s=0)
    inst = sec["instances"][0]
    assert sec["window"]["mode"] == "since_start"
    assert inst["format"].startswith("application/openmetrics-text")
    assert inst["boot_version"] == "2.x"
    assert inst["families"]["hikaricp"]["naming"] == ["hikaricp", "micrometer"]
    assert any("read leniently" in n for n in inst["notes"])
    assert inst["configured"]["per_cache_ttl"]["items"]["property"] == "catalog.caching.expiry.items"
    result = act.analyze(sec, Settings())
    assert result.findings == []
    assert any("one scrape" in n for n in result.notes)
    assert result.coverage["pools"] == ["main", "reporting"]


def test_replicas_are_instances_of_one_section(actuator_server):
    routes = {**app_routes("boot35-shop", base="/a/actuator"), **app_routes("boot35-shop", base="/b/actuator")}
    actuator_server.serve(routes)
    _, sec = window(settings([actuator_server.url + "/a/actuator", actuator_server.url + "/b/actuator"]), 0)
    assert [i["name"] for i in sec["instances"]] == ["127.0.0.1:31460", "127.0.0.1:31460#2"]


def _error(s: Settings) -> str:
    with pytest.raises(TargetError) as e:
        window(s, duration_s=0)
    msg = str(e.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


def test_nothing_exposed_names_the_property_to_set(actuator_server):
    msg = _error(settings([actuator_server.url]))
    assert msg.startswith(f"actuator 127.0.0.1:31460: failed before the window: Actuator {actuator_server.url}")
    assert "add prometheus to management.endpoints.web.exposure.include" in msg


def test_401_without_auth_header_says_to_set_one(actuator_server):
    actuator_server.serve({"/actuator/prometheus": Answer(401, "application/json", b"{}")})
    msg = _error(settings([actuator_server.url]))
    assert "answered 401, authentication is required" in msg and "auth_header" in msg


def test_403_with_auth_header_says_refused_and_never_shows_it(actuator_server, monkeypatch):
    monkeypatch.delenv(act.AUTH_ENV, raising=False)
    actuator_server.serve({"/actuator/prometheus": Answer(403, "application/json", b"{}")})
    msg = _error(settings([actuator_server.url], auth_header="Authorization: Bearer s3cret-token"))
    assert "answered 403, the auth header was refused" in msg and "s3cret-token" not in msg
    assert actuator_server.requests[0]["headers"]["Authorization"] == "Bearer s3cret-token"


def test_auth_header_from_the_environment_is_sent_and_never_stored(actuator_server, monkeypatch):
    monkeypatch.setenv(act.AUTH_ENV, "X-Api-Key: env-s3cret")
    actuator_server.serve(app_routes("boot35-shop"))
    s = settings([actuator_server.url])
    s.sample_s, s.sample_interval_s = 0.0, 1.0
    snap, errors = pipeline.collect(s)
    assert errors == [] and snap["targets"]["actuator"]["status"] == "ok"
    assert all(r["headers"].get("X-Api-Key") == "env-s3cret" for r in actuator_server.requests)
    report = pipeline.analyze(snap, s)
    assert "env-s3cret" not in json.dumps(snap) + json.dumps(report)


def test_password_in_the_url_becomes_basic_auth_and_is_hidden(actuator_server):
    actuator_server.serve({"/actuator/prometheus": Answer(401, "application/json", b"{}")})
    msg = _error(settings([actuator_server.url.replace("http://", "http://ops:pw-s3cret@")]))
    assert "ops:***@" in msg and "pw-s3cret" not in msg
    expected = "Basic " + base64.b64encode(b"ops:pw-s3cret").decode()
    assert actuator_server.requests[0]["headers"]["Authorization"] == expected


def test_timeout(actuator_server):
    actuator_server.serve({"/actuator/prometheus": Answer(200, TEXT_004, b"a 1\n", delay_s=1.5)})
    msg = _error(settings([actuator_server.url], timeout_s=0.3))
    assert "no answer within 0.3 s" in msg and "timeout_s" in msg


def test_html_instead_of_metrics(actuator_server):
    page = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body><form></form></body></html>"
    actuator_server.serve({"/actuator/prometheus": Answer(200, "text/html;charset=UTF-8", page)})
    msg = _error(settings([actuator_server.url]))
    assert "answered with an HTML page, not metrics" in msg


def test_html_served_as_text_is_still_html(actuator_server):
    page = b"<html><body>proxy error</body></html>"
    actuator_server.serve({"/actuator/prometheus": Answer(200, TEXT_004, page)})
    assert "HTML page" in _error(settings([actuator_server.url]))


def test_connection_refused_names_host_and_management_port():
    msg = _error(settings([f"http://127.0.0.1:{DEAD_PORT}"]))
    assert f"connection refused: nothing listens on 127.0.0.1:{DEAD_PORT}" in msg
    assert "management.server.port" in msg


def test_garbage_metrics(actuator_server):
    actuator_server.serve({"/actuator/prometheus": Answer(200, TEXT_004, b'{"oops": true}')})
    assert "not a Prometheus exposition" in _error(settings([actuator_server.url]))


def test_a_target_that_fails_mid_window_keeps_its_samples_and_the_other_goes_on(actuator_server):
    routes = {**app_routes("boot35-shop", base="/a/actuator"), **app_routes("boot35-shop", base="/b/actuator")}
    actuator_server.serve(routes)
    s = settings([actuator_server.url + "/a/actuator", actuator_server.url + "/b/actuator"])
    srcs = act.sources(s)
    original = srcs[1].sample
    calls = {"n": 0}

    def breaks_after_two():
        calls["n"] += 1
        if calls["n"] == 3:  # the application behind /b goes away: its endpoint now answers 404
            del actuator_server.routes["/b/actuator/prometheus"]
        return original()

    srcs[1].sample = breaks_after_two
    w = sampling.run_window(srcs, 1.0, 0.2)
    sec = act.collect(s, w, w.recordings)
    a, b = sec["instances"]
    assert len(a["t_s"]) == 6 and a["error"] is None
    assert len(b["t_s"]) == 2 and b["error"]["phase"] == "sample"
    [line] = sec["errors"]
    assert line.startswith("actuator 127.0.0.1:31460#2: failed") and "(2 sample(s) kept)" in line
    assert "answered 404" in line
    assert len(b["series"]['hikaricp_connections_max{pool="shop"}']) == 2


def test_bad_configuration_is_a_config_error():
    with pytest.raises(ConfigError, match="expected http"):
        act.sources(settings(["ftp://x"]))
    with pytest.raises(ConfigError, match="Header-Name: value"):
        act.sources(settings(["http://127.0.0.1:1"], auth_header="Bearer-only"))
    with pytest.raises(ConfigError, match="timeout_s"):
        act.sources(settings(["http://127.0.0.1:1"], timeout_s=-1))
    with pytest.raises(ConfigError, match="management_port"):
        act.sources(settings(["http://127.0.0.1:1"], management_port="x"))


def test_configured_accepts_urls_url_and_a_string():
    assert act.configured(Settings()) is not None
    assert act.configured(Settings(targets={"actuator": {"urls": []}})) is not None
    for t in ({"urls": ["http://a:1"]}, {"url": "http://a:1"}, {"urls": "http://a:1, http://b:1"}):
        assert act.configured(Settings(targets={"actuator": t})) is None
    srcs = act.sources(Settings(targets={"actuator": {"urls": "http://a:1, http://b:1"}}))
    assert [s.name for s in srcs] == ["actuator a:1", "actuator b:1"]


def test_headline_shows_pool_and_cache(actuator_server):
    actuator_server.serve(app_routes("boot35-shop"))
    src = ActuatorSource(client.endpoint(actuator_server.url), "x")
    src.open()
    first = src.sample()
    second = dict(first)
    hit = 'cache_gets_total{cache="products",cache_manager="cacheManager",result="hit"}'
    miss = 'cache_gets_total{cache="products",cache_manager="cacheManager",result="miss"}'
    second[hit] += 30
    second[miss] += 10
    line = src.headline(first, second, 1.0)
    active = first['hikaricp_connections_active{pool="shop"}']
    assert line.startswith(f"pool shop active {active:g}/2 pending") and line.endswith("products hit 75%")
    assert src.headline(None, first, 0.0).count("·") == 0


def test_cli_exits_2_with_one_line(actuator_server, tmp_path):
    from advisor.cli import cli

    res = CliRunner().invoke(cli, ["analyze", "--actuator", actuator_server.url, "--sample", "0", "--quiet",
                                   "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "neither /prometheus nor /metrics is exposed" in lines[0] and "Traceback" not in res.output


def test_metrics_json_listing_is_read(actuator_server):
    # /actuator/prometheus not exposed, /actuator/metrics exposed (as recorded) but none of the series
    # answers with a tag filter here: the fallback is chosen and samples what answers.
    actuator_server.serve({"/actuator/metrics": Answer(200, JSON_V3, recorded("boot35-shop", "metrics.json"))})
    _, sec = window(settings([actuator_server.url]), duration_s=0)
    inst = sec["instances"][0]
    assert inst["endpoint"] == "metrics" and inst["format"] == "actuator-metrics-json"
    assert any("read /actuator/metrics/{name} with tag filters instead" in n for n in inst["notes"])


def test_openmetrics_content_type_is_honoured(actuator_server):
    actuator_server.serve({"/actuator/prometheus": Answer(200, OPENMETRICS,
                                                          recorded("boot35-shop", "openmetrics.txt"))})
    _, sec = window(settings([actuator_server.url]), duration_s=0)
    assert sec["instances"][0]["format"].startswith("application/openmetrics-text")
    assert 'hikaricp_connections_max{pool="shop"}' in sec["instances"][0]["series"]

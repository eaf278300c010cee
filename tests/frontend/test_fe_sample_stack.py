"""The sample stack's front end (compose/frontend, served with compose/nginx/default.conf.template):
perfadvisor finds the problems planted there (sample_workloads/shop/README.md): the Admin route with its
chart library in the entry chunk, no compression and no long-lived cache headers on hashed assets."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.config import Settings
from analyzers.frontend import cdn, headers, load_bundle, rules

from .conftest import build, project_copy

pytestmark = pytest.mark.slow

COMPOSE = Path(__file__).resolve().parents[2] / "compose"


@pytest.fixture(scope="module")
def shop_dist(tmp_path_factory) -> Path:
    if not (COMPOSE / "frontend" / "package-lock.json").is_file():
        pytest.skip("compose/frontend is not in this checkout")
    proj = project_copy("shop-frontend", tmp_path_factory.mktemp("shop") / "app", COMPOSE / "frontend")
    return build(proj)


def test_planted_bundle_problems(shop_dist):
    b = load_bundle(shop_dist)
    found = rules.run(b, Settings())
    lazy = {f.evidence["route"]: f for f in found if f.rule == "FE002"}
    assert "/admin" in lazy and "/orders" not in lazy                # Orders is already React.lazy
    admin = lazy["/admin"]
    assert admin.evidence["import_chain"][-1] == "src/pages/Admin.jsx"
    assert "node_modules/recharts" in [x["module"] for x in admin.evidence["leaves_initial_load"]]
    assert admin.severity == "high"


def _server_lines(template: str, dist: Path, port: int) -> str:
    """The server block of the sample's nginx template, with its variables filled in."""
    body = template.split("server {", 1)[1].rsplit("}", 1)[0]
    body = "\n".join(line for line in body.splitlines() if not line.strip().startswith(("listen", "root")))
    return (body.replace("${NGINX_BACKEND}", "127.0.0.1:9")          # /api is not probed
                .replace("${NGINX_STATIC_ROOT}", str(dist)).replace("${NGINX_LISTEN}", str(port)))


def test_planted_header_problems(shop_dist, nginx_factory):
    template = (COMPOSE / "nginx" / "default.conf.template").read_text()
    server = nginx_factory(shop_dist, _server_lines(template, shop_dist, 0),
                           http_lines="    include /etc/nginx/mime.types;")
    probe = headers.probe(server.url, load_bundle(shop_dist), timeout_s=5)
    found = {f.rule for f in cdn.run(probe, Settings())}
    assert {"CDN001", "CDN003"} <= found
    assert "CDN005" not in found                                       # mime.types is included

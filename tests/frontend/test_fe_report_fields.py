"""What a user reading report.html and report.md learns about how the front-end figures were obtained (issue
16): the bundler's real config file, package sizes labelled minified (source maps) or before minification
(webpack stats), each FE008 image figure measured or estimated from a sample, and no absolute path of the
build machine anywhere. Real builds of the fixture apps, analysed by the CLI; the HTML is parsed."""

from __future__ import annotations

import json
import random
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli import cli
from analyzers.frontend import images
from reports import frontend as fe

from .conftest import build, project_copy

pytestmark = pytest.mark.slow

# An absolute path as a build machine writes it (not a URL's path: no scheme or host before it).
ABSOLUTE = re.compile(r"(?<![\w.:/-])/(?:tmp|home|root|Users|work|builds?|var|opt|srv|private)/[\w.-]")


class _Text(HTMLParser):
    """The page's visible text, one string per element's text run (script and style left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(" ".join(data.split()))


def _visible(html: str) -> str:
    p = _Text()
    p.feed(html)
    return "\n".join(p.parts)


def _analyze(bundle: Path, out: Path) -> tuple[dict, str, str, str]:
    r = CliRunner().invoke(cli, ["analyze", "--bundle", str(bundle), "--out", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    html = (out / "report.html").read_text()
    return json.loads((out / "report.json").read_text()), html, _visible(html), (out / "report.md").read_text()


def _no_machine_path(text: str, *dirs: Path) -> None:
    for d in dirs:
        assert str(d.resolve()) not in text and str(d) not in text
    m = ABSOLUTE.search(text)
    assert m is None, text[max(0, m.start() - 80):m.end() + 80]


def _picture(path: Path, w: int, h: int, seed: int) -> Path:
    """A photo-like PNG (gradients plus noise): far smaller as WebP/AVIF."""
    from PIL import Image

    rnd = random.Random(seed)
    im = Image.new("RGB", (w, h))
    im.putdata([((x * 255) // w, (y * 255) // h, ((x * y) % 256) ^ rnd.randrange(32))
                for y in range(h) for x in range(w)])
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


@pytest.fixture(scope="module")
def vite_with_images(tmp_path_factory) -> Path:
    """The Vite fixture with a large image (over images.SAMPLE_MAX_PIXELS: estimated from a sample) and a
    small one (encoded whole) in public/, built."""
    proj = project_copy("vite-app", tmp_path_factory.mktemp("vite-report") / "app")
    _picture(proj / "public" / "large-photo.png", 900, 700, seed=1)
    _picture(proj / "public" / "small-photo.png", 300, 300, seed=2)
    assert 900 * 700 > images.SAMPLE_MAX_PIXELS >= 300 * 300
    build(proj)
    return proj


def test_vite_report_shows_config_minified_sizes_and_how_images_were_measured(vite_with_images, tmp_path,
                                                                            monkeypatch):
    # time enough to measure both images (the size model past the cap is test_fe_images_speed's)
    monkeypatch.setattr(images, "IMAGE_TIME_BUDGET_S", 60.0)
    report, html, text, md = _analyze(vite_with_images / "dist", tmp_path / "out")
    # the bundler's real config file, in the targets and the coverage, and the file a config change goes in
    assert report["targets"]["frontend"]["config_file"] == "vite.config.js"
    assert "config file: vite.config.js" in text and "config file: vite.config.js" in md
    # package sizes: minified, through the source maps (FE003 moment and the coverage's largest packages)
    fe003 = [f for f in report["findings"] if f["rule"] == "FE003"]
    assert fe003 and all(f["evidence"]["minified_measured"] for f in fe003)
    assert f"Package sizes: {fe.MINIFIED}" in text and f"Package sizes: {fe.MINIFIED}" in md
    assert fe.BEFORE_MINIFICATION not in text + md
    # FE008: which image figure is measured and which estimated, per image
    fe008 = next(f for f in report["findings"] if f["rule"] == "FE008")
    how = {Path(r["file"]).name: r["measure"] for r in fe008["evidence"]["images"]}
    assert how == {"large-photo.png": "sampled", "small-photo.png": "encoded"}
    assert fe008["confidence"] == "estimated"
    line = "WebP/AVIF sizes: 1 measured (the whole image encoded); 1 estimated from a sample"
    assert line in text and line in md
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `[^`]*?([\w-]+\.png)` \|.*\| ([^|]+) \|$", md, re.M)}
    assert rows == {"large-photo.png": "estimated (sample)", "small-photo.png": "measured"}
    # the HTML's evidence table says the same per image: the row of each file holds its measure
    for name, measure in how.items():
        assert re.search(re.escape(name) + r"[^\n]*\n(?:[^\n]+\n){3,5}" + measure, text), (name, measure)
    _no_machine_path(html + md + json.dumps(report), vite_with_images, tmp_path)


def test_webpack_report_labels_sizes_before_minification_and_names_its_config(chart_project, tmp_path):
    report, html, text, md = _analyze(chart_project / "dist" / "stats.json", tmp_path / "out")
    assert "config file: config/webpack.prod.js" in text and "config file: config/webpack.prod.js" in md
    # config changes name the app's config file, as the report shows them
    assert any(f["action"].get("file") == "config/webpack.prod.js" for f in report["findings"])
    assert "\nin config/webpack.prod.js\n" in text  # report.html: above the snippet
    assert "The change goes in config/webpack.prod.js." in md
    # webpack stats sizes are before minification, and said so (finding and coverage)
    assert f"Package sizes: {fe.BEFORE_MINIFICATION}" in text and f"Package sizes: {fe.BEFORE_MINIFICATION}" in md
    assert f"Package sizes: {fe.MINIFIED}" not in text + md
    assert "vite" not in md.lower()
    _no_machine_path(html + md + json.dumps(report), chart_project, tmp_path)


def test_lines_follow_the_evidence():
    """The wording is a function of the evidence, not of the rule: a mixed FE007 list says how many of each."""
    f = {"area": "frontend", "rule": "FE007", "evidence": {"packages": [
        {"package": "a", "minified_measured": True}, {"package": "b", "minified_measured": False}]},
        "action": {"kind": "none"}}
    assert fe.finding_lines(f) == [f"Package sizes: 1 {fe.MINIFIED}, 1 {fe.BEFORE_MINIFICATION} (their minified "
                                   "size is estimated)."]
    assert fe.finding_lines({**f, "area": "postgres"}) == []
    model = {"area": "frontend", "rule": "FE008", "action": {},
             "evidence": {"images": [{"file": "a.png", "measure": "model"}, {"file": "b.jpg", "measure": "model"}]}}
    assert fe.finding_lines(model) == [f"WebP/AVIF sizes: 2 {fe.IMAGE_MEASURES['model']}."]

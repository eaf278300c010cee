"""diff.md as GitHub would show it: rendered with markdown-it-py's GFM-like preset (tables, strikethrough,
HTML), every table whole, every text from a report shown as written, and under 60,000 characters with
hundreds of findings."""

from __future__ import annotations

import copy
import html as htmllib
import json
import re
from pathlib import Path

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from advisor.diff import MARKER, MAX_COMMENT_CHARS, diff_reports, read_report, write
from advisor.diff.render import CELL_CHARS, cell
from tests.diff.conftest import load, schema

HOSTILE = "orders | <script>alert(1)</script> **bold** `code` [link](javascript:x) \\| a_b *c* ~~s~~ #1 ! {x}"


def render(md: str) -> str:
    return MarkdownIt("gfm-like").render(md)


def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def assert_tables_whole(md: str) -> None:
    """Every row of every GFM table has as many cells as its header (GitHub pads or cuts rows silently)."""
    width = None
    for line in md.splitlines():
        if line.startswith("|"):
            width = width or unescaped_pipes(line)
            assert unescaped_pipes(line) == width, line
        else:
            width = None


def td_texts(rendered: str) -> list[str]:
    return [htmllib.unescape(re.sub(r"<[^>]+>", "", t)) for t in re.findall(r"<td>(.*?)</td>", rendered, re.S)]


def read(path: Path) -> dict:
    return read_report(path)


def test_real_diffs_render_as_whole_tables(reports, tmp_path):
    for old, new in ((reports.base, reports.indexed), (reports.indexed, reports.dropped),
                     (reports.dropped, reports.skewed)):
        d = diff_reports(read(old), read(new), "high")
        write(d, tmp_path)
        md = (tmp_path / "diff.md").read_text()
        assert md.startswith(MARKER + "\n")
        assert_tables_whole(md)
        out = render(md)
        cells = td_texts(out)
        for e in d["new_findings"] + d["resolved_findings"] + d["changed_findings"]:
            assert e["title"][:CELL_CHARS - 1] in " ".join(cells), e["title"]
        # 1 counts table + one per non-empty section
        sections = sum(1 for k in ("new_findings", "resolved_findings", "changed_findings") if d[k])
        assert out.count("<table>") == 1 + sections


def hostile_pair(reports) -> tuple[dict, dict]:
    old = read(reports.base)
    new = copy.deepcopy(read(reports.dropped))
    for f in new["findings"]:
        f["id"] = f["id"] + "|new"
        f["title"] = HOSTILE + "\nsecond line"
    return old, new


def test_text_from_a_report_cannot_break_the_comment(reports, tmp_path):
    old, new = hostile_pair(reports)
    d = diff_reports(old, new, "high")
    write(d, tmp_path)
    md = (tmp_path / "diff.md").read_text()
    assert_tables_whole(md)
    out = render(md)
    assert "<script" not in out and "javascript:" not in out.replace("javascript:x)", "")
    assert "<strong>bold" not in out and "<code>code" not in out and "<del>" not in out
    expected = " ".join((HOSTILE + "\nsecond line").split())
    assert sum(1 for t in td_texts(out) if t == expected) == len(new["findings"])
    page = (tmp_path / "diff.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def many(report: dict, copies: int, tag: str) -> dict:
    """The report with its findings copied `copies` times under new ids (a big but well-formed input)."""
    out = copy.deepcopy(report)
    out["findings"] = [{**f, "id": f"{f['id']}#{tag}{i}", "title": f"{f['title']} (copy {i})"}
                       for i in range(copies) for f in report["findings"]]
    return out


def test_hundreds_of_findings_stay_under_the_comment_limit(reports, tmp_path):
    base = read(reports.base)
    old, new = many(base, 40, "a"), many(base, 40, "b")
    for f in new["findings"][: len(new["findings"]) // 2]:  # also some changed: keep half of the old ids
        f["id"] = f["id"].replace("#b", "#a")
        f["severity"] = "critical"
    d = diff_reports(old, new, "high")
    assert d["summary"]["new"] >= 200 and d["summary"]["resolved"] >= 200 and d["summary"]["changed"] >= 150
    write(d, tmp_path)
    md = (tmp_path / "diff.md").read_text()
    assert len(md) < MAX_COMMENT_CHARS
    assert_tables_whole(md)
    assert "more new findings in diff.html and diff.json" in md
    assert "<details><summary>" in md
    out = render(md)
    assert out.count("<table>") >= 4
    jsonschema.validate(json.loads((tmp_path / "diff.json").read_text()), schema("diff.schema.json"))
    assert len(json.loads((tmp_path / "diff.json").read_text())["new_findings"]) == d["summary"]["new"]


def test_a_few_findings_are_all_in_the_comment(reports, tmp_path):
    d = diff_reports(read(reports.dropped), read(reports.skewed))
    write(d, tmp_path)
    md = (tmp_path / "diff.md").read_text()
    assert "more new findings in diff.html" not in md and "more changed findings in diff.html" not in md


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_is_one_cell_shown_as_written(text):
    row = f"| {cell(text)} | x |"
    assert unescaped_pipes(row) == 3
    out = render("| a | b |\n|---|---|\n" + row + "\n")
    cells = td_texts(out)
    assert len(cells) == 2 and cells[1] == "x"
    shown = " ".join(re.sub(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]", "", text).split())
    if len(shown) <= CELL_CHARS:
        assert cells[0] == (shown or "")


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)))
def test_any_json_is_a_report_or_one_clear_error(tmp_path_factory, doc):
    from advisor.errors import InputFileError
    p = tmp_path_factory.mktemp("fuzz") / "report.json"
    p.write_text(json.dumps(doc))
    try:
        read_report(p)
    except InputFileError as e:
        assert str(p) in str(e) and "\n" not in str(e)


def test_report_unchanged_on_disk(reports):
    """Reading reports for a diff never rewrites them."""
    before = (reports.base / "report.json").read_bytes()
    diff_reports(read(reports.base), read(reports.rerun))
    assert (reports.base / "report.json").read_bytes() == before and load(reports.base)["findings"]

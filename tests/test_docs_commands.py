"""The docs stay true: every `perfadvisor …` command they show exists (subcommands and options, checked against
click's command tree), and the shop README's table of findings matches a real run's report."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import click
import pytest

from advisor.cli import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "sample_workloads" / "shop" / "README.md",
        *sorted((ROOT / "docs").rglob("*.md"))]
SHOP_README = ROOT / "sample_workloads" / "shop" / "README.md"
RECORDED = ROOT / "tests" / "fixtures" / "reports" / "shop-stack" / "report.json"

_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.S | re.M)
#: Fenced blocks in these languages hold shell commands (an unlabelled block may too).
_SHELL = {"", "sh", "bash", "shell", "console", "text"}
#: A command at the start of a line (after `$ `, VAR=value assignments or `sudo`) or after && ; | (.
_AT = re.compile(r"(?:^(?:\$\s+)?(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*(?:sudo\s+)?|(?:&&|;|\||\()\s*)"
                 r"(perfadvisor(?:\s.*)?)$")
_INLINE = re.compile(r"`(perfadvisor [^`\n]+)`")
#: Tokens that end one shell command (what follows is another command or a redirection).
_ENDS = {"|", "||", "&&", ";", "&", ">", ">>", "2>&1", "<"}


def commands_in(text: str) -> list[str]:
    """Every `perfadvisor …` command line in a Markdown text: in fenced blocks (backslash continuations joined,
    comments dropped, a leading `$ ` or VAR=value prefixes allowed) and in inline code spans."""
    found = []
    for lang, block in _FENCE.findall(text):
        if lang.strip().lower() not in _SHELL:
            continue
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            m = _AT.search(line.strip())
            if m:
                found.append(m.group(1))
    found += _INLINE.findall(re.sub(_FENCE, "", text))
    return found


def check_command(line: str) -> str | None:
    """None when `line` (perfadvisor SUBCOMMAND … OPTIONS …) names only subcommands and options that exist in the
    click tree; else what is wrong."""
    line = line.split(" #", 1)[0]
    try:
        tokens = shlex.split(line)
    except ValueError:
        tokens = line.split()
    cmd: click.Command = cli
    path = ["perfadvisor"]
    for tok in tokens[1:]:
        if tok in _ENDS or tok.startswith(("|", ">", "2>")):
            break
        if tok in ("…", "...") or tok.startswith(("<", "[")):
            continue  # placeholders written into the docs (`perfadvisor analyze …`)
        if tok.startswith("-") and tok != "-":
            name = tok.split("=", 1)[0]
            names = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}
            if isinstance(cmd, click.Group) and cmd is cli:
                names |= {"--version"}
            if name not in names:
                return f"{' '.join(path)}: no option {name}"
            continue
        if isinstance(cmd, click.Group):
            sub = cmd.commands.get(tok)
            if sub is None:
                return f"{' '.join(path)}: no subcommand {tok!r} (known: {', '.join(sorted(cmd.commands))})"
            cmd = sub
            path.append(tok)
    return None


def _all_commands() -> list[tuple[str, str]]:
    return [(str(p.relative_to(ROOT)), c) for p in DOCS for c in commands_in(p.read_text(encoding="utf-8"))]


def test_the_docs_show_commands():
    cmds = _all_commands()
    # the README's quick start and the shop README's `Run it` at least
    assert sum(1 for where, _ in cmds if where == "README.md") >= 5, cmds
    assert any(c.startswith("perfadvisor demo up") for where, c in cmds if "shop" in where)


def test_every_documented_command_exists():
    wrong = [f"{where}: `{c}` — {why}" for where, c in _all_commands() if (why := check_command(c))]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("line, problem", [
    ("perfadvisor analyse --pg x", "no subcommand 'analyse'"),
    ("perfadvisor analyze --pgg x", "no option --pgg"),
    ("perfadvisor demo upp", "no subcommand 'upp'"),
    ("perfadvisor demo status --jsn", "no option --jsn"),
])
def test_the_check_catches_a_wrong_command(line, problem):
    assert problem in (check_command(line) or "")


def test_commands_are_found_in_fences_and_inline_code():
    text = ("Run `perfadvisor thresholds` first.\n\n```sh\n$ PGX=1 perfadvisor analyze --pg x \\\n"
            "    --out y   # comment\n# perfadvisor nothing\nACL SETUSER perfadvisor on\n```\n"
            "```toml\nx = 1  # perfadvisor opens\n```\n")
    assert [" ".join(c.split()) for c in commands_in(text)] == ["perfadvisor analyze --pg x --out y # comment",
                                                               "perfadvisor thresholds"]


def _findings_table(text: str) -> list[dict[str, str]]:
    section = text.split("## What perfadvisor finds for each planted problem", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith(("| planted problem", "|---")):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            rule = re.sub(r"^\[([A-Z]+\d+)\]\(.*\)$", r"\1", cells[0 + 1])
            rows.append({"problem": cells[0], "rule": rule, "title": cells[2], "id": cells[3].strip("`")})
    return rows


def _planted_problems(text: str) -> set[str]:
    section = text.split("## The planted problems and what you see", 1)[1].split("\n## ", 1)[0]
    return {line.split(" | ")[0][2:] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith(("| problem", "|---"))}


def test_shop_readme_names_the_finding_of_every_planted_problem():
    """Each row of the shop README's findings table is a finding of the recorded real run (rule, id, title), and
    every planted problem has at least one row."""
    text = SHOP_README.read_text(encoding="utf-8")
    rows = _findings_table(text)
    report = json.loads(RECORDED.read_text(encoding="utf-8"))
    by_id = {f["id"]: f for f in report["findings"]}
    assert rows
    for row in rows:
        f = by_id.get(row["id"])
        assert f is not None, f"{row['id']} is not a finding of {RECORDED.name}"
        assert (f["rule"], f["title"]) == (row["rule"], row["title"]), row
    assert _planted_problems(text) == {r["problem"] for r in rows}


def test_configuration_doc_lists_the_known_target_keys():
    """docs/configuration.md's table of target keys is the one the config check uses."""
    from advisor.config import target_keys

    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for area, keys in target_keys().items():
        row = re.search(rf"^\| `\[targets\.{area}\]` \| (.*) \|$", text, re.M)
        assert row, f"docs/configuration.md has no row for [targets.{area}]"
        assert [k.strip("` ") for k in row.group(1).split(",")] == list(keys), area

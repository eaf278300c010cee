"""advisor.envfile: the env-file format of Docker Compose and systemd's EnvironmentFile."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.envfile import format_env_line, parse_env_file, parse_env_text
from advisor.errors import InputFileError


def test_the_lines_apply_writes(tmp_path):
    f = tmp_path / "spring.env"
    f.write_text("# Written by `perfadvisor apply` from a perfadvisor report. One setting per line.\n\n"
                 "# POOL001:shop: The pool is too small\nSPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE=10\n"
                 "# CACHE001:products: TTL\nSHOP_CACHE_TTL_PRODUCTS=15s\n")
    assert parse_env_file(f) == {"SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE": "10", "SHOP_CACHE_TTL_PRODUCTS": "15s"}


@pytest.mark.parametrize("line, expected", [
    ("A=b", ("A", "b")),
    ("  A = b  ", ("A", "b")),
    ("A=", ("A", "")),
    ("A='x # y $HOME'", ("A", "x # y $HOME")),
    ('A="a \\"q\\" \\\\ \\$x\\n"', ("A", 'a "q" \\ $x\n')),
    ('A="x" # note', ("A", "x")),
    ("A=b#c", ("A", "b#c")),
    ("A=a=b", ("A", "a=b")),
    ("spring.profiles.active=perfadvisor", ("spring.profiles.active", "perfadvisor")),
])
def test_values(line, expected):
    assert parse_env_text(line) == dict([expected])


def test_comments_blank_lines_and_a_repeated_key():
    assert parse_env_text("; systemd comment\n# c\n\nA=1\nB=2\nA=3\n") == {"B": "2", "A": "3"}


@pytest.mark.parametrize("text, says", [
    ("JUSTTEXT", "no '='"),
    ("=1", "an empty name"),
    ("1A=x", "is not a variable name"),
    ("A B=x", "is not a variable name"),
    ("A='x", "unterminated"),
    ('A="x" y', "text after the closing quote"),
    ("A=x # y", "quote the value"),
    ("export A=1", "`export`"),
    ("A=x\\", "backslash"),
])
def test_malformed_lines_name_the_file_and_line(tmp_path, text, says):
    f = tmp_path / "app.env"
    f.write_text(f"# ok\nOK=1\n{text}\n")
    with pytest.raises(InputFileError) as e:
        parse_env_file(f)
    msg = str(e.value)
    assert msg.startswith(f"{f}:3: ") and says in msg and "\n" not in msg


def test_an_unreadable_file(tmp_path):
    with pytest.raises(InputFileError, match="cannot read it"):
        parse_env_file(tmp_path / "missing.env")
    (tmp_path / "bin.env").write_bytes(b"A=\xff\n")
    with pytest.raises(InputFileError, match="not UTF-8"):
        parse_env_file(tmp_path / "bin.env")


keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40).filter(
    lambda v: len((v + "x").splitlines()) == 1)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, values, max_size=8))
def test_format_then_parse_round_trips(env):
    text = "\n".join(["# header", ""] + [format_env_line(k, v) for k, v in env.items()]) + "\n"
    assert parse_env_text(text) == env


@settings(max_examples=600, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_or_raises_one_line_input_file_error(text):
    try:
        out = parse_env_text(text, "fuzz.env")
    except InputFileError as e:
        assert str(e).startswith("fuzz.env:") and "\n" not in str(e)
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in out.items())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["A=1", "B='x y'", 'C="q\\""', "# c", "", "  ", "D=", "E=a=b", "A=2"]),
                max_size=10))
def test_well_formed_lines_never_raise_and_the_last_value_wins(lines):
    out = parse_env_text("\n".join(lines))
    assigned = [ln.split("=", 1)[0] for ln in lines if "=" in ln]
    assert sorted(out) == sorted(set(assigned))
    if "A" in out:
        assert out["A"] == [ln for ln in lines if ln.startswith("A=")][-1][2:]

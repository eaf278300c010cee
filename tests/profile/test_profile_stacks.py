"""Collapsed-stack parsing, function statistics, the frame tree and the flame graph SVG, including
Hypothesis fuzzing of the parser and the renderer with arbitrary text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzers.profile import flamegraph, pyspy, stacks

# Recorded from py-spy 0.4.3 (`py-spy record --format raw --subprocesses --full-filenames`) on this machine:
# a parent script that started a child with a secret on its command line.
RECORDED_SUBPROCESSES = (
    'process 10293:"/root/.pyenv/versions/3.11.7/bin/python parent.py";process 10335:"/root/.pyenv/versions/'
    '3.11.7/bin/python hot.py --secret=hunter2";<module> (/tmp/x/hot.py:13);main (/tmp/x/hot.py:11);'
    'hot (/tmp/x/hot.py:5) 124\n'
    'process 10293:"/root/.pyenv/versions/3.11.7/bin/python parent.py";process 10335:"/root/.pyenv/versions/'
    '3.11.7/bin/python hot.py --secret=hunter2";<module> (/tmp/x/hot.py:13);main (/tmp/x/hot.py:11);'
    'hot (/tmp/x/hot.py:4) 46\n')
# Recorded the same way, py-spy's own last lines on stdout.
RECORDED_STDOUT = ("py-spy> Sampling process 100 times a second. Press Control-C to exit.\n\n\n"
                   "py-spy> Stopped sampling because Control-C pressed\n"
                   "py-spy> Wrote raw flamegraph data to 'sub.txt'. Samples: 170 Errors: 0\n")
STDLIB = "/usr/lib/python3.11"


def test_recorded_subprocess_stacks_lose_their_command_lines():
    parsed = stacks.parse_collapsed(RECORDED_SUBPROCESSES)
    assert parsed.samples == 170 and parsed.bad_lines == 0
    frames = parsed.stacks[0][0]
    assert [f.function for f in frames[:2]] == ["process 10293 (parent.py)", "process 10335 (hot.py)"]
    assert "hunter2" not in repr(parsed)
    prof = pyspy.profile_from(RECORDED_SUBPROCESSES, RECORDED_STDOUT, 1.7, 100, 0.0, 100)
    assert "hunter2" not in repr(prof)
    assert prof["py_spy_samples"] == 170 and prof["stopped_because"] == "Control-C pressed"
    hot = prof["functions"][0]
    assert (hot["function"], hot["file"], hot["line"], hot["self_samples"]) == ("hot", "/tmp/x/hot.py", 5, 170)


def test_a_semicolon_in_a_command_line_stays_in_its_process_frame():
    text = 'process 7:"python -c import a; a.run() --token=s3cret";run (/app/a.py:3) 9\n'
    (frames, n), = stacks.parse_collapsed(text).stacks
    assert n == 9 and [f.function for f in frames] == ["process 7 (-c)", "run"]


def test_self_total_recursion_lines_and_library_callers():
    text = (f"main (/app/m.py:1);fib (/app/m.py:5);fib (/app/m.py:6) 30\n"
            f"main (/app/m.py:1);fib (/app/m.py:5) 10\n"
            f"main (/app/m.py:2);encode (/app/m.py:9);dumps ({STDLIB}/json/__init__.py:231);"
            f"iterencode ({STDLIB}/json/encoder.py:258) 50\n"
            f"main (/app/m.py:2);iterencode ({STDLIB}/json/encoder.py:260) 5\n"
            "not a stack line\n")
    parsed = stacks.parse_collapsed(text)
    assert parsed.bad_lines == 1 and parsed.samples == 95
    by = {f.function: f for f in stacks.functions(parsed.stacks)}
    assert by["fib"].total_samples == 40 and by["fib"].self_samples == 40  # recursion counted once
    assert by["fib"].line == 6
    assert by["main"].total_samples == 95 and by["main"].self_samples == 0
    it = by["iterencode"]
    assert (it.file, it.library, it.module, it.self_samples, it.line) == ("json/encoder.py", True, "json.encoder",
                                                                           55, 258)
    assert it.caller == {"function": "encode", "file": "/app/m.py", "line": 9, "samples": 50}
    assert [f.function for f in stacks.top(list(by.values()), 2, "total")] == ["main", "iterencode"]


def test_file_names():
    assert stacks.shorten("/venv/lib/python3.12/site-packages/redis/client.py") == ("redis/client.py", True)
    assert stacks.shorten("/usr/lib/python3/dist-packages/psycopg/cursor.py") == ("psycopg/cursor.py", True)
    assert stacks.shorten("/root/.pyenv/versions/3.11.7/lib/python3.11/re/__init__.py") == ("re/__init__.py", True)
    assert stacks.shorten("<frozen importlib._bootstrap>") == ("<frozen importlib._bootstrap>", True)
    assert stacks.shorten("/app/shop_worker.py") == ("/app/shop_worker.py", False)
    assert stacks.module_of("re/__init__.py") == "re"
    assert stacks.module_of("/app/shop_worker.py") == "shop_worker"
    assert stacks.module_of("<string>") == "<string>"
    assert stacks.parse_frame("thread (0x7f3a)") == stacks.Frame("thread", "0x7f3a", None, False)


def test_frame_tree_prunes_by_share_and_count():
    lines = [f"root (/a.py:1);f{i} (/a.py:{i + 2}) {n}" for i, n in enumerate([500, 300, 150, 45, 4, 1])]
    parsed = stacks.parse_collapsed("\n".join(lines))
    tree = stacks.frame_tree(parsed.stacks, min_share=0.01, max_frames=1000)
    assert tree[:3] == ["all", None, 1000]
    (root,) = tree[3]
    assert [c[0] for c in root[3]] == ["f0", "f1", "f2", "f3"]  # below 1% dropped, sorted by name
    small = stacks.frame_tree(parsed.stacks, min_share=0.0, max_frames=3)
    assert stacks.tree_frames(small) == 3 and [c[0] for c in small[3][0][3]] == ["f0", "f1"]
    deep = stacks.parse_collapsed(";".join(f"f (/a.py:{i})" for i in range(1000)) + " 5")
    # Each level of a recursion is a level of the graph; the tree stops at MAX_TREE_DEPTH.
    assert stacks.tree_frames(stacks.frame_tree(deep.stacks, 0.0, 10_000)) == stacks.MAX_TREE_DEPTH


def test_flame_graph_of_an_empty_profile_says_so():
    svg = flamegraph.render(["all", None, 0, []], "idle.py")
    assert ET.fromstring(svg).find("{http://www.w3.org/2000/svg}text").text == "idle.py: no samples"


# --- fuzzing ---------------------------------------------------------------------------------------------

_name = st.text(st.characters(blacklist_characters=";\n\r", blacklist_categories=("Cs",)), min_size=1, max_size=12)
_frame = st.builds(lambda f, p, n: f"{f} ({p}:{n})", _name, _name, st.integers(0, 99999))
_stack = st.tuples(st.lists(_frame, min_size=1, max_size=8), st.integers(1, 10_000))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=600))
def test_parser_and_renderer_take_any_text(text):
    parsed = stacks.parse_collapsed(text)
    assert parsed.samples >= 0 and parsed.bad_lines <= text.count("\n") + 1
    funcs = stacks.functions(parsed.stacks)
    assert sum(f.self_samples for f in funcs) == parsed.samples
    tree = stacks.frame_tree(parsed.stacks, 0.0, 200)
    ET.fromstring(flamegraph.render(tree, text[:40]))  # always well-formed XML


@settings(max_examples=150, deadline=None)
@given(st.lists(_stack, min_size=1, max_size=12))
def test_generated_stacks_round_trip(rows):
    text = "\n".join(f"{';'.join(frames)} {n}" for frames, n in rows)
    parsed = stacks.parse_collapsed(text)
    assert parsed.bad_lines == 0
    assert [n for _, n in parsed.stacks] == [n for _, n in rows]
    total = parsed.samples
    for f in stacks.functions(parsed.stacks):
        assert 0 <= f.self_samples <= f.total_samples <= total
    tree = stacks.frame_tree(parsed.stacks, 0.0, 10_000)
    assert tree[2] == total
    svg = flamegraph.render(tree, "fuzz")
    titles = {t.text for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}title")}
    for frames, _ in rows:
        leaf = stacks.parse_frame(frames[-1])
        assert any(t.startswith(flamegraph.xml_text(leaf.function)) for t in titles)

"""The library call behind `perfadvisor bundle-diff OLD NEW` (advisor/cli.py only parses options)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from advisor.errors import ConfigError, InputFileError
from analyzers.frontend import diff, load_bundle


def parse_percent(text: str) -> float:
    """"5%" or "5" → 5.0. Raises ConfigError for anything else."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%?\s*", text)
    if not m:
        raise ConfigError(f"--fail-on-increase {text!r}: expected a percentage such as 5%")
    return float(m.group(1))


def bundle_diff(old: str, new: str, out_dir: str | None, as_json: bool, fail_on_increase: str | None,
                echo: Callable[[str], None] = print) -> int:
    """Diff two builds; print Markdown (or JSON), write both to out_dir when given. Returns the exit code:
    1 when initial JS gzip grew by more than `fail_on_increase` percent, else 0. Raises InputFileError for
    an unreadable build, ConfigError for a bad percentage."""
    limit = parse_percent(fail_on_increase) if fail_on_increase is not None else None
    d = diff.diff(load_bundle(old), load_bundle(new))
    md = diff.markdown(d)
    if out_dir:
        out = Path(out_dir)
        try:
            out.mkdir(parents=True, exist_ok=True)
            (out / "bundle-diff.md").write_text(md, encoding="utf-8")
            (out / "bundle-diff.json").write_text(json.dumps(d, indent=1), encoding="utf-8")
        except OSError as e:
            raise InputFileError(f"output directory {out}: cannot write to it ({e.strerror or e})") from None
    echo(json.dumps(d, indent=1) if as_json else md)
    pct = d["initial_js"]["delta_pct"]
    if limit is not None and pct is not None and pct > limit:
        echo(f"failing: initial JS grew by {pct:.1f}% (more than --fail-on-increase {limit:g}%)")
        return 1
    return 0

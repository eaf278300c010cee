"""Generated run directories with known shifts (synth.py), made once per session."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from .synth import Endpoint, make_run

ROOT = Path(__file__).resolve().parents[2]
A, B = "GET /a", "GET /b/{id}"


def endpoints(b_scale: float = 1.0, run_scale: float = 1.0, b_errors: float = 0.0) -> dict[str, Endpoint]:
    return {A: Endpoint(200, 40 * run_scale, 0.3), B: Endpoint(160, 100 * b_scale * run_scale, 0.3, b_errors)}


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("generated")
    out = {
        "before": make_run(base / "before", endpoints(), 120, seed=1),
        "same": make_run(base / "same", endpoints(), 120, seed=2),
        "faster": make_run(base / "faster", endpoints(b_scale=0.7), 120, seed=3),
        "slower": make_run(base / "slower", endpoints(b_scale=1.3), 60, seed=4),
        "errors": make_run(base / "errors", endpoints(b_errors=0.5), 30, seed=5),
        "other_host": make_run(base / "other_host", endpoints(), 20, seed=6, host="http://127.0.0.1:31998"),
        "other_workload": make_run(base / "other_workload", endpoints(), 20, seed=7, workload_sha="b" * 64),
    }
    # Replicate runs: each run's latency moves by a few percent (run-to-run variation), as real runs do.
    rng = np.random.default_rng(11)
    for side, (name, count, b_scale) in enumerate((("rep3_before", 3, 1.0), ("rep3_after", 3, 1.0),
                                                   ("rep6_before", 6, 1.0), ("rep6_after", 6, 0.7))):
        for i in range(count):
            scale = float(np.exp(rng.normal(0, 0.03)))
            make_run(base / name / f"run{i + 1}", endpoints(b_scale, scale), 16, seed=100 * (side + 1) + i,
                     warmup_s=1.0)
        out[name] = base / name
    return out


def validate_compare(out: Path) -> dict:
    doc = json.loads((out / "compare.json").read_text())
    jsonschema.validate(doc, json.loads((ROOT / "docs" / "compare.schema.json").read_text()))
    return doc

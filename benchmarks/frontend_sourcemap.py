"""Source-map attribution speed: perfadvisor vs source-map-explorer on the same bundle.

    python benchmarks/frontend_sourcemap.py [--mb 5] [--bundle BUNDLE.js]   # prints a table

Without --bundle it writes a synthetic minified bundle of --mb megabytes and its version-3 source map:
2 000 sources under src/ and node_modules/, one mapping segment every 2–20 bytes (the density of the
fixture's real Vite build: ~9 bytes per segment), names on a third of the segments, lines of ~32 KB.
source-map-explorer (npm) is installed into a temporary directory by this script, run on the same files
with --json, and its per-source byte counts are compared with perfadvisor's.
Target (issue 4): attribution of a 5 MB bundle in under 5 s.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analyzers.frontend import sourcemaps  # noqa: E402

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def vlq(n: int) -> str:
    v = (-n << 1) | 1 if n < 0 else n << 1
    out = ""
    while True:
        d = v & 31
        v >>= 5
        out += B64[d | (32 if v else 0)]
        if not v:
            return out


def synth(mb: float, d: Path, seed: int = 1) -> tuple[Path, Path]:
    rnd = random.Random(seed)
    sources = [f"../node_modules/pkg{i // 40}/lib/m{i}.js" if i % 3 else f"../src/mod{i}.js" for i in range(2000)]
    target = int(mb * 1_000_000)
    lines, mlines = [], []
    size = 0
    prev_src = prev_line = prev_col = prev_name = 0
    alphabet = "abcdefghijklmnopqrstuvwxyz$_(){};,.=+-*/<>!?:0123456789 "
    noise = "".join(rnd.choices(alphabet, k=1 << 16))
    while size < target:
        parts, segs, col = [], [], 0
        prev_gen = 0
        src = rnd.randrange(len(sources))
        while col < 32_000:
            if rnd.random() < 0.02:
                src = rnd.randrange(len(sources))
            n = rnd.randint(2, 20)
            start = rnd.randrange(len(noise) - n)
            parts.append(noise[start:start + n])
            oline, ocol = rnd.randrange(2000), rnd.randrange(120)
            seg = vlq(col - prev_gen) + vlq(src - prev_src) + vlq(oline - prev_line) + vlq(ocol - prev_col)
            if rnd.random() < 0.33:
                name = rnd.randrange(500)
                seg += vlq(name - prev_name)
                prev_name = name
            segs.append(seg)
            prev_gen, prev_src, prev_line, prev_col = col, src, oline, ocol
            col += n
        line = "".join(parts)
        lines.append(line)
        mlines.append(",".join(segs))
        size += len(line) + 1
    js = d / "bundle.js"
    js.write_text("\n".join(lines) + "\n//# sourceMappingURL=bundle.js.map")
    smap = {"version": 3, "file": "bundle.js", "sources": sources, "names": [f"n{i}" for i in range(500)],
            "mappings": ";".join(mlines)}
    mp = d / "bundle.js.map"
    mp.write_text(json.dumps(smap))
    return js, mp


def run_sme(js: Path, mp: Path, work: Path) -> tuple[float | None, dict[str, int] | None, str]:
    npm = shutil.which("npm")
    if npm is None:
        return None, None, "npm not found"
    t = time.monotonic()
    proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(work),
                           "source-map-explorer@2.5.3"], capture_output=True, text=True)
    if proc.returncode != 0:
        return None, None, f"npm install failed: {proc.stderr.strip().splitlines()[-1:]}"
    install_s = time.monotonic() - t
    exe = work / "node_modules" / ".bin" / "source-map-explorer"
    t = time.monotonic()
    proc = subprocess.run([str(exe), str(js), str(mp), "--json", "--no-border-checks"],
                          capture_output=True, text=True)
    elapsed = time.monotonic() - t
    if proc.returncode != 0:
        return None, None, f"source-map-explorer failed: {proc.stderr.strip()[:200]}"
    data = json.loads(proc.stdout)
    files = data["results"][0]["files"]
    return elapsed, {k: v["size"] for k, v in files.items()}, f"(npm install took {install_s:.1f} s)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=5.0)
    ap.add_argument("--bundle", type=Path, default=None, help="a real built .js with its .map beside it")
    ap.add_argument("--no-sme", action="store_true", help="skip source-map-explorer")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pa-smbench-") as tmp:
        d = Path(tmp)
        if args.bundle:
            js, mp = args.bundle, sourcemaps.find_map(args.bundle)
        else:
            t = time.monotonic()
            js, mp = synth(args.mb, d)
            print(f"synthetic bundle: {js.stat().st_size / 1e6:.2f} MB, map {mp.stat().st_size / 1e6:.2f} MB "
                  f"(written in {time.monotonic() - t:.1f} s)")
        t = time.monotonic()
        smap = sourcemaps.load_map(mp)
        ours = sourcemaps.attribute(js.read_bytes(), smap, str(mp))
        ours_s = time.monotonic() - t
        sme_s, sme, note = (None, None, "skipped") if args.no_sme else run_sme(js, mp, d / "sme")
        print()
        print("| tool | bundle MB | time s | sources | bytes attributed | target |")
        print("|---|---:|---:|---:|---:|---|")
        size = js.stat().st_size
        print(f"| perfadvisor | {size / 1e6:.2f} | {ours_s:.2f} | {sum(not k.startswith('[') for k in ours)} "
              f"| {sum(ours.values()):,} | < 5 s: {'met' if ours_s < 5 else 'MISSED'} |")
        if sme is not None:
            named = {k: v for k, v in sme.items() if not k.startswith("[")}
            print(f"| source-map-explorer 2.5.3 | {size / 1e6:.2f} | {sme_s:.2f} | {len(named)} "
                  f"| {sum(sme.values()):,} | |")
            # agreement per source (source-map-explorer names sources relative to the map's sourceRoot)
            base = {Path(k).name: v for k, v in ours.items() if not k.startswith("[")}
            theirs = {Path(k).name: v for k, v in named.items()}
            common = set(base) & set(theirs)
            diff = sum(abs(base[k] - theirs[k]) for k in common)
            print(f"\nper-source agreement on {len(common)} common sources: total |difference| {diff:,} bytes "
                  f"({100 * diff / max(1, sum(base.values())):.3f}% of the bundle)")
        else:
            print(f"| source-map-explorer | – | – | – | – | {note} |")
        if note and sme is not None:
            print(note)


if __name__ == "__main__":
    main()

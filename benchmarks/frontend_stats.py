"""Large webpack stats.json: time and peak memory of reading it (ijson streaming) and running the FE rules.

    python benchmarks/frontend_stats.py [--mb 50]        # prints a table

Writes a synthetic webpack 5 stats.json of about --mb megabytes in the shape `webpack --json` writes (the
fixture build's field set: assets, chunks with parents/children, modules with reasons, nested modules of
concatenated modules, optimizationBailout, entrypoints, warnings): 60 chunks, ~1 KB per module, packages
in nested node_modules. Each measurement runs in a fresh Python process and reports its peak RSS
(getrusage ru_maxrss), so the memory figure includes the interpreter (~25 MB).
Target (issue 4): 50 MB analysed in under 10 s with under 500 MB of memory.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import resource, sys, time
sys.path.insert(0, {root!r})
t = time.monotonic()
from advisor.config import Settings
from analyzers.frontend import load_bundle, rules
b = load_bundle({path!r})
t_read = time.monotonic() - t
t = time.monotonic()
found = rules.run(b, Settings())
t_rules = time.monotonic() - t
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{{t_read:.2f}} {{t_rules:.2f}} {{rss_mb:.0f}} {{len(b.modules)}} {{len(b.chunks)}} {{len(found)}}")
"""


def synth(mb: float, path: Path, seed: int = 7) -> None:
    rnd = random.Random(seed)
    nchunks = 60
    chunks = [{"rendered": True, "initial": i < 3, "entry": i == 0, "id": i, "names": [f"chunk{i}"],
               "files": [f"chunk{i}.{rnd.randrange(16**8):08x}.js"], "size": 0, "hash": f"{rnd.randrange(16**20):020x}",
               "parents": [0] if i else [], "children": list(range(3, nchunks)) if i == 0 else [],
               "siblings": [], "auxiliaryFiles": [], "childrenByOrder": {}} for i in range(nchunks)]
    target = int(mb * 1_000_000)
    with path.open("w") as fh:
        fh.write('{"hash":"abc","version":"5.99.9","outputPath":"/nonexistent/dist","publicPath":"auto",')
        fh.write('"assets":' + json.dumps([{"name": c["files"][0], "size": rnd.randrange(10_000, 400_000),
                                             "chunkNames": c["names"], "emitted": True} for c in chunks]) + ",")
        fh.write('"chunks":' + json.dumps(chunks) + ',"modules":[')
        written, i = 0, 0
        while written < target - 50_000:
            pkg = f"pkg{i % 700}"
            nested = f"node_modules/{pkg}/node_modules/dep{i % 13}/" if i % 17 == 0 else ""
            name = f"./{nested or f'node_modules/{pkg}/'}lib/file{i}.js" if i % 4 else f"./src/feature{i % 90}/Comp{i}.jsx"
            ch = [rnd.randrange(nchunks)]
            m = {"type": "module", "moduleType": "javascript/auto", "layer": None, "size": rnd.randrange(200, 20_000),
                 "sizes": {"javascript": 1000}, "built": True, "codeGenerated": True, "cached": False,
                 "identifier": f"/home/dev/app/{name[2:]}|{i}", "name": name, "nameForCondition": name,
                 "index": i, "preOrderIndex": i, "index2": i, "postOrderIndex": i, "cacheable": True,
                 "optional": False, "orphan": False, "failed": False, "errors": 0, "warnings": 0,
                 "id": i, "chunks": ch,
                 "reasons": [{"moduleIdentifier": f"/home/dev/app/src/x{j}.js", "module": f"./src/x{j}.js",
                              "moduleName": f"./src/feature{j % 90}/Comp{j}.jsx",
                              "type": "harmony side effect evaluation" if j % 5 else "import()",
                              "userRequest": f"./lib/file{i}.js", "loc": "1:0-40", "active": True}
                             for j in rnd.sample(range(max(1, i)), min(3, max(1, i)))],
                 "optimizationBailout": (["CommonJS bailout: module.exports is used directly at 10:0-14",
                                          "ModuleConcatenation bailout: Module is not an ECMAScript module"]
                                         if i % 3 == 0 else [])}
            if i % 50 == 0:
                m["name"] = f"./src/entry{i}.js + 4 modules"
                m["modules"] = [{"name": f"./src/entry{i}/part{k}.js", "size": 500, "optimizationBailout": []}
                                for k in range(4)]
            s = json.dumps(m)
            fh.write(("," if i else "") + s)
            written += len(s) + 1
            i += 1
        fh.write('],"entrypoints":{"main":{"name":"main","chunks":[0,1,2],"assets":[{"name":"'
                 + chunks[0]["files"][0] + '","size":300000}]}},"errors":[],"warnings":[]}')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=50.0)
    ap.add_argument("--stats", type=Path, default=None, help="a real stats.json instead of the synthetic one")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pa-statsbench-") as tmp:
        path = args.stats or Path(tmp) / "stats.json"
        if args.stats is None:
            t = time.monotonic()
            synth(args.mb, path)
            print(f"synthetic stats.json: {path.stat().st_size / 1e6:.1f} MB (written in {time.monotonic() - t:.1f} s)")
        code = CHILD.format(root=str(ROOT), path=str(path))
        t = time.monotonic()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        wall = time.monotonic() - t
        if out.returncode != 0:
            print(out.stderr)
            sys.exit(1)
        t_read, t_rules, rss, nmod, nchunk, nfind = out.stdout.split()
        print()
        print("| stats MB | modules | chunks | read s | rules s | total wall s | peak RSS MB | findings | target |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        ok = wall < 10 and float(rss) < 500
        print(f"| {path.stat().st_size / 1e6:.1f} | {nmod} | {nchunk} | {t_read} | {t_rules} | {wall:.2f} | {rss} "
              f"| {nfind} | < 10 s, < 500 MB: {'met' if ok else 'MISSED'} |")


if __name__ == "__main__":
    main()

"""`perfadvisor validate`: the loop that proves the advice on a running stack.

    before ─► analyze ─► apply ─► restart ─► after ─► compare ─► one page

1. before: `--runs` load runs (advisor.load) with the stack sampled during each (advisor.load.stack);
2. analyze: the analysis of the last before run's evidence (its sampled window, not a new one);
3. apply: the report's findings as files (advisor.apply); index SQL run only with --execute;
4. restart: the user's command, with PERFADVISOR_APPLY_DIR set, then a wait for --health;
5. after: the same load runs again; the last one's evidence is analysed again (does the finding still fire?);
6. compare: before/after verdicts per endpoint (advisor.compare), and per applied recommendation whether the
   metric it claimed moved (advisor.validate.effects).

Everything lands in one directory::

    OUT/validate.json   the document below (written after every step)
    OUT/index.html      one page linking everything, index.md the same as Markdown
    OUT/before/run-N/   OUT/after/run-N/   load-run directories (`perfadvisor compare` reads them)
    OUT/analysis/       report.{html,md,json} of the before evidence; OUT/analysis-after/ of the after evidence
    OUT/apply/          the apply artifacts (migration.sql, spring.env, …, apply.json)
    OUT/restart.log     what the restart command printed
    OUT/compare/        compare.{html,md,json}
    OUT/page-load.json  the first page load in headless Chromium, before and after (with a front-end URL)

A step that fails stops the loop: what earlier steps wrote stays, validate.json says "stopped" with the step and
the one-line error, and the page is still written. Exit codes: 0 no significant regression, 1 a significant
regression (compare), 2 stopped by a bad input or a failed step, 130 interrupted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.errors import ConfigError, PerfadvisorError, TargetError
from advisor.load import rundir as rd

SCHEMA = "perfadvisor.validate/1"
STEPS = ("page load before", "before", "analyze", "apply", "restart", "page load after", "after",
         "analyze after", "compare")
#: How long the restart command may run (s), and how long the stack may take to answer afterwards (s).
RESTART_TIMEOUT_S = 600.0
HEALTH_TIMEOUT_S = 180.0
#: Artifacts of apply that only take effect when the services restart or reload with them.
RESTART_FILES = ("spring.env", "application-perfadvisor.properties", "redis.conf", "nginx.conf")


@dataclass
class ValidateOptions:
    """What `perfadvisor validate` was asked for. Durations in s; threshold as compare takes it ("5%")."""

    locustfile: Path
    host: str
    out: Path
    restart: str | None = None
    health: str | None = None
    runs: int = 2
    users: int = 10
    spawn_rate: float = 10.0
    duration_s: float = 60.0
    warmup_s: float | None = None
    workers: int = 1
    execute: bool = False
    only: tuple[str, ...] = ()
    threshold: str = "5%"
    alpha: float = 0.05
    slos: tuple[str, ...] = ()
    page_url: str | None = None
    page_loads: int = 3
    restart_timeout_s: float = RESTART_TIMEOUT_S
    health_timeout_s: float = HEALTH_TIMEOUT_S
    extra_env: dict[str, str] = field(default_factory=dict)


class Stopped(PerfadvisorError):
    """The loop stopped at a step; validate.json and the page say where and why."""


@dataclass
class Outcome:
    doc: dict[str, Any]
    exit_code: int
    headline: str


def check_options(o: ValidateOptions, settings) -> None:
    """ConfigError for options that cannot work, before anything runs."""
    if o.runs < 1:
        raise ConfigError(f"--runs {o.runs}: at least one run per side")
    if o.execute and not settings.target("postgres").get("dsn"):
        raise ConfigError("--execute runs migration.sql: give the database with --pg DSN")
    if (o.out / "validate.json").exists():
        raise ConfigError(f"--out {o.out}: already holds a validation (validate.json); choose a new directory")
    if o.health and not o.health.startswith(("http://", "https://")):
        raise ConfigError(f"--health {o.health}: expected an http:// or https:// URL")


def run_validate(o: ValidateOptions, settings, echo: Callable[[str], None] = print,
                 progress: Callable[[str], None] | None = None) -> Outcome:
    """Runs the loop (module doc) and returns its document, exit code and headline. Raises ConfigError for bad
    options before anything runs; a failure later is recorded (validate.json "stopped") and returned as exit 2."""
    from advisor.validate import render

    check_options(o, settings)
    try:
        o.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out {o.out}: cannot create it ({e.strerror})") from None
    loop = _Loop(o, settings, echo, progress)
    try:
        loop.run()
    except PerfadvisorError as e:
        loop.stop(str(e))
    except KeyboardInterrupt:
        loop.stop("interrupted (Ctrl-C)")
        loop.doc["exit_code"] = 130
    finally:
        loop.finish()
        render.write_page(loop.doc, o.out)
    return Outcome(loop.doc, loop.doc["exit_code"], loop.doc["headline"])


class _Loop:
    def __init__(self, o: ValidateOptions, settings, echo, progress) -> None:
        self.o, self.settings, self.echo, self.progress = o, settings, echo, progress
        self.t0 = time.monotonic()
        self.samplers: dict[str, Any] = {}
        self.report: dict[str, Any] | None = None
        self.after_report: dict[str, Any] | None = None
        self.plan = None
        self.executed: list[Any] = []
        self.restarted = False
        self.doc: dict[str, Any] = {
            "schema": SCHEMA, "status": "running", "stopped_at": None, "error": None, "exit_code": None,
            "headline": None,
            "options": {"locustfile": str(o.locustfile), "host": o.host, "runs": o.runs, "users": o.users,
                        "spawn_rate": o.spawn_rate, "duration_s": o.duration_s, "execute": o.execute,
                        "only": list(o.only), "restart": o.restart, "health": o.health, "threshold": o.threshold,
                        "page_url": o.page_url},
            "steps": [], "runs": {"before": [], "after": []}, "measures": {"before": [], "after": []},
            "analysis": None, "analysis_after": None, "apply": None, "restart": None, "page_load": {},
            "compare": None, "recommendations": [], "endpoints": [],
        }

    # -- bookkeeping -------------------------------------------------------------------------------------

    def save(self) -> None:
        rd.write_json(self.o.out / "validate.json", self.doc)

    def step(self, name: str, fn: Callable[[], Any]) -> Any:
        n = STEPS.index(name) + 1
        started = time.monotonic()
        self.echo(f"[{n}/{len(STEPS)} · {started - self.t0:.0f} s] {name}")
        row = {"step": name, "status": "running", "started_s": round(started - self.t0, 1), "duration_s": None,
               "note": None}
        self.doc["steps"].append(row)
        self.save()
        self.current = row
        result = fn()
        row["status"] = row.get("skip") and "skipped" or "done"
        row.pop("skip", None)
        row["duration_s"] = round(time.monotonic() - started, 1)
        self.save()
        return result

    def skip(self, note: str) -> None:
        self.current["skip"] = True
        self.current["note"] = note

    def stop(self, message: str) -> None:
        row = next((r for r in reversed(self.doc["steps"]) if r["status"] == "running"), None)
        if row:
            row["status"] = "failed"
            row["note"] = message
        self.doc.update(status="stopped", stopped_at=row["step"] if row else None, error=message, exit_code=2)
        print(f"perfadvisor: error: {row['step'] + ': ' if row else ''}{message}", file=sys.stderr)

    def finish(self) -> None:
        if self.doc["status"] == "running":
            self.doc["status"] = "complete"
        try:
            self._judge()
        except Exception as e:  # a page with what is known beats none; the error is said on it
            self.doc.setdefault("notes", []).append(f"the effects could not all be judged: {type(e).__name__}: {e}")
        if self.doc["exit_code"] is None:
            regressed = ((self.doc.get("compare") or {}).get("summary") or {}).get("regressed") or []
            self.doc["exit_code"] = 1 if regressed else 0
        self.doc["headline"] = _headline(self.doc)
        self.doc["elapsed_s"] = round(time.monotonic() - self.t0, 1)
        self.save()

    # -- the loop ----------------------------------------------------------------------------------------

    def run(self) -> None:
        o = self.o
        url = o.page_url
        if url:
            self.step("page load before", lambda: self._page("before", url))
        self.step("before", lambda: self._runs("before"))
        self.step("analyze", self._analyze)
        self.step("apply", self._apply)
        self.step("restart", self._restart)
        if url:
            self.step("page load after", lambda: self._page("after", url))
        self.step("after", lambda: self._runs("after"))
        self.step("analyze after", self._analyze_after)
        self.step("compare", self._compare)

    def _page(self, side: str, url: str) -> None:
        from advisor import pageload

        try:
            result = pageload.measure(url, loads=self.o.page_loads)
        except TargetError as e:  # the loop goes on without this measure (Chromium missing, the page failing)
            self.skip(f"not measured: {e}")
            self.doc["page_load"][f"{side}_error"] = str(e)
            self.echo(f"  warning: first page load not measured: {e}")
            return
        self.doc["page_load"][side] = result.to_dict()
        if side == "after" and "before" in self.doc["page_load"]:
            from advisor.validate.effects import page_rows

            comparison = pageload.compare_loads(self.doc["page_load"]["before"], self.doc["page_load"]["after"])
            self.doc["page_load"]["comparison"] = comparison
            self.doc["page_load"]["rows"] = page_rows(comparison, _threshold(self.o.threshold))
        rd.write_json(self.o.out / "page-load.json", self.doc["page_load"])

    def _runs(self, side: str) -> None:
        from advisor.load import runner
        from advisor.load.stack import sampler_for

        o = self.o
        if side == "before":
            self._preflight()
        for i in range(1, o.runs + 1):
            out = o.out / side / f"run-{i}"
            self.echo(f"  {side} run {i}/{o.runs}: {o.users} users for {o.duration_s:g} s → {out}")
            sampler = sampler_for(self.settings)
            for area, message in sampler.errors.items():
                self.echo(f"  warning: {area}: {message} (not sampled)")
            opts = runner.LoadOptions(locustfile=o.locustfile, host=o.host, users=o.users, spawn_rate=o.spawn_rate,
                                      duration_s=o.duration_s, out=out, workers=o.workers, warmup_s=o.warmup_s)
            run_doc, code = runner.run_loadtest(opts, self.settings, echo=lambda s: None, progress=self.progress,
                                                sampler=sampler)
            if code == runner.EXIT_INTERRUPTED:
                raise KeyboardInterrupt
            overall = (run_doc.get("results") or {}).get("steady_state", {}).get("overall") or {}
            self.doc["runs"][side].append({"path": str(out), "valid": code == 0, "requests": overall.get("requests"),
                                           "p95_ms": overall.get("p95_ms"), "failures": overall.get("failures")})
            self.echo(f"    {overall.get('requests') or 0} requests, p95 {_ms(overall.get('p95_ms'))}"
                      + ("" if code == 0 else " — the run is invalid (see its run.json validity checks)"))
            self.doc["measures"][side].append(_measures(self.settings, sampler))
            self.samplers[side] = sampler
            self.save()

    def _preflight(self) -> None:
        """One sample of every target before minutes of load: TargetError naming the first that cannot be
        reached (a wrong DSN, URL or password), so nothing runs against a stack that cannot be observed."""
        from advisor import sampling
        from advisor.pipeline import sampling_sources

        sources, failed = sampling_sources(self.settings)
        if failed:
            raise TargetError("; ".join(f"{area}: {message}" for area, message in failed.items()))
        flat = [src for srcs in sources.values() for src in srcs]
        if not flat:
            return
        window = sampling.run_window(flat, 0.0)
        bad = [rec.error_line() for rec in window.recordings if rec.error and rec.error["phase"] == "open"]
        if bad:
            raise TargetError(bad[0] + (f" (and {len(bad) - 1} more target(s))" if len(bad) > 1 else ""))

    def _analyze_window(self, side: str, out_dir: Path) -> dict[str, Any]:
        from advisor.run import analyze_command

        s = self.samplers[side]
        self.settings.sample_s = self.o.duration_s
        outcome = analyze_command(self.settings, out_dir, None, echo=lambda line: None,
                                  sampled=(s.sources, s.errors, s.window))
        for err in outcome.errors:
            self.doc.setdefault("notes", []).append(f"analysis of the {side} runs: {err}")
            self.echo(f"  warning: {err}")
        return outcome.report

    def _analyze(self) -> None:
        self.report = self._analyze_window("before", self.o.out / "analysis")
        findings = self.report["findings"]
        self.doc["analysis"] = {"path": "analysis/report.html", "findings": len(findings),
                                "summary": self.report["summary"]}
        self.echo(f"  {len(findings)} findings: " + ", ".join(f"{f['rule']}" for f in findings[:12])
                  + (" …" if len(findings) > 12 else ""))

    def _apply(self) -> None:
        from advisor import apply as ap

        self.plan = ap.plan(self.report, self.o.only)
        written = ap.write(self.plan, self.report, self.o.out / "apply", str(self.o.out / "analysis"))
        self.doc["apply"] = {"path": "apply", "files": [p.name for p in written], "used": list(self.plan.used),
                             "skipped": self.plan.skipped, "executed": []}
        self.echo(f"  {len(self.plan.used)} recommendation(s) → " + ", ".join(p.name for p in written))
        if self.o.execute and self.plan.statements():
            dsn = self.settings.target("postgres")["dsn"]
            self.executed = ap.execute(self.plan, dsn, echo=self.echo)
            ap.record_execution(self.o.out / "apply", self.executed)
            self.doc["apply"]["executed"] = [{"statement": r.statement, "finding": r.finding, "ok": r.ok,
                                              "message": r.message} for r in self.executed]
        elif self.plan.statements():
            self.echo("  migration.sql written, not run (give --execute to run it)")

    def _restart(self) -> None:
        o = self.o
        needs = sorted({ln.file for ln in self.plan.lines if ln.file in RESTART_FILES})
        if not o.restart:
            self.skip("no --restart command: " + (f"{', '.join(needs)} written but not in effect" if needs
                                                   else "nothing to restart"))
            self.doc["restart"] = {"command": None, "needed_for": needs}
            return
        log = o.out / "restart.log"
        env = {**os.environ, **o.extra_env, "PERFADVISOR_APPLY_DIR": str((o.out / "apply").resolve())}
        started = time.monotonic()
        with open(log, "wb") as fh:
            try:
                res = subprocess.run(o.restart, shell=True, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, timeout=o.restart_timeout_s)
            except subprocess.TimeoutExpired:
                raise TargetError(f"--restart command ran longer than {o.restart_timeout_s:.0f} s "
                                  f"(see {log})") from None
        self.doc["restart"] = {"command": o.restart, "exit_code": res.returncode, "log": "restart.log",
                               "duration_s": round(time.monotonic() - started, 1), "needed_for": needs}
        if res.returncode != 0:
            from advisor.load.runner import _tail as last_line

            raise TargetError(f"--restart command exited {res.returncode}: {last_line(log) or '(no output)'} "
                              f"(see {log})")
        health = o.health or o.host
        wait_healthy(health, o.health_timeout_s, strict=bool(o.health))
        self.doc["restart"]["healthy_after_s"] = round(time.monotonic() - started, 1)
        self.restarted = True

    def _analyze_after(self) -> None:
        self.after_report = self._analyze_window("after", self.o.out / "analysis-after")
        self.doc["analysis_after"] = {"path": "analysis-after/report.html",
                                      "findings": len(self.after_report["findings"]),
                                      "summary": self.after_report["summary"]}

    def _compare(self) -> None:
        from advisor.compare import InvalidRunsError, run_compare

        units = "windows"
        try:
            res = run_compare(self.o.out / "before", self.o.out / "after", self.o.out / "compare",
                              threshold=self.o.threshold, alpha=self.o.alpha, slos=list(self.o.slos), units=units)
            doc = res.doc
        except InvalidRunsError:
            import json
            doc = json.loads((self.o.out / "compare" / "compare.json").read_text(encoding="utf-8"))
        self.doc["compare"] = {"path": "compare/compare.html", "mode": doc["mode"],
                               "confidence": doc["confidence"], "summary": doc["summary"],
                               "notes": doc.get("notes") or []}
        self.doc["endpoints"] = [_endpoint(row) for row in doc["endpoints"]]
        for line in (res.console if doc["summary"]["verdict"] != "invalid" else []):
            self.echo("  " + line)

    # -- judging ---------------------------------------------------------------------------------------

    def _judge(self) -> None:
        from advisor.validate import effects as fx

        if self.plan is None or self.report is None:
            return
        threshold = _threshold(self.o.threshold)
        by_id = {f["id"]: f for f in self.report["findings"]}
        after_ids = {f["id"] for f in self.after_report["findings"]} if self.after_report else None
        after_ok = _areas_analysed(self.after_report)
        recs = []
        for fid in self.plan.used:
            f = by_id[fid]
            lines = [ln for ln in self.plan.lines if ln.finding == fid]
            files = sorted({ln.file for ln in lines})
            how, applied = self._how_applied(fid, files)
            rows = []
            if applied:  # a change not made cannot be credited with what others moved
                rows = fx.claimed_metrics(f, self.doc["measures"]["before"], self.doc["measures"]["after"],
                                          threshold)
                if f.get("area") == "frontend":
                    rows = fx.frontend_rows(f, self.doc["page_load"].get("rows") or []) + rows
            resolved = None
            if after_ids is not None and f.get("area") in after_ok and applied:
                resolved = fid not in after_ids
            recs.append({"finding": fid, "rule": f["rule"], "name": f.get("name"), "title": f["title"],
                         "severity": f["severity"], "confidence": f["confidence"], "files": files,
                         "applied": how, "in_effect": applied, "claimed": f.get("impact"),
                         "measured": rows, "resolved_after": resolved,
                         "verdict": fx.verdict(applied, rows, resolved)})
        self.doc["recommendations"] = recs

    def _how_applied(self, fid: str, files: list[str]) -> tuple[str, bool]:
        """(how it was applied, in effect for the after runs?)."""
        if files == ["code-hints.md"]:
            return "needs a person (code-hints.md)", False
        if "migration.sql" in files:
            runs = [r for r in self.executed if r.finding == fid]
            if not runs:
                return "migration.sql written, not run (no --execute)", False
            if all(r.ok for r in runs):
                return "SQL executed", True
            return "SQL failed: " + next(r.message for r in runs if not r.ok), False
        if any(f in RESTART_FILES for f in files):
            if self.restarted:
                return f"{', '.join(f for f in files if f in RESTART_FILES)} applied by the restart command", True
            return f"{', '.join(files)} written; not in effect (no restart)", False
        return ", ".join(files), False


def _areas_analysed(report: dict[str, Any] | None) -> set[str]:
    """Areas whose findings the report would hold if they still fired: its targets that were "ok", and the
    cross-source rule areas (pool, cache, …) whose NEEDS were all ok. A finding of any other area cannot be called
    resolved just because it is absent."""
    from advisor.pipeline import cross_source_modules

    if not report:
        return set()
    ok = {a for a, t in report.get("targets", {}).items() if t.get("status") == "ok"}
    return ok | {m.AREA for m in cross_source_modules() if all(n in ok for n in m.NEEDS)}


def _measures(settings, sampler) -> dict[str, Any]:
    """effects.run_measures of one run's sampled window (postgres activity and Actuator sections only: cheap)."""
    from advisor.validate.effects import run_measures
    from analyzers import actuator
    from analyzers.postgres import activity

    window = sampler.window
    if window is None:
        return run_measures({})
    sections: dict[str, Any] = {}
    offset = 0
    for area, srcs in sampler.sources.items():
        recs = window.recordings[offset:offset + len(srcs)]
        offset += len(srcs)
        try:
            if area == "postgres":
                sections["postgres"] = {"activity": activity.section(window, recs[0])}
            elif area == "actuator":
                sections["actuator"] = actuator.collect(settings, window, recs)
        except PerfadvisorError:
            continue  # that target failed in this run: its measures are missing, the others stay
    return run_measures(sections)


def wait_healthy(url: str, timeout_s: float, strict: bool = True) -> None:
    """Waits until `url` answers: with a 2xx when `strict` (a health endpoint), else any status below 500.
    TargetError naming the URL and the last answer when it does not within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 (the user's own URL)
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        except (urllib.error.URLError, OSError) as e:
            status, last = None, str(getattr(e, "reason", e))
        if status is not None:
            if (200 <= status < 300) or (not strict and status < 500):
                return
            last = f"HTTP {status}"
        if time.monotonic() > deadline:
            raise TargetError(f"health check {url}: no {'2xx ' if strict else ''}answer within {timeout_s:.0f} s "
                              f"after the restart (last: {last})")
        time.sleep(1.0)


def _endpoint(row: dict[str, Any]) -> dict[str, Any]:
    m = row["metrics"]["p95_ms"]
    return {"key": row["key"], "name": row["name"], "verdict": row["verdict"],
            "p95_before_ms": m["before"], "p95_after_ms": m["after"], "p95_change": m["change"],
            "p95_ci": [m["ci_low"], m["ci_high"]], "p95_p_adjusted": m.get("p_adjusted"),
            "p95_verdict": m["verdict"], "requests_before": row.get("requests_before"),
            "requests_after": row.get("requests_after")}


def _headline(doc: dict[str, Any]) -> str:
    recs = doc.get("recommendations") or []
    counts: dict[str, int] = {}
    for r in recs:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    parts = [f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    what = (f"{len(recs)} recommendation(s): " + ", ".join(parts)) if recs else "no recommendation applied"
    comp = (doc.get("compare") or {}).get("summary") or {}
    if doc["status"] == "stopped":
        return f"stopped at {doc['stopped_at']}: {doc['error']}"
    if comp.get("regressed"):
        return f"REGRESSED: {', '.join(comp['regressed'][:4])}; {what}"
    if comp.get("improved"):
        return f"improved {len(comp['improved'])} endpoint metric(s), no significant regression; {what}"
    return f"no significant change measured; {what}"


def _threshold(text: str) -> float:
    from advisor.compare import parse_threshold
    return parse_threshold(text)


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.0f} ms" if v >= 10 else f"{v:.1f} ms"

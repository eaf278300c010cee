"""Settings: defaults ← perfadvisor.toml (with a named profile) ← environment ← flags.

perfadvisor.toml::

    [targets.postgres]
    dsn = "${PERFADVISOR_PG_DSN}"          # ${VAR} is read from the environment

    [thresholds.postgres]
    min_cost_savings_pct = 50

    [targets.actuator]                     # one URL per instance (replicas of one service)
    urls = ["http://app-1:8081", "http://app-2:8081"]
    auth_header = "Authorization: Bearer ${ACTUATOR_TOKEN}"

    [targets.redis]
    url = "redis://default:${REDIS_PASSWORD}@cache:6379/0"

    [sampling]                             # the shared window of every time-series collector
    window = "60s"
    interval = "1s"

    [profiles.staging.targets.postgres]    # `--profile staging` merges this over the top level
    dsn = "postgresql://advisor@staging-db/shop"

Errors: ConfigError for an unreadable/invalid file, an unknown profile, an undefined ${VAR}, or a [targets.AREA]
table or key no analyzer reads (a typo such as `dns` for `dsn` names the key and the known ones; see
BUILTIN_TARGET_KEYS).
"""

from __future__ import annotations

import copy
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.errors import ConfigError

DEFAULT_CONFIG = "perfadvisor.toml"
DEFAULT_OUT = "perfadvisor-report"
# Every database session perfadvisor opens runs with this statement_timeout (ms) unless configured.
DEFAULT_STATEMENT_TIMEOUT_MS = 5000

#: area → (target key, environment variable) read when neither a flag nor the config file sets that key.
ENV_TARGETS = {"postgres": ("dsn", "PERFADVISOR_PG_DSN"), "redis": ("url", "PERFADVISOR_REDIS_URL"),
               "actuator": ("auth_header", "PERFADVISOR_ACTUATOR_AUTH_HEADER")}
#: Targets whose collectors sample over time: configuring one of them opens a sampling window.
SAMPLING_AREAS = ("actuator", "redis", "profile")

#: Known keys of each [targets.AREA] table, for the analyzers that do not declare their own TARGET_KEYS (an
#: analyzer module may define TARGET_KEYS = ("key", …); that tuple wins). The postgres and frontend keys are kept
#: here because those analyzers read them without declaring them: analyzers/postgres (collect.py, activity.py:
#: dsn, explain_analyze) and analyzers/frontend/__init__.py (bundle, url, baseline, timeout_s). The others mirror
#: the module docstrings of analyzers/actuator, analyzers/redis and analyzers/profile (_OPTIONS).
BUILTIN_TARGET_KEYS: dict[str, tuple[str, ...]] = {
    "postgres": ("dsn", "explain_analyze"),
    "frontend": ("bundle", "url", "baseline", "timeout_s"),
    "actuator": ("urls", "url", "auth_header", "base_path", "management_port", "timeout_s"),
    "redis": ("url", "timeout_s", "scan_time_s", "scan_max_keys", "full_scan", "memory_samples"),
    "profile": ("targets", "rate", "subprocesses", "py_spy", "since_start_profile_s"),
}

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class Settings:
    """Everything a run needs; passed explicitly (no module state).

    targets: area → options (postgres: {"dsn": str}; frontend: {"bundle": path, "url": str}; …).
    thresholds: area → {name: value} overrides of each analyzer's named defaults.
    """

    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    thresholds: dict[str, dict[str, Any]] = field(default_factory=dict)
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS
    source: str = "defaults"
    #: Length of the shared sampling window (s); None: no window; 0: one sample, counters since start.
    sample_s: float | None = None
    #: Interval between two samples of one source (s).
    sample_interval_s: float = 1.0
    #: Analyzers may redraw a progress line on a terminal (stderr); False with --quiet.
    progress: bool = True

    def target(self, area: str) -> dict[str, Any]:
        return self.targets.get(area) or {}

    def threshold(self, area: str, name: str, default: Any) -> Any:
        """The configured value of threshold `name`, else `default`. Raises ConfigError for a value of the
        wrong kind (a bool, text, a fraction where a whole number is expected), a negative, NaN or infinite
        value, or a share above 1 (names ending in _share)."""
        value = self.thresholds.get(area, {}).get(name, default)
        if default is None or value is None or value is default:
            return value
        where = f"threshold {area}.{name}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: {value!r} is not a number")
        if math.isnan(value) or math.isinf(value) or value < 0:
            raise ConfigError(f"{where}: {value!r} must be a finite number ≥ 0")
        if isinstance(default, int) and not float(value).is_integer():
            raise ConfigError(f"{where}: {value!r} must be a whole number")
        if name.endswith("_share") and value > 1:
            raise ConfigError(f"{where}: {value!r} is a share, at most 1.0")
        return type(default)(value)


def _interpolate(value: Any, where: str) -> Any:
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(f"{where}: environment variable {name} is not set (used as ${{{name}}})")
        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: _interpolate(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, where) for v in value]
    return value


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_file(path: str | Path, profile: str | None = None, required: bool = False) -> dict[str, Any]:
    """The merged, interpolated contents of a perfadvisor.toml ({} when absent and not required)."""
    p = Path(path)
    if not p.exists():
        if required or profile:
            raise ConfigError(f"config {p}: file not found")
        return {}
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"config {p}: cannot read it ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config {p}: invalid TOML ({e})") from None
    profiles = raw.pop("profiles", {}) or {}
    if not isinstance(profiles, dict):
        raise ConfigError(f"config {p}: [profiles] must hold one table per profile, e.g. [profiles.staging]")
    if profile:
        if not isinstance(profiles.get(profile, {}), dict):
            raise ConfigError(f"config {p}: [profiles.{profile}] must be a table")
        if profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise ConfigError(f"config {p}: no profile [profiles.{profile}] (profiles defined: {known})")
        raw = _merge(raw, profiles[profile])
    unknown = set(raw) - {"targets", "thresholds", "statement_timeout_ms", "sampling"}
    if unknown:
        raise ConfigError(f"config {p}: unknown key(s) {', '.join(sorted(unknown))}; "
                          "expected targets, thresholds, sampling, statement_timeout_ms, profiles")
    sampling = raw.get("sampling", {})
    if not isinstance(sampling, dict) or set(sampling) - {"window", "interval"}:
        raise ConfigError(f"config {p}: [sampling] takes window and interval (durations such as \"60s\")")
    for section in ("targets", "thresholds"):
        value = raw.get(section, {})
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise ConfigError(f"config {p}: [{section}] must hold one table per area, "
                              f"e.g. [{section}.postgres]")
    check_target_keys(raw.get("targets", {}), f"config {p}")
    for name, prof in profiles.items():
        if isinstance(prof, dict) and isinstance(prof.get("targets"), dict) and name != profile:
            check_target_keys(prof["targets"], f"config {p}: [profiles.{name}]")
    for area, opts in raw.get("targets", {}).items():
        for key, v in opts.items():
            if isinstance(v, bool):
                continue  # switches such as full_scan = true
            items = v if isinstance(v, list) else [v]
            if not all(isinstance(i, str | int | float) and not isinstance(i, bool) for i in items):
                raise ConfigError(f"config {p}: targets.{area}.{key} must be text, a number or a list of them")
            if key in ("dsn", "url", "bundle", "baseline") and not isinstance(v, str):
                raise ConfigError(f"config {p}: targets.{area}.{key} must be text (a quoted string)")
    return _interpolate(raw, str(p))


def target_keys() -> dict[str, tuple[str, ...]]:
    """Area → the keys its [targets.AREA] table may hold: an analyzer module's own TARGET_KEYS, else
    BUILTIN_TARGET_KEYS."""
    from advisor import pipeline

    known = dict(BUILTIN_TARGET_KEYS)
    for mod in pipeline.analyzer_modules():
        keys = getattr(mod, "TARGET_KEYS", None)
        if keys:
            known[mod.AREA] = tuple(keys)
    return known


def check_target_keys(targets: dict[str, Any], where: str) -> None:
    """Raises ConfigError, one line naming the key and the known ones, for a target table no analyzer reads
    ([targets.mysql]) or a key its analyzer does not read (dns for dsn): a typo is never silently ignored."""
    import difflib

    if not isinstance(targets, dict):
        return
    known = target_keys()
    for area, opts in targets.items():
        if area not in known:
            near = difflib.get_close_matches(area, known, n=1)
            raise ConfigError(f"{where}: unknown target [targets.{area}]"
                              + (f" (did you mean [targets.{near[0]}]?)" if near else "")
                              + f"; known targets: {', '.join(known)}")
        for key in opts if isinstance(opts, dict) else ():
            if key not in known[area]:
                near = difflib.get_close_matches(key, known[area], n=1)
                raise ConfigError(f"{where}: unknown key {key!r} in [targets.{area}]"
                                  + (f" (did you mean {near[0]!r}?)" if near else "")
                                  + f"; known keys: {', '.join(known[area])}")


def build_settings(config_path: str | Path = DEFAULT_CONFIG, profile: str | None = None,
                   config_required: bool = False,
                   target_flags: dict[str, dict[str, Any]] | None = None,
                   threshold_flags: dict[str, dict[str, Any]] | None = None,
                   statement_timeout_ms: int | None = None,
                   sample: str | float | None = None, sample_interval: str | float | None = None,
                   discovered: dict[str, dict[str, Any]] | None = None) -> Settings:
    """Merge defaults, the config file, environment variables and flags (flags win).

    sample / sample_interval: durations (``60s``, ``2m``, or seconds); ``sample`` 0 takes one sample. When a
    sampling target (SAMPLING_AREAS) is configured and no window is given, the window is
    advisor.sampling.DEFAULT_WINDOW_S. discovered: targets found in a Compose file (advisor.compose_targets),
    used only for keys nothing else sets. Raises ConfigError for a bad duration."""
    from advisor import sampling as _sampling

    data = load_file(config_path, profile, required=config_required)
    targets = data.get("targets", {}) or {}
    for area, opts in (target_flags or {}).items():
        given = {k: v for k, v in opts.items() if v is not None and v != () and v != []}
        if given:
            targets = _merge(targets, {area: given})
    for area, (key, var) in ENV_TARGETS.items():
        # The environment fills a key only for a target that is otherwise configured, or (for a URL/DSN)
        # configures it: PERFADVISOR_PG_DSN alone is enough to analyse a database.
        if os.environ.get(var) and not targets.get(area, {}).get(key) and (key != "auth_header" or area in targets):
            targets = _merge(targets, {area: {key: os.environ[var]}})
    for area, opts in (discovered or {}).items():
        for key, value in opts.items():
            if not targets.get(area, {}).get(key):
                targets = _merge(targets, {area: {key: value}})
    thresholds = data.get("thresholds", {}) or {}
    for area, opts in (threshold_flags or {}).items():
        given = {k: v for k, v in opts.items() if v is not None}
        if given:
            thresholds = _merge(thresholds, {area: given})
    timeout = statement_timeout_ms or data.get("statement_timeout_ms") or DEFAULT_STATEMENT_TIMEOUT_MS
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
        raise ConfigError(f"statement_timeout_ms: {timeout!r} must be a positive whole number of ms")
    file_sampling = data.get("sampling", {}) or {}
    window = _duration("--sample", sample) if sample is not None else (
        _duration("sampling.window", file_sampling["window"]) if "window" in file_sampling else None)
    interval = _duration("--sample-interval", sample_interval) if sample_interval is not None else (
        _duration("sampling.interval", file_sampling["interval"]) if "interval" in file_sampling
        else _sampling.DEFAULT_INTERVAL_S)
    if interval <= 0:
        raise ConfigError(f"sampling interval {interval!r}: must be more than 0 s")
    if window is None and any(targets.get(a) for a in SAMPLING_AREAS):
        window = _sampling.DEFAULT_WINDOW_S
    return Settings(targets=targets, thresholds=thresholds, statement_timeout_ms=timeout,
                    source=str(config_path) if data else "defaults", sample_s=window, sample_interval_s=interval)


def _duration(where: str, value: Any) -> float:
    from advisor.sampling import parse_duration

    try:
        return parse_duration(value)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{where}: {e}") from None


def redact_dsn(dsn: str) -> str:
    """A DSN with its password replaced by ***, in URL form (user:pw@) and key=value form (password=…,
    quoted with '…' and backslash escapes as libpq allows)."""
    dsn = re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", dsn)
    dsn = re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S+)", r"\1***", dsn, flags=re.I)
    return re.sub(r"([?&]password=)[^&\s]*", r"\1***", dsn, flags=re.I)

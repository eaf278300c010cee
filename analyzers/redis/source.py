"""RedisSource: the Redis collector as a sampling source (advisor/sampling.py).

open(): INFO (every section: server, memory, stats, keyspace, commandstats, latencystats where the server has
it, …) and CONFIG GET of the eviction settings. sample(): INFO again, as numbers (info.sample_values).
close(): the bounded keyspace sample (scan.KeyspaceSampler). A command the user may not run (ACL NOPERM) or
that was renamed away is recorded as "not permitted" with the ACL rule that would allow it, and the rest
goes on: without CONFIG GET, maxmemory and maxmemory_policy come from INFO; without INFO, nothing is sampled
over time but the keyspace sample still runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from advisor.errors import TargetError
from analyzers.redis import conn as conn_mod
from analyzers.redis.info import InfoParseError, parse_info, sample_values
from analyzers.redis.scan import KeyspaceSampler, Limits

#: CONFIG GET patterns read at open: the eviction settings, and what decides fork (copy-on-write) memory.
CONFIG_PATTERNS = ("maxmemory*", "lfu-*", "lazyfree-lazy-eviction", "save", "appendonly", "hz",
                   "active-expire-effort", "activedefrag")


def _text(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


class RedisSource:
    """One Redis target in the shared sampling window. `name` is "redis <URL with password as ***>"."""

    def __init__(self, target: conn_mod.RedisTarget, limits: Limits,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.target = target
        self.limits = limits
        self.clock = clock
        self.name = f"redis {target.shown}"
        self._client = None
        self._info_permitted = True

    # helpers ----------------------------------------------------------------------------------------------
    def _fail(self, e: BaseException) -> TargetError:
        return conn_mod.target_error(e, self.target)

    def _info(self) -> tuple[dict[str, dict[str, Any]] | None, BaseException | None]:
        """(parsed `INFO all`, None), or (None, the refusal) when INFO is not permitted. Raises TargetError
        for any other failure."""
        try:
            raw = self._client.execute_command("INFO", "all")
        except Exception as e:
            if conn_mod.is_not_permitted(e):
                return None, e
            raise self._fail(e) from None
        try:
            return parse_info(_text(raw)), None
        except InfoParseError:
            raise TargetError(f"{self.name}: the reply to INFO is not INFO text — is this a Redis server?") from None

    def _config(self) -> tuple[dict[str, str], dict[str, Any] | None]:
        """({name: value} from CONFIG GET, or {}), and the not-permitted record when CONFIG GET is refused."""
        out: dict[str, str] = {}
        for pattern in CONFIG_PATTERNS:
            try:
                reply = self._client.execute_command("CONFIG", "GET", pattern)
            except Exception as e:
                if conn_mod.is_not_permitted(e):
                    return {}, conn_mod.not_permitted(
                        "configured values (CONFIG GET maxmemory, maxmemory-policy, maxmemory-samples, …; "
                        "maxmemory and maxmemory_policy are read from INFO instead)", "CONFIG GET", e, self.target)
                raise self._fail(e) from None
            if isinstance(reply, dict):
                out.update({_text(k): _text(v) for k, v in reply.items()})
            elif isinstance(reply, list | tuple):
                out.update({_text(k): _text(v) for k, v in zip(reply[::2], reply[1::2], strict=False)})
        return out, None

    # the Source protocol ----------------------------------------------------------------------------------
    def open(self) -> dict[str, Any]:
        """{"info": parsed INFO or None, "config": {name: value}, "not_permitted": [records]}. Raises
        TargetError when the server cannot be reached or refuses authentication."""
        self._client = conn_mod.client(self.target)
        try:
            try:
                self._client.execute_command("PING")
            except Exception as e:
                if not conn_mod.is_not_permitted(e):  # a user without +ping can still do the rest
                    raise self._fail(e) from None
            refused: list[dict[str, Any]] = []
            info, refusal = self._info()
            if refusal is not None:
                self._info_permitted = False
                refused.append(conn_mod.not_permitted(
                    "INFO (hit ratio, memory, evictions, commandstats over the window)", "INFO", refusal,
                    self.target))
            config, config_refused = self._config()
            if config_refused:
                refused.append(config_refused)
            return {"info": info, "config": config, "not_permitted": refused}
        except BaseException:
            self._client.close()
            raise

    def sample(self) -> dict[str, float]:
        """INFO's numbers (info.sample_values); {} when INFO is not permitted. Raises TargetError when the
        server fails."""
        if not self._info_permitted:
            return {}
        info, refusal = self._info()
        if refusal is not None:
            self._info_permitted = False
            return {}
        return sample_values(info)

    def close(self) -> dict[str, Any]:
        """{"keyspace": the keyspace sample (scan.KeyspaceSampler), "not_permitted": [records]}. Raises
        TargetError when the server fails."""
        try:
            keyspace, refused = KeyspaceSampler(self._client, self.target, self.limits, self.clock).run()
            return {"keyspace": keyspace, "not_permitted": refused}
        except TargetError:
            raise
        except Exception as e:
            raise self._fail(e) from None
        finally:
            self._client.close()

    def headline(self, prev: dict[str, float] | None, cur: dict[str, float], dt_s: float) -> str:
        """"redis 1,234 ops/s hit 87%": commands and hit ratio since the previous sample (INFO's own
        instantaneous_ops_per_sec and totals since start for the first one)."""
        def delta(key: str) -> float | None:
            if key not in cur:
                return None
            if prev is None or key not in prev or dt_s <= 0:
                return float(cur[key])
            d = float(cur[key]) - float(prev[key])
            return d if d >= 0 else float(cur[key])

        parts = ["redis"]
        if prev is not None and dt_s > 0 and "redis_total_commands_processed" in cur:
            parts.append(f"{(delta('redis_total_commands_processed') or 0) / dt_s:,.0f} ops/s")
        elif "redis_instantaneous_ops_per_sec" in cur:
            parts.append(f"{cur['redis_instantaneous_ops_per_sec']:,.0f} ops/s")
        hits, misses = delta("redis_keyspace_hits"), delta("redis_keyspace_misses")
        if hits is not None and misses is not None and hits + misses > 0:
            parts.append(f"hit {hits / (hits + misses):.0%}")
        return " ".join(parts) if len(parts) > 1 else ""

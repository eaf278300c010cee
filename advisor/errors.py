"""Errors a user can cause. Each is caught once in the CLI and printed as one line; exit code 2.

Every message names the input (a DSN with its password hidden, a file path, a URL) and says what is wrong
and, where we know it, the fix.
"""


class PerfadvisorError(Exception):
    """Base class: a failure caused by the user's input or environment, not by a bug in perfadvisor."""

    exit_code = 2


class ConfigError(PerfadvisorError):
    """perfadvisor.toml or a flag is invalid (unknown profile, undefined ${VAR}, bad value)."""


class TargetError(PerfadvisorError):
    """A target (database, Redis, URL) is unreachable, refuses authentication or lacks a prerequisite."""


class InputFileError(PerfadvisorError):
    """An input file (snapshot.json, stats.json, manifest) is missing, unreadable or malformed."""

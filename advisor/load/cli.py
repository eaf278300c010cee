"""Click commands of the load test and the comparison: work in progress (issue 8)."""


def register_load_commands(cli) -> None:
    """Adds `loadtest` and `compare` to the `perfadvisor` group."""

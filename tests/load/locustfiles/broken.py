"""Test workload that does not import (a name error at import time)."""

from locust import HttpUser

raise_here = undefined_name  # noqa: F821


class Nobody(HttpUser):
    pass

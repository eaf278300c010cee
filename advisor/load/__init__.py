"""`perfadvisor loadtest`: work in progress (issue 8)."""

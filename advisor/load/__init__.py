"""`perfadvisor loadtest`: a Locust workload run headless over a master and local (or remote) workers, with
per-endpoint HdrHistograms merged over Locust's message channel, the generator's own CPU/memory, the stack
sampled beside it, and LOAD… validity checks; the result is a run directory (advisor/load/rundir.py).

Modules: runner (orchestration, no Locust import), node (the Locust master/worker processes), recorder (worker
side histograms), histograms (HdrHistogram helpers), finalize (raw records → run files), rules (LOAD…),
stack (sampling the stack during the run), rundir (file layout and readers), cli (click commands).
"""

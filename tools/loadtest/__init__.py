"""A bounded load test of `pmo-ledger serve` on loopback, and the checks after it.

    pmo-ledger loadtest --backend sqlite --users 16 --seconds 60 --workers 4 --json

- `driver.py`: a fresh database seeded with the demo portfolio, the server on a free
  port, the load, the server stopped, then the audit; optionally PostgreSQL restarted
  mid-run (`--restart-postgres`).
- `runner.py`: runs locust headless in its own process (locust monkey-patches the
  process with gevent, so it never runs inside the CLI or a test process).
- `mix.py`: the locust users: 70% reads of pages and API, 30% submissions and approvals,
  and a static file as the baseline of the same run.
- `stats.py`: exact percentiles per request and category, from every response time.
- `audit.py`: afterwards: `verify` clean, no unchained rows, every acknowledged write in
  the log at the position it was acknowledged with, read models equal to a rebuild.
"""

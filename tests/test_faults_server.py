"""Faults under load (see tests/faults.py): (b) the whole server killed and started again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests import faults  # the load, the server and the audit every fault test uses
from tests.serving import seed

pytestmark = pytest.mark.slow  # started first: see tests/conftest.py

# (b) the whole server killed ----------------------------------------------------------------------


def test_killed_server_comes_back_with_every_acknowledged_write(backend_url: str, tmp_path: Path,
                                                                load_holder: list[faults.Load]) -> None:
    seed(backend_url)
    server = faults.server_for(backend_url, tmp_path).start()
    try:
        load = faults.Load(server, tmp_path, seconds=22)
        load_holder.append(load)
        for _ in range(faults.KILLS):
            time.sleep(3)
            server.kill_all()  # mid-load: the master first, then every worker
            assert not server.answers()
            server.start()  # the same command, same port; no repair in between
        back = time.time()
        result = load.finish()
    finally:
        assert server.stop() == 0, server.log()[-3000:]

    assert server.starts == 1 + faults.KILLS
    # While it was down, clients got no answer; never an error answer.
    assert faults.failed_statuses(result) <= {0}, result["failure_samples"][:10]
    assert faults.acknowledged_after(result, back) > 0, "writes resumed after the last restart"
    assert "Traceback" not in server.log()
    faults.check_ledger(backend_url, load, result)

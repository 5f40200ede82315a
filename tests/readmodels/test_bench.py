"""The read-model bench figures exist, are positive, and are computed from each other.
(Not a timed test: nothing asserts a speed.)"""

from __future__ import annotations

import json
from pathlib import Path

from domain.services import PMOApplication
from ledger.application import init_ledger
from tests.domain.helpers import PW
from tools.bench.readmodels import RUNS, run_readmodel_bench


def test_bench_reports_rebuild_against_raw_decoding_and_as_of(tmp_path: Path, passphrase: str) -> None:
    app, root = init_ledger(f"sqlite:///{tmp_path / 'bench.db'}", PW, app_class=PMOApplication)
    try:
        said: list[str] = []
        result = run_readmodel_bench(app, root, PW, project_events=600, portfolio=False,
                                     progress=said.append)
    finally:
        app.close()
    json.dumps(result)
    rates, ratios = result["rates"], result["ratios"]
    assert all(v > 0 for v in rates.values())
    assert ratios["rebuild_tables"] == rates["rebuild_tables"] / rates["raw_read_decode"]
    assert ratios["rebuild_all"] == rates["rebuild_all"] / rates["raw_read_decode"]
    assert ratios["rebuild_compliance"] == rates["rebuild_compliance"] / rates["raw_read_decode"]
    best = result["seconds_best"]
    assert set(best) == {"raw", "tables", "compliance", "all", "all_unchecked"}
    # Issue 16: the rebuild gated by the integrity monitor against the same one unchecked.
    integrity = result["integrity"]
    assert integrity["rebuild_all_gated_vs_unchecked"] == best["all_unchecked"] / best["all"]
    assert 0 < integrity["resume_start_seconds"] < 1
    assert rates["rebuild_compliance"] == result["events"] / best["compliance"]
    assert set(ratios) == {"rebuild_tables", "rebuild_compliance", "rebuild_all"}
    assert "meets_target" not in result  # shown, not judged: the rebuild target is retired
    assert result["as_of"]["project_events"] >= 600
    assert 0 < result["as_of"]["seconds_worst"] == max(result["as_of"]["seconds_each"])
    assert result["events"] >= 600 and said
    # Interleaved rounds, each reported: every side's figure is the best of its rounds.
    each = result["rebuild_all_ratio_each_round"]
    assert len(each) == RUNS and all(r > 0 for r in each)
    assert sum(line.startswith("  round ") for line in said) == RUNS

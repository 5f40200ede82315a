"""What must hold after a load (or a crash) once the server has stopped.

    report = audit(url, acknowledged)   # acknowledged: the runner's 2xx writes
    report = audit(url, acknowledged, answered_error=[...], unanswered=[...])
    report["ok"]                        # every check below passed

- `verify --json` (the command an operator runs) is clean;
- no stored event outside the chain (nothing half-written);
- every acknowledged write is in the log at the position its answer gave, on its project,
  naming its item (an answer that gave no position: the item's event is found by id);
- writes with a marker (tools/loadtest/mix.py: a field of its event unique to the write):
  none answered with an error is in the log (`refused_recorded`), and none is in it twice
  (`written_twice`: a repeat sent with its Idempotency-Key was not written again);
- the read models, caught up, equal a rebuild from position 1: the portfolio, budget and
  variance reports and the compliance findings, as the CLI prints them in JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from domain.project import project_id
from ledger.application import open_ledger

REPO = Path(__file__).resolve().parents[2]
READ_MODEL_REPORTS = (
    ("report", "portfolio", "--format", "json"),
    ("report", "budget", "--format", "json"),
    ("report", "variance", "--format", "json"),
    ("compliance", "--format", "json"),
)


def cli(*args: str, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`pmo-ledger ARGS` in a subprocess (this environment and `env`), output captured; run
    as `python -m tools`, which has the tooling's commands whatever is installed."""
    return subprocess.run([sys.executable, "-m", "tools", *args],
                          cwd=REPO, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout, check=False)


def audit(url: str, acknowledged: list[dict[str, Any]], *, rebuild: bool = True,
          answered_error: Sequence[dict[str, Any]] = (),
          unanswered: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    report: dict[str, Any] = {"verify": verify(url),
                              **log_checks(url, acknowledged, answered_error, unanswered)}
    if rebuild:
        report["read_models"] = read_models_equal_rebuild(url)
    report["ok"] = (report["verify"]["ok"] and not report["unchained"] and not report["missing"]
                    and not report["refused_recorded"] and not report["written_twice"]
                    and (not rebuild or report["read_models"]["equal"]))
    return report


def verify(url: str) -> dict[str, Any]:
    done = cli("verify", "--db", url, "--json")
    try:
        doc = json.loads(done.stdout)
    except ValueError:
        return {"ok": False, "exit": done.returncode, "error": done.stderr[-2000:]}
    return {"ok": done.returncode == 0 and doc.get("ok") is True, "exit": done.returncode,
            "events": doc.get("events"), "faults": doc.get("faults", [])[:20],
            "head": doc.get("head")}


def log_checks(url: str, acknowledged: list[dict[str, Any]],
               answered_error: Sequence[dict[str, Any]] = (),
               unanswered: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    app = open_ledger(url)
    try:
        size = app.size()
        unchained = [row._asdict() for row in app.unchained_rows()]
        rows = {r.position: r for r in app.read_chain(1, size)} if size else {}
    finally:
        app.close()
    missing = [{**w, "found_at": _positions_of(w, rows)} for w in acknowledged if not _logged(w, rows)]
    marked = [w for w in (*acknowledged, *answered_error, *unanswered) if w.get("marker")]
    counts = _marker_counts(marked, rows)
    refused_recorded = [w for w in answered_error if w.get("marker") and counts[_marker(w)]]
    written_twice = [w for w in marked if counts[_marker(w)] > 1]
    return {"size": size, "acknowledged": len(acknowledged), "missing": missing[:50],
            "missing_count": len(missing), "unchained": [_plain(u) for u in unchained][:50],
            "answered_error": len(answered_error), "unanswered": len(unanswered),
            "refused_recorded": refused_recorded[:50], "written_twice": written_twice[:50]}


def _marker(write: dict[str, Any]) -> tuple[UUID, str, str, str]:
    (name, value), = write["marker"].items()
    return project_id(write["project"]), write["topic"], name, str(value)


def _marker_counts(writes: list[dict[str, Any]], rows: dict[int, Any]) -> dict[tuple, int]:
    """How many events of the log carry each write's marker (its project, its event's
    topic, the marker's field and value)."""
    counts: dict[tuple, int] = {_marker(w): 0 for w in writes}
    names = {name for w in writes for name in w["marker"]}
    topics = {w["topic"] for w in writes}
    for row in rows.values():
        topic = str(row.topic).rsplit(".", 1)[-1]
        if topic not in topics:
            continue
        payload = _payload(row)
        originator = UUID(str(row.originator_id))
        for name in names & payload.keys():
            key = (originator, topic, name, str(payload[name]))
            if key in counts:
                counts[key] += 1
    return counts


def _logged(write: dict[str, Any], rows: dict[int, Any]) -> bool:
    """The acknowledged write's event: at its position (or, without one, anywhere)."""
    wanted = project_id(write["project"])
    candidates = [rows.get(write["position"])] if write.get("position") else rows.values()
    return any(row is not None and UUID(str(row.originator_id)) == wanted
               and _payload(row).get(write["key"]) == write["id"] for row in candidates)


def _positions_of(write: dict[str, Any], rows: dict[int, Any]) -> list[tuple[int, str]]:
    """Where the log holds the write's item (its project's events naming its id), and what
    is at the position its answer gave: what a missing write's report needs."""
    wanted = project_id(write["project"])
    found = [(pos, str(row.topic).rsplit(".", 1)[-1]) for pos, row in rows.items()
             if UUID(str(row.originator_id)) == wanted and _payload(row).get(write["key"]) == write["id"]]
    at = rows.get(write.get("position") or 0)
    if at is not None:
        found.append((at.position, f"answered position: {str(at.topic).rsplit('.', 1)[-1]} "
                                   f"{ {k: v for k, v in _payload(at).items() if k.endswith('_id')} }"))
    return found


def _payload(row: Any) -> dict[str, Any]:
    try:
        value = json.loads(bytes(row.state)) if row.state is not None else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, (int, str)) else str(v)) for k, v in row.items()}


def read_models_equal_rebuild(url: str) -> dict[str, Any]:
    """The reports before and after `projections rebuild`: equal, or the first difference."""
    before = _reports(url)
    rebuilt = cli("projections", "rebuild", "--db", url)
    after = _reports(url)
    differ = [name for name in before if before[name] != after[name]]
    return {"equal": rebuilt.returncode == 0 and not differ, "rebuild_exit": rebuilt.returncode,
            "compared": list(before), "differ": differ,
            "first_difference": _first_difference(before, after, differ)}


def _reports(url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for args in READ_MODEL_REPORTS:
        done = cli(*args, "--db", url)
        name = " ".join(args[:2]) if args[0] == "report" else args[0]
        out[name] = json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr[-500:]}
    return out


def _first_difference(before: dict[str, Any], after: dict[str, Any], differ: list[str]) -> Any:
    if not differ:
        return None
    name = differ[0]
    a, b = before[name], after[name]
    if isinstance(a, list) and isinstance(b, list):
        for x, y in zip(a, b, strict=False):
            if x != y:
                return {"report": name, "read_model": x, "rebuilt": y}
        return {"report": name, "read_model_rows": len(a), "rebuilt_rows": len(b)}
    return {"report": name, "read_model": str(a)[:500], "rebuilt": str(b)[:500]}

"""Evidence bundles: export from SQLite, verification with no database, tampered bundles
localised to the right position, the shipped test vectors, the CLI, and an independent
Node.js verifier written from FORMAT.md agreeing with the Python one."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import ledger.bundle.export as bundle_export
from ledger import verify as verify_mod
from ledger.application import LedgerApplication, init_ledger
from ledger.bundle.check import verify_bundle
from ledger.bundle.export import export_bundle, latest_checkpoint
from ledger.bundle.format import MEMBERS
from ledger.bundle.source import BundleSource
from ledger.errors import BundleFormatError, LedgerError
from ledger.keys import PASSPHRASE_ENV, Signer
from ledger.testvectors import HERE as VECTORS_DIR
from ledger.testvectors import differences
from ledger.verify import FAULT_KINDS, DatabaseSource, make_checkpoint, verify_log
from tests.support import (
    PASSPHRASE,
    Counter,
    count_checkpoints,
    faults_of,
    flip_payload_byte,
    record_directly,
    set_state,
)
from web.cli import cli

ROOT = Path(__file__).resolve().parents[1]
NODE_VERIFIER = ROOT / "tools" / "verify-bundle.mjs"
SAMPLE = VECTORS_DIR / "sample-bundle.zip"
SIZE = 8  # positions in the `log` fixture
INCREMENT_150 = 5  # position of the Counter event carrying Decimal("1.50")


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A SQLite ledger of SIZE records; no checkpoint stored yet.

    1 key ring started (root)      5 +1.50 (alice)
    2 alice registered (root)      6 +2.50 (bob)
    3 bob registered (root)        7 bob revoked (root)
    4 Counter created (alice)      8 +3.50 (alice)
    """
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    app, root = init_ledger(url, PASSPHRASE)
    who = {"actor_id": "ledger-root", "actor_name": "Ada Admin"}
    alice = app.enrol_signer("alice", PASSPHRASE, by=root, **who)
    bob = app.enrol_signer("bob", PASSPHRASE, by=root, **who)
    c = Counter("budget")
    app.save(c, signer=alice)
    c.increment(Decimal("1.50"), "first")
    app.save(c, signer=alice)
    c.increment(Decimal("2.50"), "second")
    app.save(c, signer=bob)
    app.revoke_key(bob.key_id, by=root, reason="left", **who)
    c.increment(Decimal("3.50"), "third")
    app.save(c, signer=alice)
    assert app.size() == SIZE
    try:
        yield app, root, url
    finally:
        app.close()


@pytest.fixture
def bundle(log, tmp_path: Path) -> Path:
    app, root, _ = log
    path = tmp_path / "evidence.zip"
    export_bundle(app, path, root_signer=root)
    return path


# Tampering with a bundle ------------------------------------------------------------------


def members_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def rezip(src: Path, dst: Path, edits: dict[str, Callable[[bytes], bytes]] | None = None,
          *, drop: tuple[str, ...] = (), fix_manifest: bool = True) -> Path:
    """A copy of a bundle with members edited; the manifest's hashes recomputed unless asked."""
    members = members_of(src)
    for name, fn in (edits or {}).items():
        members[name] = fn(members[name])
    for name in drop:
        del members[name]
    if fix_manifest:
        m = json.loads(members["manifest.json"])
        for name in m["members"]:
            if name in members:
                m["members"][name] = {"bytes": len(members[name]),
                                      "sha256": hashlib.sha256(members[name]).hexdigest()}
        members["manifest.json"] = json.dumps(m).encode()
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return dst


def on_record(position: int, fn: Callable[[dict], None]) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        lines = data.split(b"\n")
        obj = json.loads(lines[position - 1])
        assert obj["position"] == position
        fn(obj)
        lines[position - 1] = json.dumps(obj, separators=(",", ":")).encode()
        return b"\n".join(lines)
    return edit


def change_state(old: bytes, new: bytes) -> Callable[[dict], None]:
    def fn(obj: dict) -> None:
        state = base64.b64decode(obj["state"])
        assert state.count(old) == 1
        obj["state"] = base64.b64encode(state.replace(old, new)).decode()
    return fn


def flip_signature(obj: dict) -> None:
    sig = bytearray(base64.b64decode(obj["signature"]))
    sig[10] ^= 0x01
    obj["signature"] = base64.b64encode(bytes(sig)).decode()


def drop_line(position: int) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        lines = data.split(b"\n")
        assert json.loads(lines[position - 1])["position"] == position
        del lines[position - 1]
        return b"\n".join(lines)
    return edit


def rename_owner(data: bytes) -> bytes:
    return data.replace(b'"owner": "alice"', b'"owner": "mallory"')


# Each tampering: (edits, fix_manifest, the exact (position, kind) faults expected).
TAMPERS = {
    "state byte": ({"records.jsonl": on_record(INCREMENT_150, change_state(b'"1.50"', b'"9.50"'))}, True,
                   {(INCREMENT_150, "bad-signature"), (INCREMENT_150, "chain-break"), (SIZE, "checkpoint-mismatch")}),
    "signature": ({"records.jsonl": on_record(6, flip_signature)}, True,
                  {(6, "bad-signature"), (6, "chain-break"), (SIZE, "checkpoint-mismatch")}),
    "removed line": ({"records.jsonl": drop_line(4)}, True,
                     {(4, "missing-record"), (5, "version-gap"), (None, "bundle-mismatch"), (SIZE, "checkpoint-mismatch")}),
    "removed last line": ({"records.jsonl": drop_line(SIZE)}, True,
                          {(SIZE, "missing-record"), (SIZE, "truncated"), (None, "bundle-mismatch")}),
    "manifest mismatch": ({"FORMAT.md": lambda b: b + b"\nan added line\n"}, False,
                          {(None, "bundle-mismatch")}),
    "keys.json edited": ({"keys.json": rename_owner}, True, {(2, "bundle-mismatch")}),
}


# Export and verification ------------------------------------------------------------------


def test_bundle_verifies_with_no_database(log, bundle):
    app, _, url = log
    db_report = verify_log(DatabaseSource(app))
    app.close()
    Path(url.removeprefix("sqlite:///")).unlink()  # no database to fall back on

    report = verify_bundle(bundle)

    assert report.ok, report.faults
    assert (report.events, report.checkpoints_checked, report.checkpoint_size) == (SIZE, 1, SIZE)
    assert (report.root, report.head, report.root_key_id, report.origin) == (
        db_report.root, db_report.head, db_report.root_key_id, db_report.origin)
    assert report.as_dict()["bundle"]["checkpoint_size"] == SIZE


def test_export_from_each_backend_verifies(backend_url, passphrase, tmp_path):
    app, root = init_ledger(backend_url, passphrase)
    try:
        alice = app.enrol_signer("alice", passphrase, by=root, actor_id="ledger-root", actor_name="Alice")
        c = Counter("pg and sqlite")
        c.increment(Decimal("10.00"), "x")
        app.save(c, signer=alice)
        db = verify_log(DatabaseSource(app))
        result = export_bundle(app, tmp_path / "e.zip", root_signer=root)
    finally:
        app.close()
    report = verify_bundle(result.path, root.key_id)
    assert report.ok, report.faults
    assert (report.events, report.root, report.head) == (4, db.root, db.head)


def test_bundle_contents(log, bundle):
    app, root, _ = log
    with zipfile.ZipFile(bundle) as z:
        assert [i.filename for i in z.infolist()] == list(MEMBERS)
    m = members_of(bundle)
    assert m["FORMAT.md"] == (ROOT / "ledger" / "FORMAT.md").read_bytes()
    lines = m["records.jsonl"].decode().splitlines()
    rows = app.read_chain(1, SIZE)
    assert len(lines) == SIZE
    for line, row in zip(lines, rows, strict=True):
        rec = json.loads(line)
        assert list(rec) == ["position", "notification_id", "originator_id", "originator_version",
                             "topic", "state", "key_id", "signature", "chain_hash"]
        assert (rec["position"], rec["originator_id"], rec["originator_version"], rec["topic"], rec["key_id"]) == (
            row.position, row.originator_id, row.originator_version, row.topic, row.key_id)
        assert base64.b64decode(rec["state"]) == row.state  # the exact stored bytes
        assert base64.b64decode(rec["signature"]) == row.signature
        assert base64.b64decode(rec["chain_hash"]) == row.chain_hash
    keys = json.loads(m["keys.json"])
    ring = app.keyring()
    assert (keys["origin"], keys["root_key_id"]) == (ring.origin, root.key_id)
    assert [(k["owner"], k["registered_at"], k["valid_from"], k["revoked_at"]) for k in keys["keys"]] == [
        ("ledger-root", 1, 1, None), ("alice", 2, 3, None), ("bob", 3, 4, 7)]
    assert {k["registered_by"] for k in keys["keys"]} == {root.key_id}
    assert keys["keys"][2]["revoked_by"] == root.key_id
    assert m["checkpoint.txt"].decode() == latest_checkpoint(app)
    manifest = json.loads(m["manifest.json"])
    assert {k: manifest[k] for k in ("format", "size", "records", "unchained", "keys", "checkpoint_size")} == {
        "format": "pmo-ledger-bundle/1", "size": SIZE, "records": SIZE, "unchained": 0, "keys": 3,
        "checkpoint_size": SIZE}
    assert manifest["members"]["records.jsonl"]["sha256"] == hashlib.sha256(m["records.jsonl"]).hexdigest()


def test_export_uses_the_stored_checkpoint_and_is_reproducible(log, tmp_path):
    app, root, _ = log
    make_checkpoint(app, root)
    c = Counter("later")
    app.save(c, signer=root)  # the log has grown past the stored checkpoint
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    result = export_bundle(app, first)  # no signer needed: a checkpoint is stored
    export_bundle(app, second)
    assert not result.new_checkpoint and count_checkpoints(app) == 1
    assert first.read_bytes() == second.read_bytes()
    report = verify_bundle(first)
    assert report.ok, report.faults
    assert (report.events, report.checkpoint_size) == (SIZE + 1, SIZE)


def test_export_without_checkpoint_or_root_key_is_refused(log, tmp_path):
    app, _, _ = log
    target = tmp_path / "out" / "e.zip"
    target.parent.mkdir()
    with pytest.raises(LedgerError, match="holds no checkpoint"):
        export_bundle(app, target)
    assert list(target.parent.iterdir()) == [] and count_checkpoints(app) == 0


def test_export_signs_a_new_checkpoint_and_stores_it_only_after_writing(log, tmp_path):
    app, root, _ = log
    result = export_bundle(app, tmp_path / "e.zip", root_signer=root)
    assert result.new_checkpoint and count_checkpoints(app) == 1
    assert members_of(tmp_path / "e.zip")["checkpoint.txt"].decode() == latest_checkpoint(app)


def test_nothing_is_written_when_export_fails(log, tmp_path, monkeypatch):
    app, root, _ = log
    out = tmp_path / "out"
    out.mkdir()

    def failing_write(f, records, **kwargs):
        f.write(b"PK partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bundle_export, "write_bundle", failing_write)
    with pytest.raises(LedgerError, match="No space left on device"):
        export_bundle(app, out / "e.zip", root_signer=root)
    assert list(out.iterdir()) == []  # no bundle, no temporary file
    assert count_checkpoints(app) == 0  # the checkpoint signed for it was not stored


def test_export_refuses_to_overwrite(log, bundle):
    app, root, _ = log
    before = bundle.read_bytes()
    with pytest.raises(LedgerError, match="already exists"):
        export_bundle(app, bundle, root_signer=root)
    assert bundle.read_bytes() == before
    export_bundle(app, bundle, overwrite=True)
    assert verify_bundle(bundle).ok


def test_export_of_a_signed_log_with_faults_reports_the_same_faults(log, bundle, tmp_path):
    """A tampered database exports faithfully: verify-bundle finds what verify finds."""
    app, root, _ = log
    alice = app.signer_for(_key_of(app, "alice"), PASSPHRASE)
    bob = app.keystore.get(_key_of(app, "bob"), PASSPHRASE)
    record_directly(app, Counter("after revocation"), bob)  # position 9: revoked key
    record_directly(app, Counter("mine"), alice)  # position 10
    flip_payload_byte(app, 4, b"budget", b"bodget")  # position 4: payload changed
    set_state(app, 10, b"")  # position 10: payload emptied
    db = verify_log(DatabaseSource(app))
    target = tmp_path / "faulty.zip"
    export_bundle(app, target)  # uses the checkpoint stored when `bundle` was made
    report = verify_bundle(target)
    assert faults_of(report) == faults_of(db)
    assert {(9, "revoked-key"), (4, "bad-signature"), (10, "bad-signature")} <= faults_of(report)


def _key_of(app: LedgerApplication, owner: str) -> str:
    return next(k for k, v in app.keyring().keys.items() if v["owner"] == owner)


@pytest.mark.parametrize("name", list(TAMPERS))
def test_tampered_bundle_is_localised(bundle, tmp_path, name):
    edits, fix, expected = TAMPERS[name]
    report = verify_bundle(rezip(bundle, tmp_path / "t.zip", edits, fix_manifest=fix))
    assert not report.ok
    assert faults_of(report) == expected


def test_manifest_mismatch_names_the_member(bundle, tmp_path):
    report = verify_bundle(rezip(bundle, tmp_path / "t.zip", TAMPERS["manifest mismatch"][0], fix_manifest=False))
    (fault,) = report.faults
    assert "FORMAT.md" in fault.detail and "manifest" in fault.detail


def test_pinned_root_key(bundle, log):
    _, root, _ = log
    assert verify_bundle(bundle, root.key_id).ok
    report = verify_bundle(bundle, "00" * 32)
    assert (1, "root-key-mismatch") in faults_of(report) and not report.ok


def test_parallel_verification_gives_the_same_report(bundle, tmp_path, monkeypatch):
    tampered = rezip(bundle, tmp_path / "t.zip",
                     {"records.jsonl": lambda b: drop_line(4)(on_record(7, flip_signature)(b))})
    sequential = verify_bundle(tampered, workers=1)
    monkeypatch.setattr(verify_mod, "PARALLEL_THRESHOLD", 0)
    parallel = verify_bundle(tampered, workers=2, chunk=2)
    assert parallel.workers == 2
    assert parallel.faults == sequential.faults and parallel.root == sequential.root
    assert {(4, "missing-record"), (7, "bad-signature")} <= faults_of(parallel)


def test_bundle_source_reads_ranges_in_any_order(bundle):
    with BundleSource(bundle) as src:
        everything = src.read(1, SIZE)
        assert [r.position for r in everything] == list(range(1, SIZE + 1))
        for lo, hi in [(5, 7), (7, 8), (2, 3), (1, 1), (8, 20), (3, 6)]:
            assert src.read(lo, hi) == everything[lo - 1:hi]


@pytest.mark.parametrize("damage,words", [
    (lambda p: p.write_bytes(b"not a zip at all"), "not a readable zip file"),
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "not a readable zip file"),
    (lambda p: rezip(p, p, drop=("keys.json",)), "missing keys.json"),
    (lambda p: rezip(p, p, {"records.jsonl": lambda b: b.replace(b"\n", b"\n{oops\n", 1)}), "records.jsonl line 2"),
    (lambda p: rezip(p, p, {"records.jsonl": lambda b: b[:-40]}), "records.jsonl line 8"),
    (lambda p: rezip(p, p, {"records.jsonl": on_record(3, lambda o: o.update(position=2))}), "strictly increasing"),
    (lambda p: rezip(p, p, {"records.jsonl": on_record(3, lambda o: o.update(signature="***"))}), "'signature' is not base64"),
    (lambda p: rezip(p, p, {"manifest.json": lambda b: b.replace(b"pmo-ledger-bundle/1", b"other/9")}), "unsupported bundle format"),
    (lambda p: rezip(p, p, {"keys.json": lambda b: b[:10]}), "keys.json is not valid JSON"),
], ids=["not-zip", "truncated-file", "missing-member", "bad-json-line", "cut-line", "out-of-order",
        "bad-base64", "wrong-format", "bad-keys-json"])
def test_malformed_bundle_is_a_bundle_format_error(bundle, damage, words):
    damage(bundle)
    with pytest.raises(BundleFormatError, match=words.replace("(", r"\(")):
        verify_bundle(bundle)


def test_corrupt_compressed_data_is_a_bundle_format_error(bundle):
    with zipfile.ZipFile(bundle) as z:
        info = z.getinfo("records.jsonl")
    data = bytearray(bundle.read_bytes())
    start = info.header_offset + 30 + int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little") \
        + int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    data[start + info.compress_size // 2] ^= 0xFF
    bundle.write_bytes(bytes(data))
    with pytest.raises(BundleFormatError, match="records.jsonl is corrupt"):
        verify_bundle(bundle)


def test_missing_bundle_file(tmp_path):
    with pytest.raises(BundleFormatError, match="no such file"):
        verify_bundle(tmp_path / "nope.zip")


# Test vectors -----------------------------------------------------------------------------


def test_vectors_reproduce_exactly(tmp_path):
    assert differences() == []
    assert subprocess.run([sys.executable, "-m", "ledger.testvectors", "--out", str(tmp_path)],
                          capture_output=True, cwd=ROOT, check=True).returncode == 0
    assert (tmp_path / "vectors.json").read_bytes() == (VECTORS_DIR / "vectors.json").read_bytes()
    assert members_of(tmp_path / "sample-bundle.zip") == members_of(SAMPLE)


def test_vectors_follow_format_md_independently():
    """Recompute the vectors with hashlib and Ed25519 alone, from FORMAT.md's definitions."""
    v = json.loads((VECTORS_DIR / "vectors.json").read_text())
    keys = {k["key_id"]: Ed25519PublicKey.from_public_bytes(bytes.fromhex(k["public_key"])) for k in v["keys"]}
    for k in v["keys"]:
        assert hashlib.sha256(bytes.fromhex(k["public_key"])).hexdigest() == k["key_id"]
        assert Signer(_private(k["ed25519_seed"])).public_bytes.hex() == k["public_key"]
    previous, leaves = bytes(32), []
    for r in v["records"]:
        state = base64.b64decode(r["state_base64"])
        assert state == r["state_utf8"].encode()
        identity = f"{r['originator_id']}\n{r['originator_version']}\n{r['topic']}\n".encode()
        h = hashlib.sha256(b"pmo-ledger:record:v1\x00" + identity + state).digest()
        sig = bytes.fromhex(r["signature"])
        keys[r["key_id"]].verify(sig, b"pmo-ledger:signature:v1\x00" + h)
        chain = hashlib.sha256(b"\x00" + previous + h + sig).digest()
        leaf = hashlib.sha256(b"\x00" + h + sig).digest()
        assert (h.hex(), chain.hex(), leaf.hex(), previous.hex()) == (
            r["record_hash"], r["chain_hash"], r["leaf_hash"], r["previous_chain_hash"])
        previous = chain
        leaves.append(leaf)
    for n, root in v["merkle_roots"].items():
        assert _mth(leaves[: int(n)]).hex() == root
    root_pub = bytes.fromhex(v["keys"][0]["public_key"])
    body, _, sigline = v["checkpoint"]["note"].partition("\n\n")
    raw = base64.b64decode(sigline.split(" ")[2])
    assert raw[:4] == hashlib.sha256(v["origin"].encode() + b"\n\x01" + root_pub).digest()[:4]
    keys[v["keys"][0]["key_id"]].verify(raw[4:], (body + "\n").encode())


def _private(seed_hex: str):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))


def _mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def test_sample_bundle_verifies_with_its_pinned_root_key():
    root_key_id = json.loads((VECTORS_DIR / "vectors.json").read_text())["keys"][0]["key_id"]
    report = verify_bundle(SAMPLE, root_key_id)
    assert report.ok, report.faults
    assert (report.events, report.checkpoint_size) == (5, 5)


# CLI -------------------------------------------------------------------------------------


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_export_and_verify_bundle(log, tmp_path):
    app, root, url = log
    target = tmp_path / "e.zip"
    result = run("export", str(target), "--db", url)
    assert result.exit_code == 0, result.stderr
    assert f"root key fingerprint: {root.key_id}" in result.stdout and "signed now" in result.stdout
    result = run("verify-bundle", str(target), "--root-key", root.key_id)
    assert result.exit_code == 0 and ": clean (" in result.stdout
    result = run("verify-bundle", str(target), "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["ok"] and report["events"] == SIZE and report["faults"] == []


def test_cli_export_refuses_to_overwrite_without_force(log, bundle):
    _, _, url = log
    before = bundle.read_bytes()
    result = run("export", str(bundle), "--db", url)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ") and "already exists" in result.stderr and "--force" in result.stderr
    assert bundle.read_bytes() == before
    assert run("export", str(bundle), "--db", url, "--force").exit_code == 0


@pytest.mark.parametrize("case", ["no-passphrase", "wrong-passphrase", "missing-directory", "no-ledger"])
def test_cli_export_failures_write_nothing(log, tmp_path, monkeypatch, case):
    app, _, url = log
    out = tmp_path / "out"
    out.mkdir()
    target = out / "e.zip"
    words = {"no-passphrase": "no key passphrase", "wrong-passphrase": "wrong passphrase",
             "missing-directory": "does not exist", "no-ledger": "no ledger"}[case]
    if case == "no-passphrase":
        monkeypatch.delenv(PASSPHRASE_ENV)
    elif case == "wrong-passphrase":
        monkeypatch.setenv(PASSPHRASE_ENV, "not the passphrase")
    elif case == "missing-directory":
        target = out / "missing" / "e.zip"
    else:
        url = f"sqlite:///{tmp_path / 'absent.sqlite3'}"
    result = run("export", str(target), "--db", url)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ") and words in result.stderr, result.stderr
    assert list(out.iterdir()) == [] and count_checkpoints(app) == 0
    assert not (tmp_path / "absent.sqlite3").exists()


def test_cli_verify_bundle_reports_faults_with_positions(bundle, tmp_path):
    tampered = rezip(bundle, tmp_path / "t.zip", TAMPERS["signature"][0])
    result = run("verify-bundle", str(tampered))
    assert result.exit_code == 1
    assert "FAULT bad-signature at position 6 " in result.stdout and "3 fault(s)" in result.stdout
    result = run("verify-bundle", str(tampered), "--json")
    assert {(f["position"], f["kind"]) for f in json.loads(result.stdout)["faults"]} == TAMPERS["signature"][2]


@pytest.mark.parametrize("content", [b"not a zip", None])
def test_cli_verify_bundle_unreadable(tmp_path, content):
    path = tmp_path / "x.zip"
    if content is not None:
        path.write_bytes(content)
    result = run("verify-bundle", str(path))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert ("not a readable zip file" if content else "no such file") in result.stderr


def test_console_script_has_both_commands(bundle):
    exe = Path(sys.executable).parent / "pmo-ledger"
    out = subprocess.run([str(exe), "verify-bundle", str(bundle)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and ": clean (" in out.stdout, out.stderr
    out = subprocess.run([str(exe), "export", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--force" in out.stdout


# The independent Node.js verifier ----------------------------------------------------------


@pytest.fixture
def node() -> str:
    exe = shutil.which("node")
    if exe is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("node is not on PATH (required when CI=true)", pytrace=False)
        pytest.skip("node is not on PATH")
    return exe


def run_node(node: str, path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([node, str(NODE_VERIFIER), str(path), *args], capture_output=True, text=True, timeout=60)


def test_node_verifier_accepts_the_sample_and_exported_bundles(node, bundle, log):
    _, root, _ = log
    for path, pinned in ((SAMPLE, json.loads((VECTORS_DIR / "vectors.json").read_text())["keys"][0]["key_id"]),
                         (bundle, root.key_id)):
        out = run_node(node, path, "--root-key", pinned)
        assert out.returncode == 0 and out.stdout.startswith("ok "), out.stdout + out.stderr


@pytest.mark.parametrize("name", list(TAMPERS))
def test_node_verifier_agrees_on_tampered_bundles(node, bundle, tmp_path, name):
    edits, fix, expected = TAMPERS[name]
    tampered = rezip(bundle, tmp_path / "t.zip", edits, fix_manifest=fix)
    out = run_node(node, tampered, "--json")
    assert out.returncode == 1, out.stdout + out.stderr
    assert {(f["position"], f["kind"]) for f in json.loads(out.stdout)["faults"]} == expected


def test_node_verifier_agrees_on_a_faulty_log(node, log, bundle, tmp_path):
    app, root, _ = log
    alice = app.keystore.get(_key_of(app, "alice"), PASSPHRASE)
    record_directly(app, Counter("after revocation"), app.keystore.get(_key_of(app, "bob"), PASSPHRASE))  # 9
    ring = app.keyring()
    who = {"actor_id": "ledger-root", "actor_name": "Ada Admin", "meaning": "responsibility"}
    ring._key_revoked(key_id=_key_of(app, "bob"), by_key_id=root.key_id, reason="again", **who)  # 10
    ring._key_registered(key_id=alice.key_id, public_key=alice.public_bytes.hex(), owner="alice",  # 11
                         may_register_keys=True, by_key_id=root.key_id, reason="again", **who)
    record_directly(app, ring, root)
    flip_payload_byte(app, 4, b"budget", b"bodget")
    set_state(app, 8, b"")
    target = tmp_path / "faulty.zip"
    export_bundle(app, target)
    out = run_node(node, target, "--json")
    assert out.returncode == 1
    node_faults = {(f["position"], f["kind"]) for f in json.loads(out.stdout)["faults"]}
    assert node_faults == faults_of(verify_bundle(target))
    assert {(4, "bad-signature"), (8, "bad-signature"), (9, "revoked-key"), (11, "unauthorised-key-event")} <= node_faults


def test_node_verifier_agrees_on_a_malformed_key_event(node, bundle, tmp_path):
    def bad_hex(obj: dict) -> None:
        state = base64.b64decode(obj["state"])
        obj["state"] = base64.b64encode(state.replace(b'"public_key":"', b'"public_key":"zz')).decode()

    tampered = rezip(bundle, tmp_path / "t.zip", {"records.jsonl": on_record(2, bad_hex)})
    out = run_node(node, tampered, "--json")
    assert out.returncode == 1
    node_faults = {(f["position"], f["kind"]) for f in json.loads(out.stdout)["faults"]}
    assert node_faults == faults_of(verify_bundle(tampered))
    assert (2, "unauthorised-key-event") in node_faults  # its signature no longer verifies


def test_node_verifier_refuses_a_malformed_bundle(node, tmp_path):
    path = tmp_path / "x.zip"
    path.write_bytes(b"not a zip")
    out = run_node(node, path)
    assert out.returncode == 2 and out.stderr.startswith("error: ")


# Key history rules (ledger/verify.py), as the bundle and the database see them ----------------


def test_a_second_revocation_does_not_extend_a_key_and_re_registration_is_refused(log, bundle, tmp_path):
    app, root, _ = log
    bob = app.keystore.get(_key_of(app, "bob"), PASSPHRASE)
    alice = app.keystore.get(_key_of(app, "alice"), PASSPHRASE)
    record_directly(app, Counter("by bob after his revocation"), bob)  # position 9
    ring = app.keyring()
    who = {"actor_id": "ledger-root", "actor_name": "Ada Admin", "meaning": "responsibility"}
    ring._key_revoked(key_id=bob.key_id, by_key_id=root.key_id, reason="again", **who)  # 10
    ring._key_registered(key_id=alice.key_id, public_key=alice.public_bytes.hex(), owner="alice",  # 11
                         may_register_keys=True, by_key_id=root.key_id, reason="again", **who)
    record_directly(app, ring, root)
    expected = {(9, "revoked-key"), (11, "unauthorised-key-event")}  # alice's 4, 5, 8 stay valid
    assert faults_of(verify_log(DatabaseSource(app))) == expected
    target = tmp_path / "keys.zip"
    export_bundle(app, target)
    assert faults_of(verify_bundle(target)) == expected
    keys = {k["owner"]: k for k in json.loads(members_of(target)["keys.json"])["keys"]}
    assert (keys["bob"]["revoked_at"], keys["alice"]["valid_from"], keys["alice"]["may_register_keys"]) == (7, 3, False)


def test_a_malformed_key_event_payload_is_a_finding_not_a_crash(bundle, tmp_path):
    def bad_hex(obj: dict) -> None:
        state = base64.b64decode(obj["state"])
        obj["state"] = base64.b64encode(state.replace(b'"root_public_key":"', b'"root_public_key":"zz')).decode()

    report = verify_bundle(rezip(bundle, tmp_path / "t.zip", {"records.jsonl": on_record(1, bad_hex)}))
    assert {(1, "bad-payload"), (1, "unknown-key"), (None, "bad-checkpoint")} <= faults_of(report)
    assert {(p, "unknown-key") for p in range(1, SIZE + 1)} <= faults_of(report)


# Negative vectors: one bundle per fault kind, and the faults a verifier must report -------

NEGATIVE = json.loads((VECTORS_DIR / "negative" / "expected.json").read_text())["cases"]


def _python_verdict(path: Path, root_key: str | None) -> tuple[int, list[list]]:
    try:
        report = verify_bundle(path, root_key)
    except BundleFormatError:
        return 2, []
    return (0 if report.ok else 1), [[f.position, f.kind] for f in report.faults]


@pytest.mark.parametrize("name", sorted(NEGATIVE))
def test_each_negative_vector_gives_exactly_its_faults(name):
    case = NEGATIVE[name]
    status, faults = _python_verdict(VECTORS_DIR / "negative" / f"{name}.zip", case["root_key"])
    assert (status, faults) == (case["exit"], case["faults"])


@pytest.mark.parametrize("name", sorted(NEGATIVE))
def test_the_node_verifier_gives_each_negative_vector_exactly_its_faults(node, name):
    case = NEGATIVE[name]
    args = ["--json", *(["--root-key", case["root_key"]] if case["root_key"] else [])]
    out = run_node(node, VECTORS_DIR / "negative" / f"{name}.zip", *args)
    assert out.returncode == case["exit"], out.stdout + out.stderr
    if case["exit"] == 1:
        assert [[f["position"], f["kind"]] for f in json.loads(out.stdout)["faults"]] == case["faults"]


def test_every_fault_kind_a_bundle_can_carry_has_a_negative_vector():
    kinds = {kind for case in NEGATIVE.values() for _, kind in case["faults"]} | {"malformed-row"}
    # fork needs two checkpoints and snapshot-mismatch a database: a bundle carries neither.
    assert kinds == set(FAULT_KINDS) - {"fork", "snapshot-mismatch"}

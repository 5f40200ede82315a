"""Evidence bundles: one zip file an auditor can carry away and verify with no database.

The layout, every field and its encoding, and the verification algorithm are specified in
FORMAT.md, which every bundle carries. In short, the members are, in this order:

    FORMAT.md         the specification
    records.jsonl     one JSON object per chain position, in position order
    unchained.jsonl   stored events no chain position accounts for (normally empty)
    keys.json         the key history derived from the key events in records.jsonl
    checkpoint.txt    the latest checkpoint (a C2SP signed note by the root key)
    manifest.json     format version, counts, and the SHA-256 of every other member

Modules, each imported by name (this package imports none of them, so that
`ledger.verify` can open a bundle through `source` without importing what imports it):

- `format`: member names, the JSON encoding of records, member hashes, FORMAT.md;
- `export`: `export_bundle` writes one from a ledger (to a temporary name, renamed when
  complete), `write_bundle` from any records, `key_history` derives keys.json;
- `source`: `BundleSource`, the `LogSource` that `verify_log` reads a bundle through
  (worker processes re-open it from `("bundle", path)`), and parsing its records;
- `check`: `verify_bundle`, verify_log over a bundle plus the bundle-level checks.
"""

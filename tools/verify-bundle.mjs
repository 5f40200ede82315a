#!/usr/bin/env node
// An independent verifier of PMO Ledger evidence bundles, written from ledger/FORMAT.md
// alone (format pmo-ledger-bundle/1). Node.js >= 18, no packages: node:crypto, node:zlib,
// node:fs and a small ZIP reader below.
//
//   node tools/verify-bundle.mjs BUNDLE [--json] [--root-key FINGERPRINT]
//
// Prints every fault and then "ok" or "N fault(s)"; exit 0 when clean, 1 with faults,
// 2 when the file is not a readable, complete bundle.

import { createHash, createPublicKey, verify as edVerify } from "node:crypto";
import { readFileSync } from "node:fs";
import { inflateRawSync } from "node:zlib";

const FORMAT = "pmo-ledger-bundle/1";
const MEMBERS = ["FORMAT.md", "records.jsonl", "unchained.jsonl", "keys.json", "checkpoint.txt", "manifest.json"];
const RECORD_PREFIX = Buffer.from("pmo-ledger:record:v1\0", "latin1");
const SIGNATURE_PREFIX = Buffer.from("pmo-ledger:signature:v1\0", "latin1");
const Z32 = Buffer.alloc(32);
const STARTED = "ledger.keyring:KeyRing.Started";
const REGISTERED = "ledger.keyring:KeyRing.KeyRegistered";
const REVOKED = "ledger.keyring:KeyRing.KeyRevoked";
const KEY_TOPICS = new Set([STARTED, REGISTERED, REVOKED]);
const DASH = "\u2014";

class Malformed extends Error {}
class BadPayload extends Error {}
class NonCanonical extends Error {}

const sha256 = (...parts) => createHash("sha256").update(Buffer.concat(parts)).digest();
const hex = (b) => b.toString("hex");

// ZIP (APPNOTE 4.3.x): end of central directory, ZIP64, central directory, local headers.

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function readZip(buf) {
  const u16 = (o) => buf.readUInt16LE(o);
  const u32 = (o) => buf.readUInt32LE(o);
  const u64 = (o) => Number(buf.readBigUInt64LE(o));
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (u32(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Malformed("not a readable zip file (no end of central directory)");
  let count = u16(eocd + 10), cdOffset = u32(eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(loc) !== 0x07064b50) throw new Malformed("zip64 locator missing");
    const z = u64(loc + 8);
    if (u32(z) !== 0x06064b50) throw new Malformed("zip64 end of central directory missing");
    count = u64(z + 32);
    cdOffset = u64(z + 48);
  }
  const entries = new Map();
  let p = cdOffset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > buf.length || u32(p) !== 0x02014b50) throw new Malformed("corrupt central directory");
    const flags = u16(p + 8), method = u16(p + 10), crc = u32(p + 16);
    let csize = u32(p + 20), usize = u32(p + 24), offset = u32(p + 42);
    const nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString("utf8");
    let e = p + 46 + nameLen;
    const end = e + extraLen;
    while (e + 4 <= end) { // ZIP64 extended information: only the fields that overflowed
      const id = u16(e), len = u16(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (usize === 0xffffffff) { usize = u64(q); q += 8; }
        if (csize === 0xffffffff) { csize = u64(q); q += 8; }
        if (offset === 0xffffffff) { offset = u64(q); q += 8; }
      }
      e += 4 + len;
    }
    if (entries.has(name)) throw new Malformed(`duplicate member ${name}`);
    entries.set(name, { flags, method, crc, csize, usize, offset });
    p = end + commentLen;
  }
  const read = (name) => {
    const m = entries.get(name);
    if (m.flags & 1) throw new Malformed(`member ${name} is encrypted`);
    if (u32(m.offset) !== 0x04034b50) throw new Malformed(`member ${name}: bad local header`);
    const start = m.offset + 30 + u16(m.offset + 26) + u16(m.offset + 28);
    const raw = buf.subarray(start, start + m.csize);
    let data;
    if (m.method === 0) data = raw;
    else if (m.method === 8) {
      try { data = inflateRawSync(raw); } catch (err) { throw new Malformed(`member ${name} is corrupt: ${err.message}`); }
    } else throw new Malformed(`member ${name}: unsupported compression method ${m.method}`);
    if (data.length !== m.usize || crc32(data) !== m.crc) throw new Malformed(`member ${name} is corrupt (size or CRC-32)`);
    return data;
  };
  return { names: [...entries.keys()], read };
}

// Encodings ---------------------------------------------------------------------------

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
function unb64(text, what) {
  if (typeof text !== "string" || !B64.test(text)) throw new Malformed(`${what} is not base64`);
  return Buffer.from(text, "base64");
}
const utf8 = new TextDecoder("utf-8", { fatal: true });
const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isInt = (v) => typeof v === "number" && Number.isInteger(v) && v >= 0;
function jsonOf(bytes, where) {
  try { return JSON.parse(utf8.decode(bytes)); } catch (err) { throw new Malformed(`${where} is not valid JSON: ${err.message}`); }
}

function lines(bytes, name) {
  const text = utf8.decode(bytes);
  if (text === "") return [];
  if (!text.endsWith("\n")) throw new Malformed(`${name}: the last line has no final newline`);
  return text.slice(0, -1).split("\n").map((line, i) => {
    if (line === "") throw new Malformed(`${name} line ${i + 1} is empty`);
    const obj = (() => { try { return JSON.parse(line); } catch (err) { throw new Malformed(`${name} line ${i + 1}: ${err.message}`); } })();
    if (!isObj(obj)) throw new Malformed(`${name} line ${i + 1} is not a JSON object`);
    return obj;
  });
}

function field(obj, name, kind, where, nullable = false) {
  if (!(name in obj)) throw new Malformed(`${where}: field ${name} is missing`);
  const v = obj[name];
  if (v === null && nullable) return null;
  if (kind === "int" ? !isInt(v) : typeof v !== "string") throw new Malformed(`${where}: field ${name} has the wrong type`);
  return v;
}

function parseRecord(obj, lineNo) {
  const where = `records.jsonl line ${lineNo}`;
  const r = {
    position: field(obj, "position", "int", where),
    oid: field(obj, "originator_id", "str", where),
    version: field(obj, "originator_version", "int", where),
    topic: field(obj, "topic", "str", where, true),
    state: field(obj, "state", "str", where, true),
    keyId: field(obj, "key_id", "str", where),
    signature: unb64(field(obj, "signature", "str", where), `${where}: signature`),
    chainHash: unb64(field(obj, "chain_hash", "str", where), `${where}: chain_hash`),
  };
  field(obj, "notification_id", "int", where);
  if (r.position < 1) throw new Malformed(`${where}: position ${r.position} is not a position (they start at 1)`);
  if ((r.topic === null) !== (r.state === null)) throw new Malformed(`${where}: topic and state must both be null or both be set`);
  if (r.state !== null) {
    r.state = unb64(r.state, `${where}: state`);
    r.eventOid = r.oid;
    r.eventVersion = r.version;
    if ("event_originator_id" in obj || "event_originator_version" in obj) {
      r.eventOid = field(obj, "event_originator_id", "str", where);
      r.eventVersion = field(obj, "event_originator_version", "int", where);
    }
  }
  return r;
}

// Canonical JSON (RFC 8785) of plain JSON values: sorted keys, ES number/string forms.
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (isObj(v)) return `{${Object.keys(v).sort().map((k) => `${canonical(k)}:${canonical(v[k])}`).join(",")}}`;
  if (typeof v === "string" && !v.isWellFormed()) throw new NonCanonical("payload holds a lone surrogate");
  return JSON.stringify(v);
}

// §7: a stored payload must be the RFC 8785 form of its own parse (a repeated key, a
// float, an integer outside +-(2^53-1), another escape or number form: non-canonical).
// Returns [the parsed value or null, the problem or null].
function canonicalProblem(state) {
  let text;
  try { text = utf8.decode(state); } catch { return [null, "payload is not UTF-8"]; }
  let value;
  try { value = JSON.parse(text); } catch (err) { return [null, `payload is not JSON: ${err.message}`]; }
  if (hasFloat(text)) return [null, "payload holds a number that is not an integer"];
  try {
    if (canonical(value) !== text) return [value, "payload is not RFC 8785 canonical JSON"];
  } catch (err) {
    if (!(err instanceof NonCanonical)) throw err;
    return [value, err.message];
  }
  return [value, null];
}

function hasFloat(text) {
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) { if (c === "\\") i++; else if (c === '"') inString = false; continue; }
    if (c === '"') { inString = true; continue; }
    if (c === "-" || (c >= "0" && c <= "9")) {
      let j = i;
      while (j < text.length && /[0-9eE+\-.]/.test(text[j])) j++;
      if (/[.eE]/.test(text.slice(i, j))) return true;
      i = j - 1;
    }
  }
  return false;
}

// §5 ------------------------------------------------------------------------------------

function recordHash(oid, version, topic, state) {
  return sha256(RECORD_PREFIX, Buffer.from(`${oid}\n${version}\n${topic}\n`, "utf8"), state);
}
const keyId = (pub) => hex(sha256(pub));
const publicKeys = new Map();
function publicKey(raw) {
  const x = raw.toString("base64url");
  if (!publicKeys.has(x)) publicKeys.set(x, createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" }));
  return publicKeys.get(x);
}
function edOk(pub, message, sig) {
  try { return edVerify(null, message, publicKey(pub), sig); } catch { return false; }
}
function mth(leaves, lo, hi) {
  const n = hi - lo;
  if (n === 0) return sha256(Buffer.alloc(0));
  if (n === 1) return leaves[lo];
  let k = 1;
  while (k * 2 < n) k *= 2;
  return sha256(Buffer.from([1]), mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
}

// §6 key timeline -------------------------------------------------------------------------

// 32-byte values in key events are 64 lower-case hex digits; other text is non-canonical.
function lowerHex(data, name) {
  const v = need(data, name);
  if (typeof v === "string" && /^[0-9a-f]{64}$/.test(v)) return v;
  if (typeof v === "string" && /^[0-9a-fA-F]{64}$/.test(v)) throw new NonCanonical(`${name} must be 64 lower-case hex digits`);
  throw new BadPayload(`${name} is not 32 bytes of hex`);
}
const hexKey = (data, name) => Buffer.from(lowerHex(data, name), "hex");
function need(data, name) {
  if (!isObj(data) || !(name in data)) throw new BadPayload(`payload lacks ${name}`);
  return data[name];
}

function buildTimeline(keyRows, pinned, fault) {
  const tl = { keys: new Map(), root: null, origin: null };
  const validAt = (k, p) => k.validFrom <= p && (k.revokedAt === null || p <= k.revokedAt);
  const authorised = (r) => {
    const k = tl.keys.get(r.keyId);
    const ok = k !== undefined && k.mayRegister && validAt(k, r.position) &&
      edOk(k.public, Buffer.concat([SIGNATURE_PREFIX, recordHash(r.eventOid, r.eventVersion, r.topic, r.state)]), r.signature);
    if (!ok) fault(r, "unauthorised-key-event", "key event not signed by a key allowed to manage keys");
    return ok;
  };
  for (const r of keyRows) {
    try {
      // §6: a non-canonical key event is not trusted (two readers could take different
      // keys from a repeated "key_id"); step 7 reports it as non-canonical.
      const [data, problem] = canonicalProblem(r.state);
      if (problem !== null) continue;
      if (!isObj(data)) throw new BadPayload("key event payload is not a JSON object");
      if (r.topic === STARTED) {
        const pub = hexKey(data, "root_public_key");
        const kid = keyId(pub);
        if (tl.root !== null) { fault(r, "unauthorised-key-event", "a second key ring start; ignored"); continue; }
        if (r.position !== 1) fault(r, "unauthorised-key-event", "the key ring must start at position 1");
        if (kid !== lowerHex(data, "root_key_id")) { fault(r, "unauthorised-key-event", "root key id does not match its public key"); continue; }
        if (pinned && kid !== pinned) { fault(r, "root-key-mismatch", `expected root key ${pinned}, found ${kid}`); continue; }
        tl.root = kid;
        tl.origin = "origin" in data ? data.origin : null;
        tl.keys.set(kid, { public: pub, owner: "ledger-root", validFrom: r.position, mayRegister: true, revokedAt: null });
      } else if (r.topic === REGISTERED) {
        if (!authorised(r)) continue;
        const pub = hexKey(data, "public_key");
        const kid = lowerHex(data, "key_id");
        if (keyId(pub) !== kid) { fault(r, "unauthorised-key-event", "registered key id does not match its public key"); continue; }
        if (tl.keys.has(kid)) { fault(r, "unauthorised-key-event", "key is already registered; ignored"); continue; }
        const owner = need(data, "owner"), mayRegister = need(data, "may_register_keys");
        if (typeof owner !== "string" || typeof mayRegister !== "boolean") throw new BadPayload("owner must be text and may_register_keys true or false");
        tl.keys.set(kid, { public: pub, owner, validFrom: r.position + 1, mayRegister, revokedAt: null });
      } else if (r.topic === REVOKED) {
        if (!authorised(r)) continue;
        const k = tl.keys.get(lowerHex(data, "key_id"));
        if (k !== undefined && k.revokedAt === null) k.revokedAt = r.position;
      }
    } catch (err) {
      if (err instanceof NonCanonical) fault(r, "non-canonical", `key event ignored: ${err.message}`);
      else if (err instanceof BadPayload) fault(r, "bad-payload", err.message);
      else throw err;
    }
  }
  return tl;
}

function keyHistory(keyRows) {
  const tl = buildTimeline(keyRows, null, () => {});
  const signerAt = new Map(keyRows.map((r) => [r.position, r.keyId]));
  const keys = [...tl.keys].map(([kid, k]) => {
    const at = kid === tl.root ? k.validFrom : k.validFrom - 1;
    return {
      key_id: kid, public_key: hex(k.public), owner: k.owner, may_register_keys: k.mayRegister,
      registered_at: at, registered_by: signerAt.get(at) ?? null, valid_from: k.validFrom,
      revoked_at: k.revokedAt, revoked_by: k.revokedAt === null ? null : signerAt.get(k.revokedAt) ?? null,
    };
  });
  keys.sort((a, b) => a.registered_at - b.registered_at || (a.key_id < b.key_id ? -1 : 1));
  return { format: FORMAT, origin: tl.origin, root_key_id: tl.root, keys };
}

// §8 checkpoint ---------------------------------------------------------------------------

function parseNote(text) {
  const cut = text.indexOf("\n\n");
  if (cut <= 0) throw new Error("not a signed note: no blank line between body and signatures");
  const body = text.slice(0, cut + 1);
  const [origin, sizeText, rootText, ...ext] = body.slice(0, -1).split("\n");
  if (rootText === undefined) throw new Error("checkpoint body needs origin, size and root hash lines");
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) throw new Error(`checkpoint size ${sizeText} is not a decimal number`);
  const extensions = new Map(ext.filter((l) => l.includes(" ")).map((l) => [l.slice(0, l.indexOf(" ")), l.slice(l.indexOf(" ") + 1)]));
  const b32 = (t, what) => {
    if (!B64.test(t ?? "") || Buffer.from(t, "base64").length !== 32) throw new Error(`${what} is not 32 bytes of base64`);
    return Buffer.from(t, "base64");
  };
  const root = b32(rootText, "root hash"), chainHead = b32(extensions.get("chain-head"), "chain-head");
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(extensions.get("time") ?? "")) throw new Error("checkpoint time is malformed");
  const signatures = [];
  for (const line of text.slice(cut + 2).split("\n")) {
    if (line.trim() === "") continue;
    const parts = line.split(" ");
    if (parts.length !== 3 || parts[0] !== DASH) throw new Error(`malformed signature line ${JSON.stringify(line)}`);
    if (!B64.test(parts[2])) throw new Error(`signature line of ${parts[1]} is not base64`);
    const raw = Buffer.from(parts[2], "base64");
    if (raw.length !== 68) throw new Error(`signature of ${parts[1]} is ${raw.length} bytes, expected 68`);
    signatures.push({ name: parts[1], keyHash: raw.subarray(0, 4), sig: raw.subarray(4) });
  }
  if (signatures.length === 0) throw new Error("signed note carries no signature");
  return { origin, size: Number(sizeText), root, chainHead, body: Buffer.from(body, "utf8"), signatures };
}

function verifyNote(text, rootPublic) {
  const cp = parseNote(text);
  const want = sha256(Buffer.from(cp.origin, "utf8"), Buffer.from([0x0a, 0x01]), rootPublic).subarray(0, 4);
  for (const s of cp.signatures) {
    if (s.name === cp.origin && s.keyHash.equals(want)) {
      if (!edOk(rootPublic, cp.body, s.sig)) throw new Error(`checkpoint of size ${cp.size}: signature by ${s.name} does not verify`);
      return cp;
    }
  }
  throw new Error(`checkpoint of size ${cp.size} is not signed by this ledger's root key`);
}

// §11 the algorithm -----------------------------------------------------------------------

function verifyBundle(path, pinned = null) {
  const faults = [];
  const add = (position, oid, version, kind, detail) => faults.push({ position, originator_id: oid, version, kind, detail });
  const fault = (r, kind, detail) => add(r.position, r.oid, r.version, kind, detail);
  const mismatch = (detail, position = null) => add(position, null, null, "bundle-mismatch", detail);

  // 1-3: members, manifest, parsing.
  let zip;
  try { zip = readZip(readFileSync(path)); } catch (err) {
    if (err instanceof Malformed) throw err;
    throw new Malformed(`${path} is not an evidence bundle: ${err.message}`);
  }
  const missing = MEMBERS.filter((m) => !zip.names.includes(m));
  if (missing.length) throw new Malformed(`not a complete evidence bundle: missing ${missing.join(", ")}`);
  const bytes = Object.fromEntries(MEMBERS.map((m) => [m, zip.read(m)]));
  const m = jsonOf(bytes["manifest.json"], "manifest.json");
  if (!isObj(m) || m.format !== FORMAT) throw new Malformed(`unsupported bundle format ${JSON.stringify(m?.format)}`);
  for (const f of ["size", "records", "unchained", "keys"]) field(m, f, "int", "manifest.json");
  if (!isObj(m.members) || !Object.values(m.members).every((v) => isObj(v) && typeof v.sha256 === "string" && isInt(v.bytes))) {
    throw new Malformed("manifest.json: members must map names to {bytes, sha256}");
  }
  const records = [];
  lines(bytes["records.jsonl"], "records.jsonl").forEach((obj, i) => {
    const r = parseRecord(obj, i + 1);
    const last = records.length ? records[records.length - 1].position : 0;
    if (r.position <= last) throw new Malformed(`records.jsonl line ${i + 1}: position ${r.position} is out of order`);
    records.push(r);
  });
  const unchained = lines(bytes["unchained.jsonl"], "unchained.jsonl").map((obj, i) => {
    const where = `unchained.jsonl line ${i + 1}`;
    return { nid: field(obj, "notification_id", "int", where), oid: field(obj, "originator_id", "str", where),
      version: field(obj, "originator_version", "int", where), topic: field(obj, "topic", "str", where) };
  });
  const claimedKeys = jsonOf(bytes["keys.json"], "keys.json");
  let cpText;
  try { cpText = utf8.decode(bytes["checkpoint.txt"]); } catch { throw new Malformed("checkpoint.txt is not UTF-8 text"); }
  const N = records.length ? records[records.length - 1].position : 0;
  const byPosition = new Map(records.map((r) => [r.position, r]));
  const keyRows = records.filter((r) => r.state !== null && KEY_TOPICS.has(r.topic));

  // 4: the manifest.
  for (const name of MEMBERS.slice(0, -1)) if (!(name in m.members)) mismatch(`manifest.json does not list member ${name}`);
  for (const name of zip.names.filter((n) => !(n in m.members) && n !== "manifest.json").sort()) mismatch(`member ${name} is not listed in manifest.json`);
  for (const name of Object.keys(m.members).sort()) {
    if (!MEMBERS.slice(0, -1).includes(name)) { mismatch(`manifest.json lists unknown member ${name}`); continue; }
    const data = bytes[name], want = m.members[name];
    if (want.bytes !== data.length || want.sha256 !== hex(sha256(data))) mismatch(`member ${name}: SHA-256 or length differs from the manifest`);
  }
  if (m.records !== records.length) mismatch(`manifest.json counts ${m.records} records, the bundle holds ${records.length}`);
  if (m.unchained !== unchained.length) mismatch(`manifest.json counts ${m.unchained} unchained, the bundle holds ${unchained.length}`);
  if (m.size > N) add(N + 1, null, null, "missing-record", `manifest.json gives the log size as ${m.size}, records.jsonl ends at position ${N}`);
  else if (m.size < N) mismatch(`manifest.json gives the log size as ${m.size}, records.jsonl goes on to position ${N}`);
  const derived = keyHistory(keyRows);
  const nKeys = isObj(claimedKeys) && Array.isArray(claimedKeys.keys) ? claimedKeys.keys.length : null;
  for (const [name, actual] of [["origin", derived.origin], ["root_key_id", derived.root_key_id], ["keys", nKeys]]) {
    if (canonical(name in m ? m[name] : null) !== canonical(actual)) mismatch(`manifest.json gives ${name} ${JSON.stringify(m[name])}, the log gives ${JSON.stringify(actual)}`);
  }
  // 5: keys.json.
  if (!isObj(claimedKeys) || !Array.isArray(claimedKeys.keys)) mismatch("keys.json is not an object with a keys list");
  else {
    for (const name of ["format", "origin", "root_key_id"]) {
      if (canonical(name in claimedKeys ? claimedKeys[name] : null) !== canonical(derived[name])) mismatch(`keys.json gives a different ${name}`);
    }
    const extra = Object.keys(claimedKeys).filter((k) => !["format", "origin", "root_key_id", "keys"].includes(k));
    if (extra.length) mismatch(`keys.json has unexpected fields ${extra.sort().join(", ")}`);
    const want = new Map(derived.keys.map((k) => [k.key_id, k]));
    const have = new Map();
    for (const k of claimedKeys.keys) {
      const kid = isObj(k) ? k.key_id : undefined;
      if (typeof kid !== "string" || have.has(kid)) { mismatch("keys.json has a malformed or repeated key entry"); continue; }
      have.set(kid, k);
    }
    for (const kid of [...new Set([...want.keys(), ...have.keys()])].sort()) {
      if (want.has(kid) && have.has(kid) && canonical(want.get(kid)) === canonical(have.get(kid))) continue;
      const at = (want.get(kid) ?? have.get(kid)).registered_at;
      mismatch(`keys.json entry for key ${kid.slice(0, 16)}... differs from the key events in the log`,
        typeof at === "number" && Number.isInteger(at) ? at : null);
    }
  }

  // 6: the key timeline.
  const tl = buildTimeline(keyRows, pinned, fault);
  if (N > 0 && tl.root === null) add(1, null, null, "unknown-key", "the log does not start with a key ring");

  // 7: every position.
  const leaves = [];
  const lastVersion = new Map();
  let prev = Z32;
  for (let p = 1; p <= N; p++) {
    const r = byPosition.get(p);
    if (r === undefined) { add(p, null, null, "missing-record", "no record at this position"); leaves.push(Z32); prev = null; continue; }
    const seen = lastVersion.get(r.oid);
    if (r.version !== (seen === undefined ? 1 : seen + 1)) fault(r, "version-gap", `expected version ${seen === undefined ? 1 : seen + 1}, found ${r.version}`);
    lastVersion.set(r.oid, r.version);
    if (r.state === null) { fault(r, "missing-record", "the stored event is missing"); leaves.push(Z32); prev = r.chainHash; continue; }
    if (r.eventOid !== r.oid || r.eventVersion !== r.version) fault(r, "identity-mismatch", `stored event is ${r.eventOid} v${r.eventVersion}`);
    const h = recordHash(r.eventOid, r.eventVersion, r.topic, r.state);
    leaves.push(sha256(Buffer.from([0]), h, r.signature));
    const k = tl.keys.get(r.keyId);
    if (k === undefined || p < k.validFrom) fault(r, "unknown-key", `key ${r.keyId.slice(0, 16)}... was not registered before this position`);
    else {
      if (k.revokedAt !== null && p > k.revokedAt) fault(r, "revoked-key", `key ${r.keyId.slice(0, 16)}... was revoked at position ${k.revokedAt}`);
      if (!edOk(k.public, Buffer.concat([SIGNATURE_PREFIX, h]), r.signature)) fault(r, "bad-signature", "signature does not match the stored bytes and identity");
    }
    const [value, problem] = canonicalProblem(r.state);
    if (problem !== null) fault(r, "non-canonical", problem);
    // §7: the key that signed is a key of the person the event names as its actor.
    if (k !== undefined && r.topic !== STARTED && isObj(value) && "actor_id" in value && value.actor_id !== k.owner) {
      fault(r, "actor-key-mismatch", `the event names ${JSON.stringify(value.actor_id)} as its actor but is signed by a key of ${JSON.stringify(k.owner)}`);
    }
    if (prev !== null) {
      const want = sha256(Buffer.from([0]), prev, h, r.signature);
      if (!want.equals(r.chainHash)) fault(r, "chain-break", `expected chain hash ${hex(want)}, found ${hex(r.chainHash)}`);
    }
    prev = r.chainHash;
  }

  // 8: unchained events.
  for (const u of unchained) add(null, u.oid, u.version, "unchained-record", `stored event at notification ${u.nid} (${u.topic}) has no chain position`);

  // 9: the checkpoint.
  let checkpointSize = null;
  if (cpText.trim() === "") add(null, null, null, "bad-checkpoint", "checkpoint.txt is empty: the bundle carries no checkpoint");
  else {
    try { checkpointSize = parseNote(cpText).size; } catch { /* reported below */ }
    if (checkpointSize !== null && m.checkpoint_size !== checkpointSize) mismatch(`manifest.json gives checkpoint_size ${m.checkpoint_size}, checkpoint.txt has size ${checkpointSize}`);
    try {
      if (tl.root === null) throw new Error("no root key in the log to check it against");
      const cp = verifyNote(cpText, tl.keys.get(tl.root).public);
      if (cp.origin !== tl.origin) add(null, null, null, "bad-checkpoint", `checkpoint origin ${cp.origin} is not this log's ${tl.origin}`);
      else {
        if (cp.size > N) add(N + 1, null, null, "truncated", `the checkpoint holds ${cp.size} events, the bundle ${N}`);
        else if (!mth(leaves, 0, cp.size).equals(cp.root)) add(cp.size, null, null, "checkpoint-mismatch", `Merkle root of the first ${cp.size} records differs from the checkpoint's`);
        const at = byPosition.get(cp.size);
        if (at !== undefined && !at.chainHash.equals(cp.chainHead)) add(cp.size, null, null, "checkpoint-mismatch", "checkpoint chain-head differs from the stored chain hash");
      }
    } catch (err) {
      add(null, null, null, "bad-checkpoint", err.message);
    }
  }
  faults.sort((a, b) => (a.position === null) - (b.position === null) || (a.position ?? 0) - (b.position ?? 0) || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
  return { ok: faults.length === 0, events: N, checkpoint_size: checkpointSize, root_key_id: tl.root, origin: tl.origin, faults };
}

function main(argv) {
  const args = argv.slice(2);
  const json = args.includes("--json");
  const ki = args.indexOf("--root-key");
  const pinned = ki >= 0 ? args[ki + 1] : null;
  const files = args.filter((a, i) => !a.startsWith("--") && (ki < 0 || i !== ki + 1));
  if (files.length !== 1 || (ki >= 0 && !pinned)) {
    process.stderr.write("usage: node verify-bundle.mjs BUNDLE [--json] [--root-key FINGERPRINT]\n");
    return 2;
  }
  let report;
  try { report = verifyBundle(files[0], pinned); } catch (err) {
    if (!(err instanceof Malformed) && err.code !== "ENOENT" && err.code !== "EISDIR") throw err;
    process.stderr.write(`error: ${err.message}\n`);
    return 2;
  }
  if (json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  else {
    for (const f of report.faults) {
      const where = f.position === null ? "no position" : `position ${f.position}`;
      const who = f.originator_id ? ` ${f.originator_id} v${f.version}` : "";
      process.stdout.write(`FAULT ${f.kind} at ${where}${who}: ${f.detail}\n`);
    }
    process.stdout.write(report.ok
      ? `ok (${report.events} records, checkpoint of size ${report.checkpoint_size}, root key ${report.root_key_id})\n`
      : `${report.faults.length} fault(s)\n`);
  }
  return report.ok ? 0 : 1;
}

process.exitCode = main(process.argv);

#!/usr/bin/env node
// A second, independent verifier of Enrollment Station bundles, written from
// docs/bundle-format.md with off-the-shelf libraries for each piece: cbor2 (COSE_Sign1
// structures), @noble/curves and @noble/hashes (ES256, Ed25519, SHA-256), @hpke/core
// with @hpke/hybridkem-x-wing (RFC 9180 HPKE, ML-KEM-768+X25519), canonicalize (RFC 8785),
// ajv (the identity JSON Schema).
//
//   node interop/jsverify/verify.js --issuer-key K (--station station.reg | --station-key P)
//        [--after-seq N] [--prev-hash HEX] BUNDLE
//
// prints "OK" or "FAIL <reason-code>: <what>" and exits 0 or 1 (2 for usage errors), the
// verdict and reason code `enrollstation verify --json` gives.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { decode as cborDecode, encode as cborEncode, Tag } from "cbor2";
import { p256 } from "@noble/curves/nist.js";
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { CipherSuite, HkdfSha256, Aes256Gcm } from "@hpke/core";
import { XWing } from "@hpke/hybridkem-x-wing";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { parse, parseSigned, checkShape, JSONProfileError, canonicalize } from "./strictjson.js";

const here = path.dirname(fileURLToPath(import.meta.url));

class Fail extends Error {
  constructor(code, what) {
    super(what);
    this.code = code;
  }
}
class Usage extends Error {}

const enc = new TextEncoder();
const hex = (b) => Buffer.from(b).toString("hex");
const b64 = (s) => new Uint8Array(Buffer.from(s, "base64"));
const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
const u32 = (b, o) => ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3];

// ---- Keys -------------------------------------------------------------------------

// pemBlock reads one RFC 7468 block (with the issuer keys' informational headers).
function pemBlock(text, type) {
  const m = text.match(/-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/);
  if (!m || m[1] !== type) throw new Usage(`not a PEM ${type}`);
  const headers = {};
  let body = m[2];
  const split = body.search(/\r?\n\r?\n/);
  if (/^[A-Za-z-]+: /.test(body) && split >= 0) {
    for (const line of body.slice(0, split).split(/\r?\n/)) {
      const [k, ...v] = line.split(": ");
      headers[k] = v.join(": ");
    }
    body = body.slice(split);
  }
  return { headers, bytes: b64(body.replace(/\s/g, "")) };
}

const fingerprint = (id) => hex(id).match(/.{4}/g).join(" ");

// PKCS#8 PrivateKeyInfo prefixes (fixed-size DER) of the two issuer private key blocks
// (docs "Key files"): X-Wing (OID 1.3.6.1.4.1.62253.25722, the 32-byte seed as the
// OCTET STRING) and Ed25519 (RFC 8410, the 32-byte seed inside an OCTET STRING).
const pkcs8XWing = Uint8Array.from(Buffer.from("3034020100300d060b2b0601040183e62d81c87a0420", "hex"));
const pkcs8Ed25519 = Uint8Array.from(Buffer.from("302e020100300506032b657004220420", "hex"));

function seedAfter(der, prefix) {
  return der.length === prefix.length + 32 && eq(der.slice(0, prefix.length), prefix) ? der.slice(prefix.length) : null;
}

// issuerSeeds reads issuer.key: two PKCS#8 "PRIVATE KEY" blocks (after a line of text
// naming the fingerprint), or the earlier single "ENROLLSTATION ISSUER PRIVATE KEY" block
// with KEM, Signature and Fingerprint headers over the 64 raw bytes.
function issuerSeeds(text) {
  if (text.includes("-----BEGIN ENROLLSTATION ISSUER PRIVATE KEY-----")) {
    const { headers, bytes } = pemBlock(text, "ENROLLSTATION ISSUER PRIVATE KEY");
    if (bytes.length !== 64 || headers.KEM !== "MLKEM768-X25519" || headers.Signature !== "Ed25519") {
      throw new Usage("--issuer-key: not an ML-KEM-768+X25519 / Ed25519 issuer private key");
    }
    return { kem: bytes.slice(0, 32), ed: bytes.slice(32), fingerprint: headers.Fingerprint };
  }
  const blocks = [...text.matchAll(/-----BEGIN PRIVATE KEY-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END PRIVATE KEY-----/g)].map((m) => b64(m[1].replace(/\s/g, "")));
  const kem = blocks.length === 2 && seedAfter(blocks[0], pkcs8XWing);
  const ed = blocks.length === 2 && seedAfter(blocks[1], pkcs8Ed25519);
  if (!kem || !ed) throw new Usage("--issuer-key: not an issuer private key (an X-Wing and an Ed25519 PKCS#8 block)");
  const fp = text.match(/^Fingerprint: ([0-9a-f ]+)$/m);
  return { kem, ed, fingerprint: fp ? fp[1] : undefined };
}

async function loadIssuer(file) {
  const seeds = issuerSeeds(fs.readFileSync(file, "utf8"));
  const kem = new XWing();
  const kp = await kem.generateKeyPairDerand(seeds.kem);
  const kemPub = new Uint8Array(await kem.serializePublicKey(kp.publicKey));
  const pub = concat(kemPub, ed25519.getPublicKey(seeds.ed));
  const id = sha256(pub);
  if (seeds.fingerprint !== undefined && seeds.fingerprint !== fingerprint(id)) {
    throw new Usage("--issuer-key: the Fingerprint line does not match the key");
  }
  return { privateKey: kp.privateKey, id };
}

// A P-256 SubjectPublicKeyInfo (RFC 5480) is this prefix and the uncompressed point.
const spkiP256 = Uint8Array.from(Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex"));

function p256FromSPKI(der) {
  if (der.length !== spkiP256.length + 65 || !eq(der.slice(0, spkiP256.length), spkiP256)) return null;
  const point = der.slice(spkiP256.length);
  try {
    p256.Point.fromBytes(point).assertValidity();
  } catch {
    return null;
  }
  return point;
}

// loadStation reads --station (a registration, docs "Station registration") or
// --station-key (a PEM PUBLIC KEY).
function loadStation(regFile, keyFile) {
  if (keyFile) {
    const { bytes } = pemBlock(fs.readFileSync(keyFile, "utf8"), "PUBLIC KEY");
    const point = p256FromSPKI(bytes);
    if (!point) throw new Usage("--station-key: not an ECDSA P-256 public key");
    return { point, id: sha256(bytes), registration: null };
  }
  let reg;
  try {
    reg = parse(fs.readFileSync(regFile));
    checkShape(reg, {
      format: "string", station_id: "string", station_key: "b64", attestation_key: "b64",
      supervisor_keys: ["array", { id: "string", key: "b64" }],
      tpm: { kind: "string", manufacturer: "string", model: "string", version: "string", ek_certificate_sha256: "string", ca: "string" },
      accepted_software_tpm: "bool", registered: "string",
    });
  } catch (e) {
    throw new Usage(`--station: ${e.message}`);
  }
  if (reg.format !== "enrollstation-station-registration/1") throw new Usage(`--station: format ${JSON.stringify(reg.format)}`);
  const der = b64(reg.station_key);
  const point = p256FromSPKI(der);
  if (!point || hex(sha256(der)) !== reg.station_id) throw new Usage("--station: the station key is not the registered station's");
  if (reg.tpm.kind !== "hardware" && !reg.accepted_software_tpm) {
    throw new Usage(`--station: software-tpm: the station's TPM is a software TPM (${reg.tpm.model}) and was not accepted`);
  }
  return { point, id: sha256(der), registration: reg };
}

// ---- COSE_Sign1 (RFC 9052) ----------------------------------------------------------

// sign1 decodes a tagged COSE_Sign1 with the content type ct; what names it in errors.
function sign1(bytes, ct, what) {
  let msg;
  try {
    msg = cborDecode(bytes);
  } catch {
    throw new Fail("malformed", `${what}: not CBOR`);
  }
  if (!(msg instanceof Tag) || Number(msg.tag) !== 18 || !Array.isArray(msg.contents) || msg.contents.length !== 4) {
    throw new Fail("malformed", `${what}: not a tagged COSE_Sign1`);
  }
  const [prot, , payload, sig] = msg.contents;
  if (!(prot instanceof Uint8Array) || !(payload instanceof Uint8Array) || !(sig instanceof Uint8Array)) {
    throw new Fail("malformed", `${what}: COSE_Sign1 fields`);
  }
  let hdr;
  try {
    hdr = prot.length ? cborDecode(prot) : new Map();
    if (!(hdr instanceof Map)) hdr = new Map(Object.entries(hdr));
  } catch {
    throw new Fail("malformed", `${what}: protected header`);
  }
  const alg = hdr.get(1), gotCT = hdr.get(3);
  if (alg !== -7) throw new Fail("unsupported", `${what}: COSE algorithm ${alg}`);
  if (gotCT !== ct) throw new Fail("malformed", `${what}: content type ${gotCT}`);
  return { prot, payload, sig, kid: hdr.get(4) };
}

function verifySign1(m, point) {
  const toBeSigned = cborEncode(["Signature1", m.prot, new Uint8Array(0), m.payload]);
  try {
    return m.sig.length === 64 && p256.verify(m.sig, sha256(toBeSigned), point, { prehash: false, lowS: false });
  } catch {
    return false;
  }
}

// ---- Checks from the specification -----------------------------------------------

const validID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const hex64 = /^[0-9a-f]{64}$/;
// RFC 3339 UTC with up to nanosecond precision, in its one canonical spelling.
const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$/;
function validTime(s) {
  const m = typeof s === "string" && s.match(rfc3339);
  if (!m || (m[7] && m[7].endsWith("0"))) return false;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  return d.getUTCFullYear() === +m[1] && d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3] &&
    d.getUTCHours() === +m[4] && d.getUTCMinutes() === +m[5] && d.getUTCSeconds() === +m[6];
}
const instant = (s) => {
  const m = s.match(rfc3339);
  return `${m.slice(1, 7).join(",")},${(m[7] || ".").slice(1).padEnd(9, "0")}`;
};

const memberNames = ["identity.json", "portrait.jpg", "template.bin", "quality.json", "capture.json", "approval.json"];
const chunkSize = 65536;
const sealedLength = (p) => p + 16 * Math.max(1, Math.ceil(p / chunkSize));

const versions = {
  1: { header: "enrollstation-bundle-header/1", manifest: "enrollstation-bundle-manifest/1", trailer: "enrollstation-bundle-trailer/1", info: "enrollstation bundle v1" },
  2: { header: "enrollstation-bundle-header/2", manifest: "enrollstation-bundle-manifest/2", trailer: "enrollstation-bundle-trailer/2", info: "enrollstation bundle v2" },
};

const shapes = {
  header: {
    format: "string", bundle_id: "string", station_id: "string", issuer_key_id: "string", kem: "int", kdf: "int",
    aead: "int", enc: "b64", chunk_size: "int", plaintext_length: "int", ciphertext_length: "int", created: "string",
  },
  trailer: { format: "string", bundle_id: "string", header_sha256: "string", ciphertext_length: "int", body_sha256: "string" },
  manifest: {
    format: "string", bundle_id: "string", station_id: "string", seq: "string", prev_bundle_sha256: "string", created: "string",
    batch: { id: "string", closed_at: "string", enrollment_ids: ["array", "string"] },
    audit_checkpoint: { seq: "string", hash: "b64|null", signature: "b64|null" },
    records: ["array", {
      enrollment_id: "string", template_model: "string", template_version: "string",
      members: ["array", { name: "string", size: "int", sha256: "string" }],
    }],
  },
  roster: {
    supervisor_id: "string", display_name: "string", key_id: "string", public_key: "b64", created: "string",
    status: "string", ended_at: "string", replaced_by: "string", reason: "string", certification: "b64",
  },
  issuerKeyChange: { key_id: "string", previous_key_id: "string", changed_at: "string", approved_by: ["array", "string"], reason: "string" },
  approval2: { algorithm: "string", supervisor_id: "string", supervisor_key_id: "string", signature: "b64", signed_at: "string", statement: "b64" },
  statement2: {
    type: "string", station_id: "string", enrollment_id: "string", application_number: "string", supervisor: "string",
    supervisor_key_id: "string", approved_at: "string", captured_by: "string", created_at: "string",
    demographics: {
      surname: "string", given_names: "string", date_of_birth: "string", sex: "string", nationality: "string",
      place_of_birth: "string", address: "string", address_lines: ["array", "string"], locality: "string",
      postal_code: "string", country: "string", document_number: "string", phone: "string",
    },
    capture: { camera: "string", profile_id: "string", captured_at: "string", width: "int", height: "int", attempts: "int", forced_reason: "string" },
    portrait_sha256: "string", template_sha256: "string", quality_sha256: "string",
  },
  quality: { measures: ["array", { id: "any", raw: "any", scalar: "any" }] },
  capture: { camera_profile: "string", captured_at: "string", forced_reason: "string", operator: "string", retries: "int" },
  approval: { algorithm: "string", signature: "b64", signed_at: "string", supervisor_id: "string", supervisor_public_key: "b64", "statement?": "b64" },
};

// signedJSON reads a signed JSON object under the profile; a violation is reported with
// its profile reason code, naming what was read.
function signedJSON(bytes, shape, what) {
  try {
    return parseSigned(bytes, shape);
  } catch (e) {
    if (e instanceof JSONProfileError) throw new Fail(e.code, `${what}: ${e.message}`);
    throw e;
  }
}

let identitySchema;
function validateIdentity(id, bytes) {
  if (!identitySchema) {
    const ajv = new Ajv2020({ allErrors: false, strict: false, unicodeRegExp: true });
    addFormats(ajv, ["date"]);
    identitySchema = ajv.compile(JSON.parse(fs.readFileSync(path.join(here, "..", "..", "exporter", "identity.schema.json"), "utf8")));
  }
  let v;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new Fail("schema", `record ${id}: identity.json is not JSON`);
  }
  if (!identitySchema(v)) {
    const e = identitySchema.errors[0];
    throw new Fail("schema", `record ${id}: identity data does not match the schema at ${JSON.stringify(e.instancePath)}: ${e.keyword}`);
  }
}

// approvalDigest is SHA-256 of the canonical approval-v1 object (docs "Approval digest").
function approvalDigest(rec, hashes) {
  const members = {};
  for (let j = 0; j < 5; j++) members[memberNames[j]] = hex(hashes[j]);
  return sha256(enc.encode(canonicalize({
    context: "enrollstation approval v1", enrollment_id: rec.enrollment_id, members,
    template_model: rec.template_model, template_version: rec.template_version,
  })));
}

// derToRS turns an ASN.1 DER ECDSA signature into 64 bytes r||s (null if not DER).
function derToRS(sig) {
  try {
    return p256.Signature.fromBytes(sig, "der").toBytes("compact");
  } catch {
    return null;
  }
}
function verifyDER(point, digest, sig) {
  const rs = derToRS(sig);
  try {
    return rs !== null && p256.verify(rs, digest, point, { prehash: false, lowS: false });
  } catch {
    return false;
  }
}

// checkStatement compares a statement-v1 with the record (docs "Statement approvals").
function checkStatement(stmtBytes, id, identity, capture, hashes) {
  let st;
  try {
    st = parse(stmtBytes);
  } catch (e) {
    return "statement is not a station approval statement";
  }
  if (st.enrollment_id !== id) return "the signed statement names another enrollment";
  if (st.portrait_sha256 !== hex(hashes[1])) return "the signed statement names another portrait.jpg";
  if (st.template_sha256 !== hex(hashes[2])) return "the signed statement names another template.bin";
  const d = st.demographics, c = st.capture;
  if (!d || !c || typeof st.captured_by !== "string") return "the signed statement has no demographics, capture or captured_by";
  const s = (x) => (x === undefined || x === null ? "" : x);
  const addr = identity.address || {};
  for (const [name, signed, got] of [
    ["family_name", d.surname, identity.family_name], ["given_names", d.given_names, identity.given_names],
    ["date_of_birth", d.date_of_birth, identity.date_of_birth], ["sex", d.sex, identity.sex],
    ["nationality", d.nationality, identity.nationality], ["place_of_birth", d.place_of_birth, identity.place_of_birth],
    ["address.locality", d.locality, addr.locality], ["address.postal_code", d.postal_code, addr.postal_code],
    ["address.country", d.country, addr.country], ["previous_id_number", d.document_number, identity.previous_id_number],
    ["phone", d.phone, identity.phone],
  ]) {
    if (s(signed) !== s(got)) return `identity.json ${name} differs from the signed statement`;
  }
  const lines = d.address_lines || [], got = addr.lines || [];
  if (lines.length !== got.length || lines.some((l, i) => l !== got[i])) return "identity.json address.lines differs from the signed statement";
  let at = s(c.captured_at);
  if (at === "" || at === "0001-01-01T00:00:00Z") at = s(st.created_at);
  const sameInstant = (a, b) => { try { return new Date(a).getTime() === new Date(b).getTime() && instantNs(a) === instantNs(b); } catch { return false; } };
  if (st.captured_by !== capture.operator) return "capture.json operator differs from the signed statement";
  if (s(c.profile_id) !== capture.camera_profile) return "capture.json camera_profile differs from the signed statement";
  if ((c.attempts || 0) !== capture.retries) return "capture.json retries differs from the signed statement";
  if (s((c.extra || {}).forced_reason) !== capture.forced_reason) return "capture.json forced_reason differs from the signed statement";
  if (!sameInstant(at, capture.captured_at)) return "capture.json captured_at differs from the signed statement";
  return null;
}
// instantNs is the sub-second part of an RFC 3339 time in nanoseconds (Date keeps ms).
function instantNs(t) {
  const m = String(t).match(/\.(\d{1,9})/);
  return m ? m[1].padEnd(9, "0") : "000000000";
}

// validOperator: supervisor and operator IDs (at most 64 bytes, no control characters
// or '/', no space at either end); free text: printable, at most 200 bytes.
const validOperator = (x) => Buffer.byteLength(x) <= 64 && /^[^\x00-\x20\x7F/]([^\x00-\x1F\x7F/]*[^\x00-\x20\x7F/])?$/u.test(x);
const validText = (x) => Buffer.byteLength(x) <= 200 && /^[^\x00-\x1F\x7F]*$/u.test(x);
const timeNs = (t) => { const m = t.match(rfc3339); return BigInt(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) * 1000000n + BigInt((m[7] || ".").slice(1).padEnd(9, "0")); };

// checkRoster checks the format-2 roster (docs: the station-certified supervisor keys)
// and returns its entries by key ID.
function checkRoster(entries, stationID, stationPoint) {
  const keys = new Map();
  entries.forEach((j, i) => {
    const bad = (what) => new Fail("bad-roster", `manifest: roster entry ${i}: ${what}`);
    if (!validOperator(j.supervisor_id)) throw new Fail("bad-id", `manifest: roster entry ${i}: supervisor ID`);
    if (!validText(j.display_name) || !validText(j.reason)) throw bad("display name or reason is not printable text of at most 200 bytes");
    if (!hex64.test(j.key_id) || (j.replaced_by !== "" && !hex64.test(j.replaced_by))) throw new Fail("bad-hex", `manifest: roster entry ${i}: key ID`);
    const der = b64(j.public_key);
    if (j.key_id !== hex(sha256(der))) throw bad("key_id is not the SHA-256 of public_key");
    const point = p256FromSPKI(der);
    if (!point) throw bad("public key is not a P-256 key");
    if (keys.has(j.key_id)) throw bad("key listed twice");
    if (!validTime(j.created)) throw new Fail("bad-time", `manifest: roster entry ${i}: created`);
    if (j.status === "active") {
      if (j.ended_at !== "" || j.replaced_by !== "") throw bad("an active key has no ended_at or replaced_by");
    } else if (j.status === "replaced" || j.status === "revoked") {
      if (!validTime(j.ended_at)) throw new Fail("bad-time", `manifest: roster entry ${i}: ended_at`);
      if (timeNs(j.ended_at) < timeNs(j.created)) throw bad("ended before it was created");
      if ((j.status === "replaced") !== (j.replaced_by !== "")) throw bad("replaced_by is set exactly when the key was replaced");
    } else {
      throw bad("status is not active, replaced or revoked");
    }
    const { certification, ...rest } = j;
    const input = enc.encode(canonicalize({ context: "enrollstation roster entry v1", station_id: stationID, ...rest }));
    if (!verifyDER(stationPoint, sha256(input), b64(certification))) throw new Fail("bad-signature", `roster entry ${i} (${j.key_id.slice(0, 16)})`);
    keys.set(j.key_id, { ...j, der, point });
  });
  const active = new Set();
  for (const k of keys.values()) {
    if (k.replaced_by !== "") {
      const s = keys.get(k.replaced_by);
      if (!s || s.supervisor_id !== k.supervisor_id) throw new Fail("bad-roster", "manifest: roster: a key is replaced by a key not in the roster for the same supervisor");
    }
    if (k.status === "active") {
      if (active.has(k.supervisor_id)) throw new Fail("bad-roster", "manifest: roster: two active keys for one supervisor");
      active.add(k.supervisor_id);
    }
  }
  return keys;
}

function checkIssuerKeyChanges(changes, issuerKeyID) {
  changes.forEach((c, i) => {
    const bad = (what) => new Fail("bad-issuer-key-change", `manifest: issuer key change ${i}: ${what}`);
    if (!hex64.test(c.key_id) || (c.previous_key_id !== "" && !hex64.test(c.previous_key_id))) throw new Fail("bad-hex", `manifest: issuer key change ${i}: key ID`);
    if (!validTime(c.changed_at)) throw new Fail("bad-time", `manifest: issuer key change ${i}: changed_at`);
    if (c.approved_by.some((a) => !validOperator(a))) throw new Fail("bad-id", `manifest: issuer key change ${i}: approved_by`);
    if (!validText(c.reason)) throw bad("reason is not printable text of at most 200 bytes");
    if (i > 0) {
      const p = changes[i - 1];
      if ((c.previous_key_id || "0".repeat(64)) !== p.key_id || timeNs(c.changed_at) < timeNs(p.changed_at)) throw bad("does not follow the change before it");
    }
  });
  if (changes.length > 0 && changes[changes.length - 1].key_id !== issuerKeyID) {
    throw new Fail("bad-issuer-key-change", `manifest: issuer key change ${changes.length - 1}: the last change names another key than the bundle is encrypted to`);
  }
}

// checkApprovalV2: the signature under the roster key the approval names, then the
// statement: this station, that key and supervisor, this record, made while the key served.
function checkApprovalV2(id, a, stmtBytes, identity, capture, hashes, ctx) {
  const what = `approval of record ${id}`;
  const k = ctx.roster.get(a.supervisor_key_id);
  if (!k || k.supervisor_id !== a.supervisor_id) throw new Fail("unregistered-key", `${what}: the approval key is not in the station's roster for this supervisor`);
  if (!verifyDER(k.point, sha256(stmtBytes), b64(a.signature))) throw new Fail("bad-signature", what);
  let st;
  try {
    st = parseSigned(stmtBytes, shapes.statement2);
  } catch (e) {
    throw new Fail(e.code || "bad-signature", `${what}: ${e.message}`);
  }
  const hexOK = [st.station_id, st.supervisor_key_id, st.portrait_sha256, st.template_sha256, st.quality_sha256].every((h) => hex64.test(h));
  if (st.type !== "enrollstation-approval-v2" || !hexOK || ![st.approved_at, st.created_at, st.capture.captured_at].every(validTime)) {
    throw new Fail("bad-signature", `${what}: not a valid approval statement`);
  }
  const mismatch = (m) => new Fail("statement-mismatch", `${what}: ${m}`);
  if (st.station_id !== ctx.stationID) throw new Fail("approval-station", `${what}: the signed statement names another station`);
  if (st.supervisor_key_id !== a.supervisor_key_id || st.supervisor !== a.supervisor_id || st.approved_at !== a.signed_at) {
    throw mismatch("supervisor, key or time differ from the signed statement");
  }
  if (k.status !== "active" && !(timeNs(a.signed_at) < timeNs(k.ended_at))) {
    throw new Fail(k.status === "revoked" ? "key-revoked" : "key-replaced", `${what}: approved with a key ${k.status} at ${k.ended_at}`);
  }
  if (timeNs(a.signed_at) < timeNs(k.created)) throw new Fail("unregistered-key", `${what}: approved before the key was registered`);
  const s = (x) => (x === undefined ? "" : x);
  const addr = identity.address || {};
  if (st.enrollment_id !== id) throw mismatch("the signed statement names another enrollment");
  if (st.portrait_sha256 !== hex(hashes[1])) throw mismatch("the signed statement names another portrait.jpg");
  if (st.template_sha256 !== hex(hashes[2])) throw mismatch("the signed statement names another template.bin");
  const d = st.demographics;
  for (const [name, signed, got] of [
    ["application_number", st.application_number, identity.application_number],
    ["family_name", d.surname, identity.family_name], ["given_names", d.given_names, identity.given_names],
    ["date_of_birth", d.date_of_birth, identity.date_of_birth], ["sex", d.sex, identity.sex],
    ["nationality", d.nationality, identity.nationality], ["place_of_birth", d.place_of_birth, identity.place_of_birth],
    ["address.locality", d.locality, addr.locality], ["address.postal_code", d.postal_code, addr.postal_code],
    ["address.country", d.country, addr.country], ["previous_id_number", d.document_number, identity.previous_id_number],
    ["phone", d.phone, identity.phone],
  ]) {
    if (signed !== s(got)) throw mismatch(`identity.json ${name} differs from the signed statement`);
  }
  const lines = addr.lines || [];
  if (d.address_lines.length !== lines.length || d.address_lines.some((l, i) => l !== lines[i])) throw mismatch("identity.json address.lines differs from the signed statement");
  const c = st.capture;
  if (st.captured_by !== capture.operator) throw mismatch("capture.json operator differs from the signed statement");
  if (c.profile_id !== capture.camera_profile) throw mismatch("capture.json camera_profile differs from the signed statement");
  if (c.attempts !== capture.retries) throw mismatch("capture.json retries differs from the signed statement");
  if (c.forced_reason !== capture.forced_reason) throw mismatch("capture.json forced_reason differs from the signed statement");
  if (c.captured_at !== capture.captured_at) throw mismatch("capture.json captured_at differs from the signed statement");
  return k.der;
}

function checkRecord(rec, mem, station, ctx) {
  const id = rec.enrollment_id;
  const hashes = mem.map((m) => sha256(m));
  rec.members.forEach((mb, j) => {
    if (hex(hashes[j]) !== mb.sha256) throw new Fail("tampered", `records/${id}/${mb.name}: SHA-256 differs from the manifest`);
  });
  validateIdentity(id, mem[0]);
  const identity = signedJSON(mem[0], "any", `record ${id}: identity.json`);
  if (ctx.ver >= 2 && identity.schema_version !== 2) throw new Fail("schema", `record ${id}: identity data does not match the schema at "/schema_version": const`);
  signedJSON(mem[3], shapes.quality, `record ${id}: quality.json`);
  const capture = signedJSON(mem[4], shapes.capture, `record ${id}: capture.json`);
  if (!validTime(capture.captured_at)) throw new Fail("bad-time", `record ${id}: capture.json: captured_at`);
  if (ctx.ver >= 2) {
    const a = signedJSON(mem[5], shapes.approval2, `record ${id}: approval.json`);
    if (a.algorithm !== "ES256-DER/statement-v2") throw new Fail("unsupported", `record ${id}: approval algorithm ${JSON.stringify(a.algorithm)}`);
    if (!validOperator(a.supervisor_id)) throw new Fail("bad-id", `record ${id}: approval.json: supervisor_id`);
    if (!hex64.test(a.supervisor_key_id)) throw new Fail("bad-hex", `record ${id}: approval.json: supervisor_key_id`);
    if (!ctx.roster.has(a.supervisor_key_id)) throw new Fail("unregistered-key", `approval of record ${id}: the approval key is not in the station's roster`);
    if (!validTime(a.signed_at)) throw new Fail("bad-time", `record ${id}: approval.json: signed_at`);
    const stmt = b64(a.statement);
    if (stmt.length === 0) throw new Fail("statement-mismatch", `approval of record ${id}: format 2 approvals sign a statement`);
    const keyDER = checkApprovalV2(id, a, stmt, identity, capture, hashes, ctx);
    checkRegistered(station, keyDER, id, a.supervisor_id);
    return;
  }
  const a = signedJSON(mem[5], shapes.approval, `record ${id}: approval.json`);
  const stmtAlg = "ES256-DER/statement-v1";
  if (a.algorithm !== "ES256-DER/approval-digest-v1" && a.algorithm !== stmtAlg) {
    throw new Fail("unsupported", `record ${id}: approval algorithm ${JSON.stringify(a.algorithm)}`);
  }
  const stmt = a.statement === undefined ? new Uint8Array(0) : b64(a.statement);
  if ((a.algorithm === stmtAlg) !== (stmt.length > 0)) throw new Fail("malformed", `record ${id}: approval.json: algorithm and statement disagree`);
  if (!validTime(a.signed_at)) throw new Fail("bad-time", `record ${id}: approval.json: signed_at`);
  const what = `approval of record ${id}`;
  const keyDER = b64(a.supervisor_public_key);
  const point = p256FromSPKI(keyDER);
  if (!point) throw new Fail("bad-signature", `${what}: the supervisor key is not a P-256 key`);
  const sig = b64(a.signature);
  if (stmt.length > 0) {
    if (!verifyDER(point, sha256(stmt), sig)) throw new Fail("bad-signature", what);
    const diff = checkStatement(stmt, id, identity, capture, hashes);
    if (diff) throw new Fail("statement-mismatch", `${what}: ${diff}`);
  } else if (!verifyDER(point, approvalDigest(rec, hashes), sig)) {
    throw new Fail("bad-signature", what);
  }
  checkRegistered(station, keyDER, id, a.supervisor_id);
}

// checkRegistered: with a station registration, approvals must be signed by a key the
// station's TPM certified at registration (docs "Station registration").
function checkRegistered(station, keyDER, id, supervisor) {
  if (station.registration && !station.registration.supervisor_keys.some((k) => eq(b64(k.key), keyDER))) {
    throw new Fail("unregistered-key", `approval of record ${id} (supervisor ${JSON.stringify(supervisor)}): approval key not registered for this station`);
  }
}

// ---- The bundle --------------------------------------------------------------------

async function verify(file, issuer, station, opts) {
  const buf = new Uint8Array(fs.readFileSync(file));
  if (buf.length < 14) throw new Fail("truncated", "bundle ends inside the preamble");
  if (Buffer.from(buf.slice(0, 8)).toString("latin1") !== "ESBUNDLE") throw new Fail("malformed", "not a bundle (bad magic)");
  const ver = (buf[8] << 8) | buf[9];
  const vi = versions[ver];
  if (!vi) throw new Fail("unsupported", `bundle format version ${ver}; this verifier reads versions 1 and 2`);
  const hl = u32(buf, 10);
  if (hl === 0 || hl > 16384) throw new Fail("too-large", `header length ${hl} (limit 16384)`);
  if (buf.length < 14 + hl) throw new Fail("truncated", "bundle ends inside the header");
  const signedHeader = buf.slice(14, 14 + hl);
  const hm = sign1(signedHeader, "application/vnd.enrollstation.bundle-header+json", "outer header");
  if (!verifySign1(hm, station.point)) {
    if (hm.kid instanceof Uint8Array && hm.kid.length === 32 && !eq(hm.kid, station.id)) {
      throw new Fail("wrong-station", `bundle is from station ${hex(hm.kid)}, the station key given is ${hex(station.id)}`);
    }
    throw new Fail("bad-signature", "outer header");
  }
  const h = signedJSON(hm.payload, shapes.header, "header");
  if (h.format !== vi.header) throw new Fail("unsupported", `header format ${JSON.stringify(h.format)}`);
  if (h.station_id !== hex(station.id)) throw new Fail("wrong-station", `header names station ${h.station_id}`);
  if (h.kem !== 0x647a || h.kdf !== 1 || h.aead !== 2) throw new Fail("unsupported", `HPKE suite ${h.kem}/${h.kdf}/${h.aead}`);
  if (h.plaintext_length > 2 ** 40) throw new Fail("too-large", `payload of ${h.plaintext_length} bytes`);
  if (h.chunk_size !== chunkSize || h.plaintext_length < 4 || h.ciphertext_length !== sealedLength(h.plaintext_length)) {
    throw new Fail("malformed", "header: inconsistent lengths");
  }
  if (!validID.test(h.bundle_id)) throw new Fail("bad-id", "header: bundle ID");
  if (!validTime(h.created)) throw new Fail("bad-time", "header: created");
  if (!hex64.test(h.station_id) || !hex64.test(h.issuer_key_id)) throw new Fail("bad-hex", "header: station or issuer key ID");
  if (h.issuer_key_id !== hex(issuer.id)) throw new Fail("wrong-issuer", `bundle is encrypted to issuer key ${h.issuer_key_id}, this key is ${fingerprint(issuer.id)}`);

  const C = h.ciphertext_length;
  const ctStart = 14 + hl;
  const headerHash = sha256(signedHeader);
  const suite = new CipherSuite({ kem: new XWing(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
  let rcp;
  try {
    rcp = await suite.createRecipientContext({ recipientKey: issuer.privateKey, enc: b64(h.enc), info: enc.encode(vi.info) });
  } catch {
    throw new Fail("tampered", "header: encapsulated key rejected");
  }
  // Decrypt chunk by chunk: chunk i has the i-th nonce; the last one is flagged final.
  const nChunks = Math.max(1, Math.ceil(h.plaintext_length / chunkSize));
  const plain = new Uint8Array(h.plaintext_length);
  for (let i = 0, off = ctStart, pOff = 0; i < nChunks; i++) {
    const last = i === nChunks - 1;
    const n = last ? h.plaintext_length - pOff : chunkSize;
    if (buf.length < off + n + 16) throw new Fail("truncated", `bundle ends inside ciphertext chunk ${i}`);
    const aad = concat(headerHash, Uint8Array.of(last ? 1 : 0));
    let pt;
    try {
      pt = new Uint8Array(await rcp.open(buf.slice(off, off + n + 16), aad));
    } catch {
      throw new Fail("tampered", `ciphertext chunk ${i}: authentication failed`);
    }
    plain.set(pt, pOff);
    off += n + 16;
    pOff += n;
  }

  // Manifest.
  const ml = u32(plain, 0);
  if (ml > 16 << 20 || ml > h.plaintext_length - 4) throw new Fail("too-large", `manifest is ${ml} bytes`);
  const mm = sign1(plain.slice(4, 4 + ml), "application/vnd.enrollstation.bundle-manifest+json", "manifest");
  if (!verifySign1(mm, station.point)) throw new Fail("bad-signature", "manifest");
  const v2 = ver >= 2;
  const manifestShape = v2 ? { ...shapes.manifest, "roster?": "any", "issuer_key_changes?": "any" } : shapes.manifest;
  const m = signedJSON(mm.payload, manifestShape, "manifest");
  if (v2) {
    // Present exactly in format 2; absent in format 1 (the format-1 shape refuses them).
    if (!("roster" in m) || !("issuer_key_changes" in m)) throw new Fail("json-missing-field", "manifest: roster and issuer_key_changes are present exactly in format 2");
    try {
      checkShape(m.roster, ["array", shapes.roster], "/roster");
      checkShape(m.issuer_key_changes, ["array", shapes.issuerKeyChange], "/issuer_key_changes");
    } catch (e) {
      throw new Fail(e.code, `manifest: ${e.message}`);
    }
  }
  if (m.format !== vi.manifest) throw new Fail("unsupported", `manifest format ${JSON.stringify(m.format)}`);
  if (m.bundle_id !== h.bundle_id || m.station_id !== h.station_id) throw new Fail("tampered", "manifest: bundle or station ID differs from the header");
  if (v2 && m.created !== h.created) throw new Fail("tampered", "manifest: created differs from the header");
  if (!validID.test(m.batch.id) && (m.batch.id !== "" || v2)) throw new Fail("bad-id", "manifest: batch ID");
  for (const id of m.batch.enrollment_ids) if (!validID.test(id)) throw new Fail("bad-id", "manifest: batch enrollment ID");
  if (!/^[0-9]+$/.test(m.seq) || BigInt(m.seq) === 0n || BigInt(m.seq) >= 2n ** 64n) throw new Fail("malformed", `manifest: sequence ${JSON.stringify(m.seq)}`);
  if (m.prev_bundle_sha256 !== "" && !hex64.test(m.prev_bundle_sha256)) throw new Fail("bad-hex", "manifest: previous bundle hash");
  if (!validTime(m.created)) throw new Fail("bad-time", "manifest: created");
  if (m.batch.closed_at !== "" && !validTime(m.batch.closed_at)) throw new Fail("bad-time", "manifest: batch closed_at");
  if (!/^[0-9]+$/.test(m.audit_checkpoint.seq)) throw new Fail("malformed", "manifest: audit sequence");
  let total = 4 + ml;
  const seen = new Set();
  for (const r of m.records) {
    if (!validID.test(r.enrollment_id)) throw new Fail("bad-id", "manifest: enrollment ID");
    if (seen.has(r.enrollment_id)) throw new Fail("malformed", `manifest: enrollment ID ${r.enrollment_id} repeated`);
    seen.add(r.enrollment_id);
    if (r.members.length !== 6) throw new Fail("malformed", `manifest: record ${r.enrollment_id} has ${r.members.length} members`);
    r.members.forEach((mb, j) => {
      if (mb.name !== memberNames[j]) throw new Fail("malformed", `manifest: record ${r.enrollment_id} member ${j} is ${JSON.stringify(mb.name)}`);
      if (!hex64.test(mb.sha256)) throw new Fail("bad-hex", `manifest: record ${r.enrollment_id} member ${mb.name} hash`);
      if (mb.size < 0 || mb.size > 64 << 20) throw new Fail("too-large", `record ${r.enrollment_id} member ${mb.name} is ${mb.size} bytes`);
      total += mb.size;
    });
  }
  if (total !== h.plaintext_length) throw new Fail("tampered", `manifest: members add up to ${total} bytes but the header says ${h.plaintext_length}`);
  const ctx = { ver, stationID: h.station_id, roster: new Map() };
  if (v2) {
    ctx.roster = checkRoster(m.roster, h.station_id, station.point);
    checkIssuerKeyChanges(m.issuer_key_changes, h.issuer_key_id);
  }

  // Sequence, chain, batch completeness.
  if (BigInt(m.seq) <= opts.afterSeq) throw new Fail("replay", `bundle sequence ${m.seq} is not after ${opts.afterSeq}`);
  if (opts.prevHash !== null && m.prev_bundle_sha256 !== opts.prevHash) throw new Fail("chain", `bundle follows ${m.prev_bundle_sha256 || "(none)"}, expected ${opts.prevHash}`);
  const ids = m.batch.enrollment_ids;
  if (ids.length === 0 && seen.size > 0) throw new Fail("batch-mismatch", `the batch lists no enrollments but the bundle has ${seen.size} records`);
  if (new Set(ids).size !== ids.length) throw new Fail("batch-mismatch", "the batch lists an enrollment twice");
  const missing = ids.filter((id) => !seen.has(id));
  if (missing.length) throw new Fail("missing-record", `record(s) ${missing.join(", ")} listed in the batch are missing from the bundle`);
  for (const id of seen) if (!ids.includes(id)) throw new Fail("batch-mismatch", `record ${id} is not in the batch`);

  // Records, in manifest order.
  let off = 4 + ml;
  for (const r of m.records) {
    const mem = r.members.map((mb) => { const b = plain.slice(off, off + mb.size); off += mb.size; return b; });
    checkRecord(r, mem, station, ctx);
  }

  // Trailer.
  const tlOff = ctStart + C;
  if (buf.length < tlOff + 4) throw new Fail("truncated", "bundle ends inside the trailer length");
  const tl = u32(buf, tlOff);
  if (tl === 0 || tl > 4096) throw new Fail("too-large", `trailer length ${tl} (limit 4096)`);
  if (buf.length < tlOff + 4 + tl) throw new Fail("truncated", "bundle ends inside the trailer");
  const tm = sign1(buf.slice(tlOff + 4, tlOff + 4 + tl), "application/vnd.enrollstation.bundle-trailer+json", "trailer");
  if (!verifySign1(tm, station.point)) throw new Fail("bad-signature", "trailer");
  const t = signedJSON(tm.payload, shapes.trailer, "trailer");
  if (t.format !== vi.trailer || t.bundle_id !== h.bundle_id || t.header_sha256 !== hex(headerHash)) throw new Fail("tampered", "trailer does not belong to this header");
  if (t.ciphertext_length !== C || t.body_sha256 !== hex(sha256(buf.slice(0, tlOff)))) throw new Fail("tampered", "ciphertext: SHA-256 of the bundle body differs from the trailer");
  if (buf.length !== tlOff + 4 + tl) throw new Fail("malformed", "data after the trailer");
  return { bundleID: h.bundle_id, seq: m.seq, records: m.records.length };
}

// ---- Command line ------------------------------------------------------------------

function parseArgs(argv) {
  const o = { afterSeq: 0n, prevHash: null, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) throw new Usage(`${a} needs a value`); return argv[++i]; };
    switch (a) {
      case "--issuer-key": o.issuerKey = val(); break;
      case "--station": o.station = val(); break;
      case "--station-key": o.stationKey = val(); break;
      case "--after-seq": { const v = val(); if (!/^[0-9]+$/.test(v)) throw new Usage("--after-seq wants a number"); o.afterSeq = BigInt(v); break; }
      case "--prev-hash": { o.prevHash = val(); if (!hex64.test(o.prevHash)) throw new Usage("--prev-hash wants 64 lowercase hex digits"); break; }
      default:
        if (a.startsWith("--")) throw new Usage(`unknown flag ${a}`);
        o.files.push(a);
    }
  }
  if (!o.issuerKey || !o.station === !o.stationKey || o.files.length !== 1) {
    throw new Usage("usage: verify.js --issuer-key K (--station station.reg | --station-key P) [--after-seq N] [--prev-hash HEX] BUNDLE");
  }
  return o;
}

// Terminal escapes and other control characters never reach the issuer's screen.
const printable = (s) => String(s).replace(/[\x00-\x1f\x7f-\x9f]/g, "?");

async function main() {
  let o, issuer, station;
  try {
    o = parseArgs(process.argv.slice(2));
    issuer = await loadIssuer(o.issuerKey);
    station = loadStation(o.station, o.stationKey);
  } catch (e) {
    console.error(printable(e instanceof Usage ? e.message : `usage: ${e.message}`));
    return 2;
  }
  try {
    await verify(o.files[0], issuer, station, o);
    console.log("OK");
    return 0;
  } catch (e) {
    if (e instanceof Fail) {
      console.log(`FAIL ${e.code}: ${printable(e.message)}`);
      return 1;
    }
    if (e && e.code === "ENOENT") {
      console.error(printable(e.message));
      return 2;
    }
    console.log(`FAIL error: ${printable(e && e.message)}`);
    return 1;
  }
}

process.exitCode = await main();

// node --test: the JSON profile reader (run by the Go test TestJSVerifierAgreesOnVectors too).
import test from "node:test";
import assert from "node:assert/strict";
import { parse, parseSigned, checkShape } from "./strictjson.js";

const b = (s) => new TextEncoder().encode(s);
const code = (f) => { try { f(); return "ok"; } catch (e) { return e.code; } };

test("duplicate names are refused at any depth", () => {
  for (const s of [`{"a":1,"a":2}`, `{"x":{"b":"q","b":"r"}}`, `{"a":[1,{"c":1,"c":2}]}`, `{"a\\u0062":1,"ab":2}`]) {
    assert.equal(code(() => parse(b(s))), "json-duplicate-key", s);
  }
  assert.equal(code(() => parse(b(`{"a":"\\"a","b":[{"a":1},{"a":2}]}`))), "ok");
});

test("invalid UTF-8 and syntax are json-invalid", () => {
  assert.equal(code(() => parse(Uint8Array.of(0x7b, 0xff, 0x7d))), "json-invalid");
  assert.equal(code(() => parse(b(`{"a":}`))), "json-invalid");
});

test("shapes: unknown, missing, wrong type; signed bytes must be canonical", () => {
  const shape = { a: "string", "o?": "int" };
  assert.equal(code(() => checkShape({ a: "x", A: "y" }, shape)), "json-unknown-field");
  assert.equal(code(() => checkShape({}, shape)), "json-missing-field");
  assert.equal(code(() => checkShape({ a: 1 }, shape)), "json-invalid");
  assert.equal(code(() => checkShape({ a: "x", o: 2 }, shape)), "ok");
  assert.equal(code(() => parseSigned(b(`{"a":"x"}`), shape)), "ok");
  assert.equal(code(() => parseSigned(b(`{ "a":"x"}`), shape)), "json-non-canonical");
});

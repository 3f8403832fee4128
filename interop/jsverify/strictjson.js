// Strict JSON reading for the bundle format's JSON profile (docs/bundle-format.md):
// I-JSON (RFC 7493) text, duplicate member names refused, and for signed members the
// exact RFC 8785 canonical form. JSON.parse keeps the last of duplicate names, so the
// text is first scanned for them here.
import canonicalize from "canonicalize";

export class JSONProfileError extends Error {
  constructor(code, where) {
    super(where ? `${code} at ${JSON.stringify(where)}` : code);
    this.code = code;
  }
}

// findDuplicate scans JSON text (already known to parse) and returns the JSON Pointer of
// the first object member whose name repeats in its object, or null.
function findDuplicate(text) {
  let i = 0;
  const ws = () => { while (i < text.length && " \t\n\r".includes(text[i])) i++; };
  const str = () => {
    const start = i;
    i++; // opening quote
    while (text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i));
  };
  const value = (ptr) => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const names = new Set();
      ws();
      if (text[i] === "}") { i++; return null; }
      for (;;) {
        ws();
        const name = str();
        const p = ptr + "/" + name.replace(/~/g, "~0").replace(/\//g, "~1");
        if (names.has(name)) return p;
        names.add(name);
        ws(); i++; // colon
        const d = value(p);
        if (d) return d;
        ws();
        if (text[i++] === "}") return null; // else a comma
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") { i++; return null; }
      for (let n = 0; ; n++) {
        const d = value(ptr + "/" + n);
        if (d) return d;
        ws();
        if (text[i++] === "]") return null;
      }
    }
    if (c === '"') { str(); return null; }
    while (i < text.length && !",]} \t\n\r".includes(text[i])) i++; // number, true, false, null
    return null;
  };
  return value("");
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

// parse reads bytes under the profile: valid UTF-8, valid JSON, no duplicate names.
export function parse(bytes) {
  let text;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new JSONProfileError("json-invalid", "");
  }
  let v;
  try {
    v = JSON.parse(text);
  } catch {
    throw new JSONProfileError("json-invalid", "");
  }
  const dup = findDuplicate(text);
  if (dup !== null) throw new JSONProfileError("json-duplicate-key", dup);
  return v;
}

// checkShape checks v against a shape: "string", "int", "bool", "b64", "b64|null",
// ["array", shape], or an object {name: shape} whose members must all be present and no
// others. Types that differ are json-invalid, unknown members json-unknown-field, absent
// ones json-missing-field.
export function checkShape(v, shape, where = "") {
  const bad = (code) => { throw new JSONProfileError(code, where); };
  if (typeof shape === "string") {
    switch (shape) {
      case "string": if (typeof v !== "string") bad(v === null ? "json-missing-field" : "json-invalid"); return;
      case "int": if (!Number.isInteger(v)) bad(v === null ? "json-missing-field" : "json-invalid"); return;
      case "bool": if (typeof v !== "boolean") bad("json-invalid"); return;
      case "b64|null": if (v === null) return; // fall through
      case "b64":
        if (typeof v !== "string" || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(v)) bad(v === null ? "json-missing-field" : "json-invalid");
        return;
      case "any": return;
    }
    throw new Error("bad shape " + shape);
  }
  if (Array.isArray(shape)) {
    if (v === null) bad("json-missing-field");
    if (!Array.isArray(v)) bad("json-invalid");
    v.forEach((x, n) => checkShape(x, shape[1], where + "/" + n));
    return;
  }
  if (v === null) bad("json-missing-field");
  if (typeof v !== "object" || Array.isArray(v)) bad("json-invalid");
  for (const k of Object.keys(v)) {
    if (!(k in shape) && !(k + "?" in shape)) throw new JSONProfileError("json-unknown-field", where + "/" + k);
  }
  for (const [key, s] of Object.entries(shape)) {
    const optional = key.endsWith("?");
    const k = optional ? key.slice(0, -1) : key;
    if (!(k in v)) {
      if (optional) continue;
      throw new JSONProfileError("json-missing-field", where + "/" + k);
    }
    checkShape(v[k], s, where + "/" + k);
  }
}

// parseSigned reads signed bytes: parse, then the shape, then canonical form, the order
// in which the reference reader reports them.
export function parseSigned(bytes, shape) {
  const v = parse(bytes);
  checkShape(v, shape);
  const canon = canonicalize(v);
  if (canon !== utf8.decode(bytes)) throw new JSONProfileError("json-non-canonical", "");
  return v;
}

export { canonicalize };

/**
 * Pulumi's property values as they cross the provider protocol: plain JSON inside a
 * google.protobuf.Struct, with two special forms the engine uses in-band. A secret is an object
 * carrying the signature key; a value not known yet (preview) is a sentinel string.
 */

/** The engine's marker for a value that is not known until the resource it comes from exists. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };
export type Props = Record<string, Value>;

export function isUnknown(v: unknown): boolean {
  return v === UNKNOWN;
}

/** True when the value, or anything inside it, is not known yet. */
export function containsUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (v && typeof v === "object") return Object.values(v).some(containsUnknown);
  return false;
}

function isSecret(v: unknown): v is { value: Value } {
  return !!v && typeof v === "object" && !Array.isArray(v) && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

export function secret(value: Value): Value {
  return { [SIG_KEY]: SECRET_SIG, value };
}

/** Strips secret wrappers, returning the plain value and whether any secret was inside. */
export function reveal(v: Value): { value: Value; secret: boolean } {
  if (isSecret(v)) return { value: reveal(v.value ?? null).value, secret: true };
  if (Array.isArray(v)) {
    let s = false;
    const value = v.map((e) => {
      const r = reveal(e);
      s ||= r.secret;
      return r.value;
    });
    return { value, secret: s };
  }
  if (v && typeof v === "object") {
    let s = false;
    const value: Record<string, Value> = {};
    for (const [k, e] of Object.entries(v)) {
      const r = reveal(e);
      s ||= r.secret;
      value[k] = r.value;
    }
    return { value, secret: s };
  }
  return { value: v, secret: false };
}

/** Plain top-level properties and the names of those that held a secret. */
export function revealProps(props: Props): { plain: Props; secretKeys: Set<string> } {
  const plain: Props = {};
  const secretKeys = new Set<string>();
  for (const [k, v] of Object.entries(props)) {
    const r = reveal(v);
    plain[k] = r.value;
    if (r.secret) secretKeys.add(k);
  }
  return { plain, secretKeys };
}

/** Wraps the named top-level properties as secrets. */
export function concealProps(props: Props, keys: Iterable<string>): Props {
  const out: Props = { ...props };
  for (const k of keys) if (k in out && out[k] !== undefined) out[k] = secret(out[k]!);
  return out;
}

/** Deep structural equality of plain values (object key order does not matter). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((e, i) => deepEqual(e, b[i]));
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

/** Drops `undefined` members so a Struct can carry the object. */
export function compact(props: Record<string, Value | undefined>): Props {
  const out: Props = {};
  for (const [k, v] of Object.entries(props)) if (v !== undefined) out[k] = v;
  return out;
}

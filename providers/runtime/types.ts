/**
 * Property types in the vocabulary of a Pulumi package schema. Each stand-in declares the inputs
 * and outputs it implements with these; Check validates against them, and the conformance tests
 * compare them with the real provider's schema (`../shared/provider-schemas`).
 */
import type { CheckFailure } from "./definition";
import { containsUnknown, type Value } from "./properties";

export type TypeSpec =
  /** `pulumi.json#/Any`: any value. */
  | "any"
  | "string"
  | "integer"
  | "number"
  | "boolean"
  | { array: TypeSpec }
  | { map: TypeSpec }
  | { object: Record<string, TypeSpec>; required?: readonly string[] };

export type PropertyTypes = Record<string, TypeSpec>;

/** Type failures of one value, with its property path. Unknown values (preview) pass. */
export function typeFailures(path: string, v: Value | undefined, t: TypeSpec): CheckFailure[] {
  if (v === undefined || v === null || containsUnknown(v) && !Array.isArray(v) && typeof v !== "object") return [];
  if (t === "any") return [];
  const fail = (what: string): CheckFailure[] => [{ property: path, reason: `${path} must be ${what}, got ${JSON.stringify(v)}` }];
  if (t === "string") return typeof v === "string" ? [] : fail("a string");
  if (t === "boolean") return typeof v === "boolean" ? [] : fail("a boolean");
  if (t === "number") return typeof v === "number" ? [] : fail("a number");
  if (t === "integer") return typeof v === "number" && Number.isInteger(v) ? [] : fail("an integer");
  if ("array" in t) {
    if (!Array.isArray(v)) return fail("a list");
    return v.flatMap((e, i) => typeFailures(`${path}[${i}]`, e, t.array));
  }
  if (typeof v !== "object" || Array.isArray(v)) return fail(`an object`);
  if ("map" in t) return Object.entries(v).flatMap(([k, e]) => typeFailures(`${path}["${k}"]`, e, t.map));
  const out: CheckFailure[] = [];
  for (const [k, e] of Object.entries(v)) {
    const ft = t.object[k];
    if (!ft) {
      if (e !== null && e !== undefined) out.push({ property: `${path}.${k}`, reason: `${path}.${k} is not implemented by this stand-in` });
      continue;
    }
    out.push(...typeFailures(`${path}.${k}`, e, ft));
  }
  for (const r of t.required ?? []) if (v[r] === undefined || v[r] === null) out.push({ property: `${path}.${r}`, reason: `${path}.${r} is required` });
  return out;
}

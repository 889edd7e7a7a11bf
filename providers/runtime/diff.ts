/**
 * Property-by-property diffs from a table of rules, the way the real providers decide: a change to
 * a replacing property replaces, any other change updates in place, and some properties are
 * Optional+Computed, so leaving them out of the program keeps the stored value (no change).
 */
import type { DiffKind, DiffResult } from "./definition";
import { containsUnknown, deepEqual, type Props, type Value } from "./properties";

export interface DiffRules {
  /** The input properties; only these are compared (outputs in the stored state are not inputs). */
  inputs: readonly string[];
  /** Properties whose change forces a replacement (Terraform ForceNew / RequiresReplace). */
  replace: readonly string[];
  /** Optional+Computed properties: absent from the new inputs means "keep what is stored". */
  computed?: readonly string[];
  /** Properties never compared (outputs only, or engine bookkeeping). */
  ignore?: readonly string[];
  /** Per-property equality, for values the provider normalises (set order, case, …). */
  equal?: Partial<Record<string, (a: Value | undefined, b: Value | undefined) => boolean>>;
}

/** Compares `news` against `olds` by the rules. Unknown new values count as changed. */
export function diffByRules(olds: Props, news: Props, rules: DiffRules): DiffResult {
  const keys = new Set([...Object.keys(olds), ...Object.keys(news)].filter((k) => rules.inputs.includes(k)));
  const detailed: Record<string, DiffKind> = {};
  const replaces: string[] = [];
  for (const key of keys) {
    if (rules.ignore?.includes(key) || key.startsWith("__")) continue;
    const o = olds[key] ?? undefined;
    const n = news[key] ?? undefined;
    if (n === undefined && rules.computed?.includes(key)) continue;
    const unknown = n !== undefined && containsUnknown(n);
    const same = !unknown && (rules.equal?.[key] ? rules.equal[key]!(o, n) : deepEqual(normalise(o), normalise(n)));
    if (same) continue;
    const replace = rules.replace.includes(key);
    const base: "add" | "delete" | "update" = o === undefined ? "add" : n === undefined ? "delete" : "update";
    detailed[key] = (replace ? `${base}-replace` : base) as DiffKind;
    if (replace) replaces.push(key);
  }
  return { changes: Object.keys(detailed).length > 0, replaces, detailedDiff: detailed };
}

/** Empty list/map and absent are the same to Terraform. */
function normalise(v: Value | undefined): Value | undefined {
  if (v === null) return undefined;
  if (Array.isArray(v) && v.length === 0) return undefined;
  if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0) return undefined;
  return v;
}

/** Set equality for lists Terraform treats as sets (order and duplicates do not matter). */
export function setEqual(a: Value | undefined, b: Value | undefined): boolean {
  const as = Array.isArray(a) ? a : a == null ? [] : [a];
  const bs = Array.isArray(b) ? b : b == null ? [] : [b];
  const key = (v: Value) => JSON.stringify(sortKeys(v));
  const sa = new Set(as.map(key));
  const sb = new Set(bs.map(key));
  return sa.size === sb.size && [...sa].every((k) => sb.has(k));
}

function sortKeys(v: Value): Value {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k]!)]));
  return v;
}

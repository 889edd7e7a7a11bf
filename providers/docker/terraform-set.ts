/**
 * Terraform sets as the docker provider's state holds them. SDKv2 lists a set's elements in the
 * order of their hash codes compared as decimal strings (`Set.List` → `listCode`), with string
 * elements hashed by `schema.HashString` (CRC-32) and labels by the label name (KD helpers.go
 * `hashLabel`). So `envs` and `labels` come back in hash order, not the program's (SEMANTICS.md §3
 * "envs and labels"), and duplicates collapse.
 */
import type { Value } from "../runtime/properties";

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** `schema.HashString`: CRC-32 (IEEE) of the UTF-8 bytes, as a non-negative int. */
export function hashString(s: string): number {
  let c = 0xffffffff;
  for (const b of Buffer.from(s, "utf8")) c = TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Elements in set order, one per hash code (the last one with a code wins, as in a Go map write). */
export function setOrder<T>(elements: readonly T[], hash: (e: T) => number): T[] {
  const byCode = new Map<string, T>();
  for (const e of elements) byCode.set(String(hash(e)), e);
  return [...byCode.keys()].sort().map((k) => byCode.get(k)!);
}

export type Label = { label: string; value: string };

/** `labels` as a set: ordered and de-duplicated by label name. */
export function labelSet(labels: readonly Label[]): Label[] {
  return setOrder(labels, (l) => hashString(l.label));
}

/** `labelSetToMap`. */
export function labelsToMap(labels: Value | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of (labels ?? []) as Label[]) out[l.label] = l.value;
  return out;
}

/** `mapToLabelSet`. */
export function mapToLabels(m: Record<string, string> | null | undefined): Label[] {
  return labelSet(Object.entries(m ?? {}).map(([label, value]) => ({ label, value })));
}

/** A set of strings (`envs`, `aliases`, `pullTriggers`) in set order. */
export function stringSet(values: readonly string[]): string[] {
  return setOrder(values, hashString);
}

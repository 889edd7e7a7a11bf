/**
 * Every property a stand-in accepts exists in the real provider's schema with the same type, and
 * every output berth reads is an output there. The schemas are the real ones at the pinned tags
 * (`../shared/provider-schemas`), read at test time.
 */
import { describe, expect, it } from "vitest";
import type { TypeSpec } from "../../providers/runtime/types";
import { definition, realSchema, type Schema, type SchemaProperty, STAND_INS } from "./stand-ins";

/** The schema's type in the stand-ins' vocabulary, resolving `$ref`s into object types. */
function fromSchema(schema: Schema, p: SchemaProperty, seen: string[] = []): TypeSpec {
  if (p.$ref === "pulumi.json#/Any") return "any";
  if (p.$ref) {
    const token = p.$ref.replace(/^#\/types\//, "");
    const t = schema.types[token];
    if (!t) throw new Error(`schema has no type ${token}`);
    if (seen.includes(token)) return { object: {} };
    // An enum type (e.g. command's Logging) is its primitive type with a list of values.
    if ((t as { type?: string }).type && (t as { type?: string }).type !== "object") return fromSchema(schema, { type: (t as { type: string }).type }, seen);
    return {
      object: Object.fromEntries(Object.entries(t.properties ?? {}).map(([k, v]) => [k, fromSchema(schema, v, [...seen, token])])),
      required: t.required ?? [],
    };
  }
  switch (p.type) {
    case "array":
      return { array: fromSchema(schema, p.items!, seen) };
    case "object":
      return { map: p.additionalProperties ? fromSchema(schema, p.additionalProperties, seen) : "any" };
    case "string":
    case "integer":
    case "number":
    case "boolean":
      return p.type;
    default:
      throw new Error(`unhandled schema type ${JSON.stringify(p)}`);
  }
}

/** Problems where the stand-in's type is not the schema's (the stand-in may implement fewer object fields). */
function mismatches(path: string, mine: TypeSpec, real: TypeSpec): string[] {
  if (real === "any") return [];
  if (typeof mine === "string" || typeof real === "string") return mine === real ? [] : [`${path}: stand-in ${JSON.stringify(mine)}, schema ${JSON.stringify(real)}`];
  if ("array" in mine && "array" in real) return mismatches(`${path}[]`, mine.array, real.array);
  if ("map" in mine && "map" in real) return mismatches(`${path}{}`, mine.map, real.map);
  if ("object" in mine && "object" in real) {
    const out: string[] = [];
    for (const [k, t] of Object.entries(mine.object)) {
      const r = real.object[k];
      if (!r) out.push(`${path}.${k}: not in the schema`);
      else out.push(...mismatches(`${path}.${k}`, t, r));
    }
    // A field the real provider requires must be required by the stand-in too.
    for (const req of real.required ?? []) if (req in mine.object && !(mine.required ?? []).includes(req)) out.push(`${path}.${req}: required in the schema`);
    return out;
  }
  return [`${path}: stand-in ${JSON.stringify(mine)}, schema ${JSON.stringify(real)}`];
}

/** What berth's components read from each resource (components/*.ts), besides `id` and `urn`. */
const READ_BY_BERTH: Record<string, string[]> = {
  "docker:index/remoteImage:RemoteImage": ["imageId"],
  "docker:index/container:Container": ["name", "ports"],
  "docker:index/network:Network": ["name"],
  "docker:index/volume:Volume": ["name"],
  "random:index/randomPassword:RandomPassword": ["result"],
  "command:remote:Command": ["stdout"],
};

describe.each(STAND_INS.filter((n) => realSchema(n)))("the %s stand-in against the real schema", (name) => {
  it("implements only resource types the real provider has, and every input it accepts has the schema's name and type", async () => {
    const schema = realSchema(name)!;
    const def = await definition(name);
    const problems: string[] = [];
    for (const r of def.resources) {
      const real = schema.resources[r.token];
      if (!real) {
        problems.push(`${r.token}: not a resource of the real provider`);
        continue;
      }
      for (const [prop, mine] of Object.entries(r.inputs)) {
        const p = real.inputProperties?.[prop];
        if (!p) problems.push(`${r.token}.${prop}: not an input of the real provider`);
        else problems.push(...mismatches(`${r.token}.${prop}`, mine, fromSchema(schema, p)).map((m) => `input ${m}`));
      }
      for (const [prop, mine] of Object.entries(r.outputs)) {
        const p = real.properties?.[prop];
        if (!p) problems.push(`${r.token}.${prop}: not an output of the real provider`);
        else problems.push(...mismatches(`${r.token}.${prop}`, mine, fromSchema(schema, p)).map((m) => `output ${m}`));
      }
      // Inputs the real provider requires cannot be left out by the stand-in.
      for (const req of real.requiredInputs ?? []) if (!(req in r.inputs)) problems.push(`${r.token}.${req}: required by the real provider but not implemented`);
    }
    for (const key of def.config.keys) {
      const p = schema.provider.inputProperties?.[key];
      if (!p) problems.push(`provider config ${key}: not a config key of the real provider`);
    }
    expect(problems).toEqual([]);
  });

  it("produces every output berth reads, and the real provider has it as an output", async () => {
    const schema = realSchema(name)!;
    const def = await definition(name);
    for (const [token, props] of Object.entries(READ_BY_BERTH).filter(([t]) => t.startsWith(`${name}:`))) {
      const r = def.resources.find((x) => x.token === token);
      expect(r, `${token} is implemented`).toBeDefined();
      for (const prop of props) {
        expect(Object.keys(schema.resources[token]!.properties ?? {}), `${token}.${prop} is an output of the real provider`).toContain(prop);
        expect([...Object.keys(r!.inputs), ...Object.keys(r!.outputs)], `${token}.${prop} is produced by the stand-in`).toContain(prop);
      }
    }
  });
});

/**
 * The stand-in providers as the tests see them: their definitions (imported) and their launchers
 * (the very `pulumi-resource-<name>` files the engine runs), and the real schemas they answer to.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ProviderDefinition } from "../../providers/runtime/definition";

export const REPO = path.resolve(__dirname, "../..");
/** The real providers' schemas and behaviour facts, read at test time, never copied into the repo. */
export const SCHEMAS = path.resolve(REPO, "../shared/provider-schemas");

export const STAND_INS = ["docker", "command", "random", "cloudflare"] as const;
export type StandInName = (typeof STAND_INS)[number];

/** The provider definition a stand-in's `provider.ts` exports. */
export async function definition(name: StandInName): Promise<ProviderDefinition<unknown>> {
  const mod = (await import(path.join(REPO, "providers", name, "provider.ts"))) as Record<string, unknown>;
  const defs = Object.values(mod).filter(
    (v): v is ProviderDefinition<unknown> => !!v && typeof v === "object" && "resources" in v && "acceptSecrets" in v,
  );
  if (defs.length !== 1) throw new Error(`providers/${name}/provider.ts must export exactly one ProviderDefinition (found ${defs.length})`);
  return defs[0]!;
}

export interface SchemaProperty {
  type?: string;
  items?: SchemaProperty;
  additionalProperties?: SchemaProperty;
  $ref?: string;
  willReplaceOnChanges?: boolean;
}
export interface SchemaObject {
  properties?: Record<string, SchemaProperty>;
  inputProperties?: Record<string, SchemaProperty>;
  required?: string[];
  requiredInputs?: string[];
}
export interface Schema {
  provider: SchemaObject;
  resources: Record<string, SchemaObject>;
  types: Record<string, SchemaObject>;
}

/** The real schema of a provider, where the shared folder has one (cloudflare's is not there). */
export function realSchema(name: StandInName): Schema | undefined {
  const file = fs.readdirSync(SCHEMAS).find((f) => f.startsWith(`${name}-`) && f.endsWith(".schema.json"));
  return file ? (JSON.parse(fs.readFileSync(path.join(SCHEMAS, file), "utf8")) as Schema) : undefined;
}

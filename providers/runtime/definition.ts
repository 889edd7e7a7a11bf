/**
 * What a stand-in provider declares: its identity, its protocol capabilities, its config, and one
 * definition per resource type. The server (`server.ts`) turns this into `pulumirpc.ResourceProvider`.
 */
import type { Props, Value } from "./properties";
import { type PropertyTypes, typeFailures } from "./types";

export interface CheckFailure {
  /** Top-level property (or path) the failure is about. */
  property: string;
  reason: string;
}

export interface CheckResult {
  inputs: Props;
  failures: CheckFailure[];
}

/** How one property differs, in the engine's detailed-diff vocabulary. */
export type DiffKind = "add" | "add-replace" | "delete" | "delete-replace" | "update" | "update-replace";

export interface DiffResult {
  /** Whether anything differs at all (an update or a replace). */
  changes: boolean;
  /** Top-level properties whose change forces a replacement. Empty means an in-place update. */
  replaces: string[];
  /** The provider asks for delete-before-replace (the program's own option still wins). */
  deleteBeforeReplace?: boolean;
  /** Property paths (`envs[2]`, `ports[0].external`) and how each differs. */
  detailedDiff?: Record<string, DiffKind>;
  /** Properties that stay as they are whatever else changes (their outputs stay known in preview). */
  stables?: string[];
}

export type LogSeverity = "debug" | "info" | "warning" | "error";

export interface OperationContext<C> {
  urn: string;
  /** The resource's name (last URN segment). */
  name: string;
  /** The resource type token. */
  type: string;
  /** True during `pulumi preview` (and the preview part of `up`): no side effects allowed. */
  preview: boolean;
  /** Provider configuration, as `Configure` parsed it. */
  config: C;
  /** Sends a message to the engine, attached to this resource. `ephemeral` messages show while running only. */
  log(severity: LogSeverity, message: string, ephemeral?: boolean): Promise<void>;
}

export interface CheckContext {
  urn: string;
  name: string;
  type: string;
  /** Deterministic per resource: the engine's random seed (for auto-naming and the like). */
  randomSeed: Buffer;
  /** The engine's proposed auto-name, when it sends one. */
  autonaming?: { proposedName: string; mode: "propose" | "enforce" | "disable" };
}

/**
 * A resource's behaviour. `olds` in `diff`/`update` is the state (outputs) as last stored; the
 * bridged (Terraform) providers diff the new inputs against that state, native ones against the
 * old inputs, which are passed too.
 */
export interface ResourceDefinition<C> {
  token: string;
  /** Input properties the stand-in implements, with their schema types. Check refuses every other one. */
  inputs: PropertyTypes;
  /** Output-only properties (not inputs) the stand-in produces, with their schema types. */
  outputs: PropertyTypes;
  /** Outputs the real provider always marks secret on its own side. */
  secretOutputs?: readonly string[];
  check(news: Props, olds: Props | undefined, ctx: CheckContext): CheckResult;
  diff(args: { id: string; olds: Props; news: Props; oldInputs: Props }, ctx: OperationContext<C>): DiffResult;
  /** In preview, returns the outputs it can predict, with UNKNOWN for the rest; does nothing. */
  create(inputs: Props, ctx: OperationContext<C>): Promise<{ id: string; outputs: Props }>;
  /** Refresh. `null` means the resource is gone: the engine drops it from state. */
  read(args: { id: string; state: Props; inputs: Props }, ctx: OperationContext<C>): Promise<{ id: string; outputs: Props; inputs: Props } | null>;
  update(args: { id: string; olds: Props; news: Props; oldInputs: Props }, ctx: OperationContext<C>): Promise<Props>;
  delete(args: { id: string; state: Props; oldInputs: Props }, ctx: OperationContext<C>): Promise<void>;
}

export interface ProviderConfigDefinition<C> {
  /** Config keys the stand-in implements (besides `version`, which the SDKs always send). */
  keys: readonly string[];
  check(news: Props): CheckResult;
  diff(olds: Props, news: Props): DiffResult;
  parse(props: Props): C;
}

export interface ProviderDefinition<C> {
  /** Package name, e.g. `docker`. */
  name: string;
  /** The version of the real provider this stands in for. */
  version: string;
  /**
   * Whether the provider takes secrets as such. The engine strips them from what it sends to a
   * provider that does not, and marks outputs secret by name instead (SEMANTICS.md §0).
   */
  acceptSecrets: boolean;
  /** Whether Create/Update are called during preview (with `preview: true`). */
  supportsPreview: boolean;
  config: ProviderConfigDefinition<C>;
  resources: readonly ResourceDefinition<C>[];
}

/**
 * A create that got as far as an ID and then failed: the engine records the resource with init
 * errors (a bridged provider's partial create, SEMANTICS.md §0).
 */
export class InitFailedError extends Error {
  constructor(
    message: string,
    readonly id: string,
    readonly properties: Props,
    readonly reasons: string[] = [message],
  ) {
    super(message);
  }
}

/** Message for a property a stand-in does not implement. */
export function unsupported(provider: string, token: string, property: string): CheckFailure {
  return {
    property,
    reason: `the ${provider} stand-in does not implement ${token}.${property}; remove it, or run with the real provider plugin`,
  };
}

/**
 * Refuses every input not in `allowed` (`__`-prefixed engine keys pass) and every value of the
 * wrong type. Unknown values (preview) pass the type check.
 */
export function refuseUnknownInputs(provider: string, token: string, news: Props, allowed: PropertyTypes | readonly string[]): CheckFailure[] {
  const names = Array.isArray(allowed) ? allowed : Object.keys(allowed);
  const unknown = Object.keys(news)
    .filter((k) => !names.includes(k) && !k.startsWith("__") && news[k] !== null && news[k] !== undefined)
    .map((k) => unsupported(provider, token, k));
  if (Array.isArray(allowed)) return unknown;
  const types = allowed as PropertyTypes;
  return [...unknown, ...Object.entries(news).filter(([k]) => types[k]).flatMap(([k, v]) => typeFailures(k, v, types[k]!))];
}

export type { Props, Value };

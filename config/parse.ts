/**
 * Turns the raw `berth:*` entries of a stack into a typed configuration, or into one error that
 * lists every problem at once, one per line, as `berth:<path>: <what is allowed>`.
 *
 * Pure: the Pulumi-facing loader (`load.ts`) hands in the raw strings and the set of secret keys,
 * so the whole bad-input table is tested without an engine.
 */
import { z } from "zod";
import { BERTH_KEYS, berthConfigSchema, ENV_NAME, type BerthSettings } from "./schema";

/** The keys whose values must be stored encrypted (`pulumi config set --secret`). */
export const SECRET_KEYS = ["secrets", "sshPrivateKey", "registryPassword"] as const;

export interface RawStackConfig {
  /** Stack name, used in the commands the errors suggest. */
  stack: string;
  /** Every config entry of the stack, `namespace:key` → raw string (objects as JSON), as Pulumi hands them over. */
  values: Record<string, string>;
  /** The `namespace:key`s that Pulumi holds as secrets. */
  secretKeys: ReadonlySet<string>;
}

export interface ParsedConfig {
  settings: BerthSettings;
  /** Operator-provided secret values by env name (from `berth:secrets`); still plaintext here, wrapped as secrets by the loader. */
  secrets: Record<string, string>;
  /** `berth:sshPrivateKey`, when set. */
  sshPrivateKey?: string;
}

export class BerthConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.join("\n")}`);
    this.name = "BerthConfigError";
  }
}

/** `["app","env","FOO"]` → `app.env.FOO`; `["site","domains",0]` → `site.domains[0]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, part) => {
    if (typeof part === "number") return `${acc}[${part}]`;
    return acc === "" ? String(part) : `${acc}.${String(part)}`;
  }, "");
}

function issueLines(issue: z.core.$ZodIssue): string[] {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((k) => `berth:${formatPath([...issue.path, k])}: ${issue.message}`);
  }
  if (issue.code === "invalid_key") {
    // zod reports a bad record key generically; the key schema's own message says what is allowed.
    return [`berth:${formatPath(issue.path)}: ${issue.issues[0]?.message ?? issue.message}`];
  }
  return [`berth:${formatPath(issue.path)}: ${issue.message}`];
}

function decode(raw: string): unknown {
  // Pulumi hands objects and arrays over as JSON and scalars as plain text.
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

export function parseStackConfig(raw: RawStackConfig): ParsedConfig {
  const problems: string[] = [];
  const data: Record<string, unknown> = {};
  const secretSet = (key: string) =>
    `pulumi config set --secret berth:${key} <value> --stack ${raw.stack}`;

  for (const [fullKey, value] of Object.entries(raw.values)) {
    if (!fullKey.startsWith("berth:")) continue;
    const key = fullKey.slice("berth:".length);
    if ((SECRET_KEYS as readonly string[]).includes(key)) continue;
    if (!BERTH_KEYS.includes(key)) {
      problems.push(`berth:${key}: unknown key; allowed keys: ${[...BERTH_KEYS, ...SECRET_KEYS].join(", ")}`);
      continue;
    }
    if (raw.secretKeys.has(fullKey)) {
      // A secret here would hide the whole block (and the image tag) from `pulumi preview`.
      problems.push(`berth:${key}: must not be a secret; keep secrets under berth:secrets`);
    }
    data[key] = decode(value);
  }

  const result = berthConfigSchema.safeParse(data, {
    error: (issue) => (issue.code === "invalid_type" && issue.input === undefined ? "required" : undefined),
  });
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(...issueLines(issue));
  }

  // Secrets: present, stored encrypted, and of the right shape.
  let secrets: Record<string, string> = {};
  const secretsRaw = raw.values["berth:secrets"];
  if (secretsRaw !== undefined) {
    if (!raw.secretKeys.has("berth:secrets")) {
      problems.push(
        `berth:secrets: must be stored as a secret: pulumi config rm berth:secrets, then pulumi config set --secret --path 'berth:secrets.<NAME>' <value> --stack ${raw.stack}`,
      );
    }
    const decoded = decode(secretsRaw);
    if (typeof decoded !== "object" || decoded === null || Array.isArray(decoded)) {
      problems.push("berth:secrets: must be a map of NAME: value");
    } else {
      for (const [name, value] of Object.entries(decoded)) {
        if (!ENV_NAME.test(name)) problems.push(`berth:secrets.${name}: must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)`);
        else if (typeof value !== "string") problems.push(`berth:secrets.${name}: must be a string`);
        else if (value.includes("\n") || value.includes("\0")) problems.push(`berth:secrets.${name}: must not contain newlines or NUL`);
      }
      secrets = Object.fromEntries(Object.entries(decoded).filter((e): e is [string, string] => typeof e[1] === "string"));
    }
  }

  const sshPrivateKey = raw.values["berth:sshPrivateKey"];
  if (sshPrivateKey !== undefined && !raw.secretKeys.has("berth:sshPrivateKey")) {
    problems.push(
      `berth:sshPrivateKey: must be stored as a secret: pulumi config set --secret berth:sshPrivateKey < ~/.ssh/id_ed25519 --stack ${raw.stack}`,
    );
  }

  const registryPassword = raw.values["berth:registryPassword"];
  if (registryPassword !== undefined && !raw.secretKeys.has("berth:registryPassword")) {
    problems.push(`berth:registryPassword: must be stored as a secret: ${secretSet("registryPassword")}`);
  }

  if (result.success) {
    const s = result.data;
    if (s.app.registry) {
      if (!s.app.image.startsWith(`${s.app.registry.address}/`)) {
        problems.push(`berth:app.registry.address: must be the registry app.image is pulled from (app.image starts with it and a '/'), got ${s.app.registry.address}`);
      } else if (!/[.:]/.test(s.app.registry.address) && s.app.registry.address !== "localhost") {
        // Docker and the provider read `name/app` as Docker Hub's user `name`: no credentials would be sent.
        problems.push(`berth:app.registry.address: must be a host Docker reads as a registry (with a '.', a ':port', or localhost), got ${s.app.registry.address}`);
      }
      if (registryPassword === undefined) problems.push(`berth:registryPassword: required by app.registry; ${secretSet("registryPassword")}`);
    } else if (registryPassword !== undefined) {
      problems.push("berth:registryPassword: set, but app.registry is not: say which registry and user it is for");
    }
    const wanted: Array<[string, string]> = [
      ...s.app.secretEnv.map((n, i): [string, string] => [n, `app.secretEnv[${i}]`]),
      ...s.services.flatMap((svc, i) => svc.secretEnv.map((n, j): [string, string] => [n, `services[${i}].secretEnv[${j}]`])),
    ];
    for (const [name, from] of wanted) {
      if (!(name in secrets)) {
        problems.push(
          `berth:secrets.${name}: required by ${from}; set it with: pulumi config set --secret --path 'berth:secrets.${name}' <value> --stack ${raw.stack}`,
        );
      }
    }
    if (s.host.hostKey === undefined && s.host.hostKeyFile === undefined) {
      problems.push(
        `berth:host.hostKey: required (or berth:host.hostKeyFile): the server's SSH host key, checked on every connection; get it with: ssh-keyscan -t ed25519 -p ${s.host.sshPort} ${s.host.address}`,
      );
    } else if (s.host.hostKey !== undefined && s.host.hostKeyFile !== undefined) {
      problems.push("berth:host.hostKeyFile: set either berth:host.hostKey or berth:host.hostKeyFile, not both");
    }
    if (!s.host.privateKeyFile && sshPrivateKey === undefined) {
      problems.push(`berth:sshPrivateKey: required unless berth:host.privateKeyFile is set; ${secretSet("sshPrivateKey")}`);
    }
  }

  if (problems.length > 0 || !result.success) throw new BerthConfigError(problems);
  return { settings: result.data, secrets, sshPrivateKey };
}

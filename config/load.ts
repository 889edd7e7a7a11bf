/**
 * The only place that reads Pulumi config. It validates everything before any resource exists and
 * hands the components typed settings plus the secrets already wrapped as `pulumi.secret`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as pulumi from "@pulumi/pulumi";
import { BerthConfigError, parseStackConfig } from "./parse";
import type { BerthSettings } from "./schema";

export interface StackConfig {
  settings: BerthSettings;
  /** Operator-provided secret values by env name. */
  secrets: Record<string, pulumi.Output<string>>;
  /** The SSH private key for the host, from `berth:sshPrivateKey` or `host.privateKeyFile`. */
  sshPrivateKey: pulumi.Output<string>;
}

// `isConfigSecret` is exported by the runtime but left out of its typings.
type RuntimeWithSecrets = { isConfigSecret?: (key: string) => boolean };

function secretKeySet(keys: string[]): Set<string> {
  const isSecret = (pulumi.runtime as unknown as RuntimeWithSecrets).isConfigSecret;
  if (typeof isSecret !== "function") {
    throw new pulumi.RunError("berth: this @pulumi/pulumi cannot tell secret config from plaintext; pin @pulumi/pulumi 3.259.0");
  }
  return new Set(keys.filter((k) => isSecret(k)));
}

function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? os.homedir() + p.slice(1) : p;
}

export function loadStackConfig(): StackConfig {
  const values = pulumi.runtime.allConfig();
  let parsed;
  try {
    parsed = parseStackConfig({ stack: pulumi.getStack(), values, secretKeys: secretKeySet(Object.keys(values)) });
  } catch (e) {
    // RunError prints the message alone, without a stack trace that would bury the list.
    if (e instanceof BerthConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }

  let sshPrivateKey: pulumi.Output<string>;
  const keyFile = parsed.settings.host.privateKeyFile;
  if (keyFile) {
    const path = expandHome(keyFile);
    try {
      sshPrivateKey = pulumi.secret(fs.readFileSync(path, "utf8"));
    } catch (e) {
      throw new pulumi.RunError(`invalid stack configuration (1 problem):\nberth:host.privateKeyFile: cannot read ${path}: ${(e as Error).message}`);
    }
  } else {
    sshPrivateKey = new pulumi.Config("berth").requireSecret("sshPrivateKey");
  }

  const secretBag = new pulumi.Config("berth").getSecretObject<Record<string, string>>("secrets");
  const secrets = Object.fromEntries(
    Object.keys(parsed.secrets).map((name) => [name, pulumi.secret(secretBag!.apply((bag) => bag[name]!))]),
  );
  return { settings: parsed.settings, secrets, sshPrivateKey };
}

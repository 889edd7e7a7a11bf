/**
 * The only place that reads Pulumi config. It validates everything before any resource exists and
 * hands the components typed settings plus the secrets already wrapped as `pulumi.secret`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as pulumi from "@pulumi/pulumi";
import { dockerSshOptions } from "./docker-ssh";
import { BerthConfigError, parseStackConfig } from "./parse";
import { SSH_PUBLIC_KEY, SSH_PUBLIC_KEY_ALLOWED, type BerthSettings } from "./schema";

export interface StackConfig {
  settings: BerthSettings;
  /** Operator-provided secret values by env name. */
  secrets: Record<string, pulumi.Output<string>>;
  /** The SSH private key for the host, from `berth:sshPrivateKey` or `host.privateKeyFile`. */
  sshPrivateKey: pulumi.Output<string>;
  /** The server's SSH host key line, from `host.hostKey` or `host.hostKeyFile`. */
  hostKey: string;
  /** The docker provider's `sshOpts` when Docker is reached over `ssh://`, else undefined. */
  dockerSshOpts?: string[];
  /** `berth:registryPassword`, when `app.registry` is set. */
  registryPassword?: pulumi.Output<string>;
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

/** The server an `ssh://user@host:port` Docker endpoint names, or the host's own address and port. */
function sshEndpoint(dockerHost: string | undefined, address: string, sshPort: number): { address: string; port: number } {
  if (dockerHost === undefined) return { address, port: sshPort };
  const url = new URL(dockerHost);
  return { address: url.hostname.replace(/^\[|\]$/g, ""), port: url.port ? Number(url.port) : 22 };
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

  const host = parsed.settings.host;
  let hostKey = host.hostKey;
  if (host.hostKeyFile !== undefined) {
    const path = expandHome(host.hostKeyFile);
    let line: string;
    try {
      line = fs.readFileSync(path, "utf8").split("\n")[0]!.trim();
    } catch (e) {
      throw new pulumi.RunError(`invalid stack configuration (1 problem):\nberth:host.hostKeyFile: cannot read ${path}: ${(e as Error).message}`);
    }
    if (!SSH_PUBLIC_KEY.test(line)) throw new pulumi.RunError(`invalid stack configuration (1 problem):\nberth:host.hostKeyFile: ${path} ${SSH_PUBLIC_KEY_ALLOWED}`);
    hostKey = line;
  }

  const dockerOverSsh = host.dockerHost === undefined || host.dockerHost.startsWith("ssh://");
  const dockerSshOpts = dockerOverSsh
    ? dockerSshOptions({
        ...sshEndpoint(host.dockerHost, host.address, host.sshPort),
        hostKey: hostKey!,
        privateKeyFile: keyFile ? expandHome(keyFile) : undefined,
        privateKey: parsed.sshPrivateKey,
      })
    : undefined;

  const secretBag = new pulumi.Config("berth").getSecretObject<Record<string, string>>("secrets");
  const secrets = Object.fromEntries(
    Object.keys(parsed.secrets).map((name) => [name, pulumi.secret(secretBag!.apply((bag) => bag[name]!))]),
  );
  const registryPassword = parsed.settings.app.registry ? new pulumi.Config("berth").requireSecret("registryPassword") : undefined;
  return { settings: parsed.settings, secrets, sshPrivateKey, hostKey: hostKey!, dockerSshOpts, registryPassword };
}

/**
 * The docker stand-in (pulumi-docker 5.0.0, a Terraform bridge over kreuzwerker/docker v4.2.0).
 *
 * Protocol (SEMANTICS.md §0): the real plugin has no Handshake and its Configure response does not
 * accept secrets, so `acceptSecrets: false` (the engine strips secrets and re-marks outputs by
 * name); it supports preview.
 *
 * Provider config (§1, KD:internal/provider/provider.go:45-257): `host` defaults to env
 * DOCKER_HOST, else `unix:///var/run/docker.sock`; `context` defaults to env DOCKER_CONTEXT and,
 * when non-empty, overrides `host` with the named context's endpoint from
 * `~/.docker/contexts/meta/<id>/meta.json`; `sshOpts` defaults to `strings.Fields($DOCKER_SSH_OPTS)`.
 * The bridge applies these defaults to an explicit `docker.Provider` too (§11). TLS config
 * (`certPath`, `*Material`, and their DOCKER_* env defaults) would switch the ssh helper off in the
 * real provider; the stand-in implements none of it and refuses it. A config change is an
 * in-place provider update, never a replace (§0 "Provider config changes").
 *
 * `registryAuth` (KD provider.go:104-162, 239-244, 303-447; `registry-auth.ts`): a set of
 * `{address, username, password, configFile, configFileContent, authDisabled}` blocks, checked like
 * SDKv2 checks it (address required and not empty) and parsed at Configure into credentials filed
 * under each address's hostname (`https://` added to the address unless it has a scheme; a
 * username wins over `configFileContent`, which wins over `configFile`; env DOCKER_REGISTRY_USER,
 * DOCKER_REGISTRY_PASS and DOCKER_CONFIG give the defaults). A pull sends the credentials filed
 * under the image's registry (`127.0.0.1:5000/x` → `127.0.0.1:5000`, `ghcr.io/x` → `ghcr.io`,
 * `nginx` → `registry-1.docker.io`), else none (KD resource_docker_image_funcs.go:249-265, 294-341).
 * CheckConfig hands `registryAuth` back secret when a block has a password (the bridge marks the
 * schema's sensitive fields, TB:pkg/tfbridge/provider.go:573-575). A parse failure fails Configure
 * as the bridge reports it (`1 error occurred: * Error loading registry auth config: …`).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type CheckFailure, type ProviderDefinition, unsupported } from "../runtime/definition";
import { diffByRules } from "../runtime/diff";
import { containsUnknown, type Props, secret, type Value } from "../runtime/properties";
import { tfErrorText } from "./bridge";
import type { DockerConfig } from "./connection";
import { container } from "./container";
import { network } from "./network";
import { checkRegistryAuth, decodeRegistryAuth, parseRegistryAuth } from "./registry-auth";
import { remoteImage } from "./remote-image";
import { volume } from "./volume";

/** Config keys the stand-in implements (the SDK also sends `version`). */
const KEYS = ["host", "sshOpts", "context", "disableDockerDaemonCheck", "registryAuth"] as const;

/** Env defaults of the TLS settings the stand-in does not implement (KD provider.go:80-99). */
const TLS_ENV = ["DOCKER_CERT_PATH", "DOCKER_CA_MATERIAL", "DOCKER_CERT_MATERIAL", "DOCKER_KEY_MATERIAL"] as const;

/**
 * The Node SDK JSON-encodes non-string config (`sshOpts` → `"[\"-i\",\"/k\"]"`,
 * `disableDockerDaemonCheck` → `"true"`); stack config arrives the same way. Both forms are accepted.
 */
function decode(v: Value | undefined): Value | undefined {
  if (typeof v !== "string" || containsUnknown(v)) return v ?? undefined;
  try {
    return JSON.parse(v) as Value;
  } catch {
    return v;
  }
}

function sshOptsOf(v: Value | undefined): string[] | undefined {
  const d = decode(v);
  if (d === undefined || d === null) return undefined;
  if (!Array.isArray(d) || !d.every((e) => typeof e === "string")) throw new Error(`sshOpts must be a list of strings, got ${JSON.stringify(v)}`);
  return d as string[];
}

function boolOf(key: string, v: Value | undefined): boolean | undefined {
  const d = decode(v);
  if (d === undefined || d === null) return undefined;
  if (typeof d !== "boolean") throw new Error(`${key} must be a boolean, got ${JSON.stringify(v)}`);
  return d;
}

/** KD getContextHost: the `docker` endpoint of the context whose meta.json has that Name. */
export function contextHost(contextName: string, homedir: string): string {
  const dir = `${homedir}/.docker/contexts/meta`;
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch (e) {
    // Go's os.ReadDir wording (`open <dir>: no such file or directory`).
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (e as Error).message;
    throw new Error(`Error loading Docker context '${contextName}': could not read contexts directory: open ${dir}: ${why}`);
  }
  for (const entry of entries) {
    try {
      const meta = JSON.parse(fs.readFileSync(path.join(dir, entry, "meta.json"), "utf8")) as {
        Name?: string;
        Endpoints?: Record<string, { Host?: string }>;
      };
      if (meta.Name === contextName && meta.Endpoints?.docker) return meta.Endpoints.docker.Host ?? "";
    } catch {
      // KD skips unreadable or unparsable meta files
    }
  }
  throw new Error(`Error loading Docker context '${contextName}': context '${contextName}' not found`);
}

/** The effective config, as KD's `configure` computes it from the (defaulted) provider schema. */
export function parseConfig(props: Props, env: NodeJS.ProcessEnv = process.env): DockerConfig {
  for (const k of TLS_ENV) {
    if (env[k])
      throw new Error(
        `the docker stand-in does not implement TLS connections, and ${k} is set in the environment (the real provider would use TLS from it instead of the ssh:// helper); unset it, or run with the real provider plugin`,
      );
  }
  const context = (props.context as string | undefined) || env.DOCKER_CONTEXT || "";
  let host = (props.host as string | undefined) || env.DOCKER_HOST || "unix:///var/run/docker.sock";
  if (context !== "") host = contextHost(context, os.userInfo().homedir);
  const sshOpts = sshOptsOf(props.sshOpts) ?? (env.DOCKER_SSH_OPTS ? env.DOCKER_SSH_OPTS.split(/\s+/).filter(Boolean) : []);
  return {
    host,
    sshOpts,
    disableDockerDaemonCheck: boolOf("disableDockerDaemonCheck", props.disableDockerDaemonCheck) ?? false,
    authConfigs: parseRegistryAuth(props.registryAuth, env, os.userInfo().homedir),
  };
}

function checkConfig(news: Props): CheckFailure[] {
  const failures: CheckFailure[] = [];
  for (const k of Object.keys(news)) {
    if (k === "version" || k.startsWith("__") || news[k] === null || news[k] === undefined) continue;
    if (!(KEYS as readonly string[]).includes(k)) failures.push(unsupported("docker", "provider", k));
  }
  const v = (k: string) => news[k];
  for (const k of ["host", "context"]) {
    if (v(k) !== undefined && v(k) !== null && typeof v(k) !== "string") failures.push({ property: k, reason: `${k} must be a string, got ${JSON.stringify(v(k))}` });
  }
  try {
    if (!containsUnknown(v("sshOpts"))) sshOptsOf(v("sshOpts"));
  } catch (e) {
    failures.push({ property: "sshOpts", reason: (e as Error).message });
  }
  try {
    if (!containsUnknown(v("disableDockerDaemonCheck"))) boolOf("disableDockerDaemonCheck", v("disableDockerDaemonCheck"));
  } catch (e) {
    failures.push({ property: "disableDockerDaemonCheck", reason: (e as Error).message });
  }
  failures.push(...checkRegistryAuth(v("registryAuth")));
  return failures;
}

/** The checked config: `registryAuth` secret when any block carries a password (MarkSchemaSecrets). */
function checkedConfig(news: Props): Props {
  const auth = decodeRegistryAuth(news.registryAuth);
  const hasPassword = Array.isArray(auth) && auth.some((b) => !!b && typeof b === "object" && !Array.isArray(b) && b.password !== undefined && b.password !== null);
  return hasPassword ? { ...news, registryAuth: secret(news.registryAuth!) } : news;
}

/** Config values compared in decoded form, so `["-i","/k"]` and its JSON string are the same. */
function decoded(p: Props): Props {
  const out: Props = {};
  for (const k of KEYS) if (p[k] !== undefined && p[k] !== null) out[k] = decode(p[k]) ?? null;
  return out;
}

export const dockerProvider: ProviderDefinition<DockerConfig> = {
  name: "docker",
  version: "5.0.0",
  acceptSecrets: false,
  supportsPreview: true,
  config: {
    keys: KEYS,
    check: (news) => ({ inputs: checkedConfig(news), failures: checkConfig(news) }),
    // No ForcesProviderReplace anywhere in PD: every config change updates the provider in place.
    diff: (olds, news) => diffByRules(decoded(olds), decoded(news), { inputs: KEYS, replace: [] }),
    // Configure's own failures come back as the bridge reports diagnostics (TB provider.go:911-920).
    parse: (props) => {
      try {
        return parseConfig(props);
      } catch (e) {
        const msg = (e as Error).message;
        throw new Error(msg.startsWith("Error loading ") ? tfErrorText(msg) : msg);
      }
    },
  },
  resources: [remoteImage, container, network, volume],
};

/**
 * The provider's `registryAuth` (Terraform `registry_auth`) and the credentials a pull sends, as
 * KD v4.2.0 does it (SEMANTICS.md §1, §2). Citations are KD:<path>:<lines> at tag v4.2.0.
 *
 * Config (KD:internal/provider/provider.go:104-162): a SET of blocks; `address` required and not
 * empty; `username` defaults to env DOCKER_REGISTRY_USER, `password` to DOCKER_REGISTRY_PASS;
 * `config_file` defaults to `$DOCKER_CONFIG/config.json` when DOCKER_CONFIG is a directory,
 * `$DOCKER_CONFIG` itself when it is anything else, else `~/.docker/config.json`;
 * `config_file_content` has no default; `auth_disabled` defaults to false.
 *
 * Parsing at Configure (providerSetToRegistryAuth, provider.go:303-388), per block in set order:
 * - the address gets `https://` unless it starts with `http://` or `https://` (normalizeRegistryAddress,
 *   KD:internal/provider/config.go:228-236); that is the AuthConfig's `serveraddress`, and the
 *   credentials are filed under its hostname: scheme cut, then everything from the first `/`
 *   (convertToHostname, provider.go:434-447). A later block for the same hostname wins.
 * - `auth_disabled` replaces username/password with `username`/`password` (provider.go:317-323);
 * - a non-empty username wins: username and password as given, an ECR password (host
 *   `public.ecr.aws` or `*dkr.ecr.*.amazonaws.com`) base64-decoded unless it starts with `ey` or
 *   `AWS:` (provider.go:327-334; KD:internal/provider/authentication_helpers.go:35-62);
 * - else a non-empty `config_file_content`, else a non-empty `config_file` (with `~/` expanded) is
 *   read as a Docker CLI config file and the entry for the hostname taken (provider.go:339-382,
 *   398-429: for Docker Hub hostnames the keys `https://index.docker.io/v1/`, `index.docker.io`,
 *   `docker.io` first; then docker/cli's file store: the exact key, else a key whose hostname is it,
 *   else no credentials, DC:cli/config/credentials/file_store.go:43-57);
 * - a failure fails Configure: `Error loading registry auth config: …` (provider.go:239-244).
 *
 * Pulling (pullImage, KD:internal/provider/resource_docker_image_funcs.go:249-279): the image's
 * registry is derived with parseImageOptions (funcs.go:294-341): the part before the first `/` when
 * the name has more than one `/`, or when that part contains `.` or `:` or is `localhost`; else
 * `registry-1.docker.io`. The credentials filed under exactly that string are sent, else an empty
 * AuthConfig; either is JSON-encoded (Docker's field order, empty fields left out) and sent as
 * `X-Registry-Auth` in base64url WITH padding (`base64.URLEncoding`). So `nginx` only matches a
 * block for `registry-1.docker.io`, not `docker.io`.
 *
 * Not implemented (the stand-in fails Configure with a message saying so, instead of guessing):
 * credential helpers (`credsStore`/`credHelpers` in the config file) and DOCKER_AUTH_CONFIG.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { CheckFailure } from "../runtime/definition";
import { containsUnknown, type Value } from "../runtime/properties";
import type { TypeSpec } from "../runtime/types";
import { hashString, setOrder } from "./terraform-set";

/** Docker's `registry.AuthConfig` as KD fills it, by its JSON names. */
export interface AuthConfig {
  username?: string;
  password?: string;
  serveraddress?: string;
}

/** Credentials by registry hostname (KD's `AuthConfigs.Configs`). */
export type AuthConfigs = Record<string, AuthConfig>;

/** One `registryAuth` block with the Terraform defaults applied. */
export interface RegistryAuthBlock {
  address: string;
  username: string;
  password: string;
  configFile: string;
  configFileContent: string;
  authDisabled: boolean;
}

/** The block's fields: Pulumi name → Terraform name and type (docker-5.0.0 schema, ProviderRegistryAuth). */
const FIELDS = {
  address: { tf: "address", type: "string" },
  authDisabled: { tf: "auth_disabled", type: "boolean" },
  configFile: { tf: "config_file", type: "string" },
  configFileContent: { tf: "config_file_content", type: "string" },
  password: { tf: "password", type: "string" },
  username: { tf: "username", type: "string" },
} as const;

/** `registryAuth` in the stand-ins' type vocabulary (compared with the real schema by the tests). */
export const REGISTRY_AUTH_TYPE: TypeSpec = {
  array: { object: Object.fromEntries(Object.entries(FIELDS).map(([k, f]) => [k, f.type])), required: ["address"] },
};

/** The Node SDK sends the list JSON-encoded; stack config arrives the same way. Both forms are taken. */
export function decodeRegistryAuth(v: Value | undefined): Value | undefined {
  if (typeof v !== "string" || containsUnknown(v)) return v ?? undefined;
  if (v === "") return [];
  try {
    return JSON.parse(v) as Value;
  } catch {
    return v;
  }
}

/** The bridge's wording for a provider config failure (TB:pkg/tfbridge/check_failures.go:202-224). */
const invalid = (reason: string): CheckFailure => ({ property: "registryAuth", reason: `could not validate provider configuration: ${reason}` });

/**
 * What CheckConfig reports for `registryAuth`: SDKv2's validation of the set (TS:helper/schema/
 * schema.go:1825-1905, 2329-2378; the `address` ValidateFunc StringIsNotEmpty,
 * TS:helper/validation/strings.go:17-28), with the set's attribute path cut to `registryAuth` as
 * SDKv2 does for sets (schema.go:2499-2507). The bridge appends "Examine values at
 * '<provider name>.registryAuth'." for an explicit provider; the stand-in's config check does not
 * get the provider's name, so that sentence is left out.
 */
export function checkRegistryAuth(raw: Value | undefined): CheckFailure[] {
  const v = decodeRegistryAuth(raw);
  if (v === undefined || v === null || containsUnknown(v)) return [];
  if (!Array.isArray(v)) return [invalid("Attribute must be a list")];
  const failures: CheckFailure[] = [];
  v.forEach((block, i) => {
    if (containsUnknown(block)) return;
    if (block === null || typeof block !== "object" || Array.isArray(block)) {
      failures.push(invalid(`Expected Object Type. Expected object, got ${Array.isArray(block) ? "slice" : typeof block}`));
      return;
    }
    for (const [k, e] of Object.entries(block)) {
      const f = FIELDS[k as keyof typeof FIELDS];
      if (!f) {
        if (e !== null && e !== undefined) failures.push(invalid("Invalid or unknown key"));
        continue;
      }
      if (e === null || e === undefined || containsUnknown(e)) continue;
      if (typeof e !== f.type) failures.push({ property: `registryAuth[${i}].${k}`, reason: `registryAuth[${i}].${k} must be a ${f.type}, got ${JSON.stringify(e)}` });
    }
    const address = (block as Record<string, Value>).address;
    const key = `registry_auth.${i}.address`;
    if (address === undefined || address === null) failures.push(invalid(`Missing required argument. The argument "${key}" is required, but no definition was found.`));
    else if (address === "") failures.push(invalid(`expected "${key}" to not be an empty string, got `));
  });
  return failures;
}

/** `config_file`'s DefaultFunc (provider.go:131-146). */
export function defaultConfigFile(env: NodeJS.ProcessEnv): string {
  const v = env.DOCKER_CONFIG;
  if (v) {
    try {
      if (fs.statSync(v).isDirectory()) return path.join(v, "config.json");
    } catch {
      // not there: used as it is
    }
    return v;
  }
  return "~/.docker/config.json";
}

/** The blocks with their defaults, in Terraform set order (SDKv2 HashResource over the defaulted block). */
export function registryAuthBlocks(raw: Value | undefined, env: NodeJS.ProcessEnv): RegistryAuthBlock[] {
  const v = decodeRegistryAuth(raw);
  if (!Array.isArray(v)) return [];
  const str = (b: Record<string, Value>, k: string, dflt: string) => (typeof b[k] === "string" ? (b[k] as string) : dflt);
  const blocks = v
    .filter((b): b is Record<string, Value> => !!b && typeof b === "object" && !Array.isArray(b))
    .map((b) => ({
      address: str(b, "address", ""),
      username: str(b, "username", env.DOCKER_REGISTRY_USER ?? ""),
      password: str(b, "password", env.DOCKER_REGISTRY_PASS ?? ""),
      configFile: str(b, "configFile", defaultConfigFile(env)),
      configFileContent: str(b, "configFileContent", ""),
      authDisabled: b.authDisabled === true,
    }));
  // SerializeResourceForHash: the fields in Terraform-name order, `name:value;`, bools as 1/0
  // (TS:helper/schema/serialize.go:13-120), hashed with CRC-32 (set.go:33-39).
  const serialize = (b: RegistryAuthBlock) =>
    `address:${b.address};auth_disabled:${b.authDisabled ? 1 : 0};config_file:${b.configFile};config_file_content:${b.configFileContent};password:${b.password};username:${b.username};`;
  return setOrder(blocks, (b) => hashString(serialize(b)));
}

/** normalizeRegistryAddress (config.go:228-236). */
export function normalizeRegistryAddress(address: string): string {
  return address.startsWith("http://") || address.startsWith("https://") ? address : `https://${address}`;
}

/** KD's convertToHostname (provider.go:434-447): scheme cut, then everything from the first `/`. */
export function convertToHostname(url: string): string {
  const stripped = url.startsWith("http://") ? url.slice(7) : url.startsWith("https://") ? url.slice(8) : url;
  return stripped.split("/", 1)[0]!;
}

/** docker/cli's ConvertToHostname (DC:cli/config/credentials/file_store.go:105-118), used on config file keys. */
function cliConvertToHostname(maybeURL: string): string {
  if (maybeURL.includes("://")) {
    try {
      const u = new URL(maybeURL);
      if (u.hostname !== "") return u.port === "" ? u.hostname : `${u.hostname}:${u.port}`;
    } catch {
      // not a URL: cut at the first `/`
    }
  }
  return maybeURL.split("/", 1)[0]!;
}

/** isECRRepositoryURL (authentication_helpers.go:51-62). */
export function isECRRepositoryURL(host: string): boolean {
  return host === "public.ecr.aws" || /^.*?dkr\.ecr\..*?\.amazonaws\.com$/.test(host);
}

/**
 * Go's base64.StdEncoding.DecodeString: the standard alphabet with padding (\r and \n skipped).
 * The error is Go's CorruptInputError text; its offset is exact for a character outside the
 * alphabet and the input's length for a bad length or padding (where Go's may be smaller).
 */
function goBase64Decode(s: string): string {
  const t = s.replace(/[\r\n]/g, "");
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(t)) {
    const bad = s.search(/[^A-Za-z0-9+/=\r\n]/);
    throw new Error(`illegal base64 data at input byte ${bad === -1 ? s.length : bad}`);
  }
  return Buffer.from(t, "base64").toString("utf8");
}

/** normalizeECRPasswordForDockerCLIUsage (authentication_helpers.go:35-49). */
export function normalizeECRPassword(password: string): string {
  if (password.startsWith("ey")) return password;
  if (password.startsWith("AWS:")) return password.slice(4);
  try {
    return goBase64Decode(password);
  } catch (e) {
    // KD calls log.Fatalf here: the real plugin process exits.
    throw new Error(`Error creating registry request: ${(e as Error).message} (the real provider exits at this point)`);
  }
}

interface CliConfigFile {
  auths: Record<string, { username: string; password: string }>;
  credsStore: string;
  credHelpers: Record<string, string>;
}

/** A field of a Go-decoded struct: encoding/json matches names case-insensitively. */
function goField(o: Record<string, unknown>, name: string): unknown {
  const k = Object.keys(o).find((x) => x.toLowerCase() === name.toLowerCase());
  return k === undefined ? undefined : o[k];
}

/** decodeAuth (DC:cli/config/configfile/file.go:268-288). */
function decodeAuth(auth: string): [string, string] {
  if (auth === "") return ["", ""];
  const decoded = goBase64Decode(auth);
  const colon = decoded.indexOf(":");
  if (colon === -1 || colon === 0) throw new Error("Invalid auth configuration file");
  return [decoded.slice(0, colon), decoded.slice(colon + 1).replace(/^\0+|\0+$/g, "")];
}

/** configfile.LoadFromReader (DC:cli/config/configfile/file.go:98-115): `auth` decoded into user and password. */
export function loadConfigFile(text: string): CliConfigFile {
  const out: CliConfigFile = { auths: {}, credsStore: "", credHelpers: {} };
  if (text.trim() === "") return out; // io.EOF is not an error
  const json = JSON.parse(text) as unknown;
  if (json === null) return out;
  if (typeof json !== "object" || Array.isArray(json)) throw new Error(`json: cannot unmarshal ${Array.isArray(json) ? "array" : typeof json} into Go value of type configfile.ConfigFile`);
  const o = json as Record<string, unknown>;
  const auths = (goField(o, "auths") ?? {}) as Record<string, Record<string, unknown>>;
  for (const [addr, ac] of Object.entries(auths)) {
    const a = ac ?? {};
    let username = String(goField(a, "username") ?? "");
    let password = String(goField(a, "password") ?? "");
    const auth = String(goField(a, "auth") ?? "");
    if (auth !== "") [username, password] = decodeAuth(auth);
    out.auths[addr] = { username, password };
  }
  out.credsStore = String(goField(o, "credsStore") ?? "");
  out.credHelpers = (goField(o, "credHelpers") ?? {}) as Record<string, string>;
  return out;
}

/** getAuthConfigFromConfigFile (provider.go:398-429) over docker/cli's file store. */
export function authFromConfigFile(c: CliConfigFile, host: string, env: NodeJS.ProcessEnv): { username: string; password: string } {
  if (host === "index.docker.io" || host === "docker.io" || host === "registry-1.docker.io") {
    for (const key of ["https://index.docker.io/v1/", "index.docker.io", "docker.io"]) {
      const hit = c.auths[key];
      if (hit) return hit;
    }
  }
  const helper = c.credHelpers[host] ?? c.credsStore;
  if (helper) throw new Error(`the docker stand-in does not run credential helpers (docker-credential-${helper} for ${host}); put the credentials in registryAuth, or run with the real provider plugin`);
  if (env.DOCKER_AUTH_CONFIG) throw new Error("the docker stand-in does not implement DOCKER_AUTH_CONFIG; unset it, or run with the real provider plugin");
  const exact = c.auths[host];
  if (exact) return exact;
  for (const [key, ac] of Object.entries(c.auths)) if (cliConvertToHostname(key) === host) return ac;
  return { username: "", password: "" };
}

/** Go's os.Open error text for the common cases. */
function openError(file: string, e: NodeJS.ErrnoException): string {
  const why = e.code === "ENOENT" ? "no such file or directory" : e.code === "EACCES" ? "permission denied" : e.message;
  return `open ${file}: ${why}`;
}

/** providerSetToRegistryAuth (provider.go:303-388); errors carry Configure's prefix (239-244). */
export function parseRegistryAuth(raw: Value | undefined, env: NodeJS.ProcessEnv, homedir: string): AuthConfigs {
  const configs: AuthConfigs = {};
  try {
    for (const b of registryAuthBlocks(raw, env)) {
      const serveraddress = normalizeRegistryAddress(b.address);
      const host = convertToHostname(serveraddress);
      let { username, password } = b;
      if (b.authDisabled) [username, password] = ["username", "password"];
      const auth: AuthConfig = {};
      if (username !== "") {
        if (isECRRepositoryURL(host)) password = normalizeECRPassword(password);
        Object.assign(auth, { username, password });
      } else if (b.configFileContent !== "") {
        let c: CliConfigFile;
        try {
          c = loadConfigFile(b.configFileContent);
        } catch (e) {
          throw new Error(`Error parsing docker registry config json: ${(e as Error).message}`);
        }
        let found;
        try {
          found = authFromConfigFile(c, host, env);
        } catch (e) {
          if ((e as Error).message.startsWith("the docker stand-in")) throw e;
          throw new Error(`couldn't find registry config for '${host}' in file content`);
        }
        Object.assign(auth, found);
      } else if (b.configFile !== "") {
        const file = b.configFile.startsWith("~/") ? b.configFile.replace("~", homedir) : b.configFile;
        let text: string;
        try {
          text = fs.readFileSync(file, "utf8");
        } catch (e) {
          throw new Error(`could not open config file from filePath: ${file}. Error: ${openError(file, e as NodeJS.ErrnoException)}`);
        }
        let c: CliConfigFile;
        try {
          c = loadConfigFile(text);
        } catch (e) {
          throw new Error(`could not read and load config file: ${(e as Error).message}`);
        }
        let found;
        try {
          found = authFromConfigFile(c, host, env);
        } catch (e) {
          if ((e as Error).message.startsWith("the docker stand-in")) throw e;
          throw new Error(`could not get auth config (the credentialhelper did not work or was not found): ${(e as Error).message}`);
        }
        Object.assign(auth, found);
      }
      configs[host] = compactAuth({ ...auth, serveraddress });
    }
  } catch (e) {
    throw new Error(`Error loading registry auth config: ${(e as Error).message}`);
  }
  return configs;
}

/** Empty fields are left out, as `omitempty` does. */
function compactAuth(a: AuthConfig): AuthConfig {
  const out: AuthConfig = {};
  if (a.username) out.username = a.username;
  if (a.password) out.password = a.password;
  if (a.serveraddress) out.serveraddress = a.serveraddress;
  return out;
}

/** parseImageOptions' registry (resource_docker_image_funcs.go:294-341). */
export function registryOfImage(image: string): string {
  const firstSlash = image.indexOf("/");
  const slashes = image.split("/").length - 1;
  if (slashes > 1 || (firstSlash !== -1 && (/[.:]/.test(image.slice(0, firstSlash)) || image.slice(0, firstSlash) === "localhost"))) {
    const registry = image.slice(0, firstSlash);
    if (registry !== "") return registry;
  }
  return "registry-1.docker.io";
}

/** A JSON string as Go's encoding/json writes it (`<`, `>`, `&`, U+2028, U+2029 escaped). */
function goString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** The AuthConfig as json.Marshal writes it: Docker's field order, empty fields left out. */
export function authJson(a: AuthConfig): string {
  const parts: string[] = [];
  for (const k of ["username", "password", "serveraddress"] as const) if (a[k]) parts.push(`"${k}":${goString(a[k]!)}`);
  return `{${parts.join(",")}}`;
}

/** The `X-Registry-Auth` header pullImage sends for an image: base64.URLEncoding (padded). */
export function registryAuthHeader(configs: AuthConfigs, image: string): string {
  const auth = Object.hasOwn(configs, registryOfImage(image)) ? configs[registryOfImage(image)]! : {};
  return Buffer.from(authJson(auth), "utf8").toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
}

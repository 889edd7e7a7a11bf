/**
 * The stack configuration of berth: one zod schema, strict at every level, with the defaults
 * applied here and nowhere else. No Pulumi import: this file is parsed by tests as plain data.
 *
 * Each top-level key is one `berth:<key>` entry of a `Pulumi.<stack>.yaml`.
 */
import { z } from "zod";

/** Site names end up in file names, nginx upstream names, unit names and volume names. */
export const SITE_NAME = /^[a-z][a-z0-9-]{0,30}$/;
/** Lowercase RFC 1123 hostnames, with an optional leading wildcard label. */
export const HOSTNAME = /^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Docker's reference grammar for a repository, with an optional registry host[:port]. */
export const IMAGE_REPOSITORY =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
/** Docker's tag grammar. */
export const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const URL_PATH = /^\/[A-Za-z0-9._~/-]*$/;
export const ABSOLUTE_PATH = /^\/(?:[A-Za-z0-9._-]+\/?)*$/;
export const UNIX_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
export const UNIT_NAME = /^[a-z0-9][a-z0-9_.@-]{0,63}$/;
export const PROCESS_NAME = /^[a-z][a-z0-9-]{0,20}$/;
/** One SSH public key line: key type, base64 blob, optional comment. */
export const SSH_PUBLIC_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/]+={0,3}(?: [^\n]*)?$/;
export const SSH_PUBLIC_KEY_ALLOWED = "must be an SSH public key line such as 'ssh-ed25519 AAAA...' (ssh-keyscan -t ed25519 <address>, without the host)";
const DURATION = /^[0-9]{1,6}(?:ms|s|m|h)$/;
const MEMORY = /^([1-9][0-9]{0,6})\s*(m|mi|mb|mib|g|gi|gb|gib)$/i;
const NGINX_SIZE = /^[0-9]{1,6}[kKmMgG]?$/;
const ON_CALENDAR = /^[A-Za-z0-9 :*/,.~-]+$/;

/** A string, or a number written where a string is meant (YAML reads `tag: 16` as a number). */
const stringish = (inner: z.ZodString) =>
  z.preprocess((v) => (typeof v === "number" && Number.isFinite(v) ? String(v) : v), inner);

/** An object that rejects unknown keys and says which keys are allowed. */
function strict<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === "unrecognized_keys") return `unknown key; allowed keys: ${allowed}`;
      if (issue.code === "invalid_type") return issue.input === undefined ? "required" : "must be an object";
      return undefined;
    },
  });
}

const port = (what: string) =>
  z
    .number({ error: (i) => (i.input === undefined ? "required" : `must be a ${what} port number (1-65535)`) })
    .int(`must be a ${what} port number (1-65535)`)
    .min(1, `must be a ${what} port number (1-65535)`)
    .max(65535, `must be a ${what} port number (1-65535)`);

const hostname = z
  .string({ error: "must be a lowercase hostname such as app.example.com" })
  .max(253, "must be at most 253 characters")
  .regex(HOSTNAME, "must be a lowercase hostname such as app.example.com (letters, digits, '-' and '.', optional leading '*.')");

const absolutePath = z
  .string({ error: "must be an absolute path" })
  .regex(ABSOLUTE_PATH, "must be an absolute path of letters, digits, '.', '_', '-' and '/'")
  .refine((p) => !p.split("/").includes(".."), "must not contain '..'");

const urlPath = z
  .string({ error: "must be a URL path starting with '/'" })
  .regex(URL_PATH, "must be a URL path starting with '/' (letters, digits, '.', '_', '~', '-', '/')");

const duration = stringish(
  z.string({ error: "must be a duration such as 5s, 500ms or 1m" }).regex(DURATION, "must be a duration such as 5s, 500ms or 1m"),
).transform(goDuration);

/**
 * A duration in the form Go's `time.Duration.String()` prints it (`90s` → `1m30s`, `1m` → `1m0s`,
 * `1000ms` → `1s`). The docker provider reads healthcheck durations back in that form, so any
 * other spelling would show as a change after every create or refresh.
 */
export function goDuration(text: string): string {
  const [, amount, unit] = /^([0-9]+)(ms|s|m|h)$/.exec(text)!;
  const ms = Number(amount) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as "ms" | "s" | "m" | "h"];
  if (ms === 0) return "0s";
  if (ms < 1000) return `${ms}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  // Fractional seconds print without trailing zeros, as Go does (1500ms → 1.5s).
  const seconds = String((ms % 60_000) / 1000);
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

const envName = z.string().regex(ENV_NAME, "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");

/** Memory limits in MiB, written as `768m`, `1g` or `512MiB`. */
const memoryMiB = stringish(
  z.string({ error: "must be a memory size such as 512m or 1g" }).regex(MEMORY, "must be a memory size such as 512m or 1g"),
).transform((s) => {
  const [, amount, unit] = MEMORY.exec(s.trim())!;
  return unit!.toLowerCase().startsWith("g") ? Number(amount) * 1024 : Number(amount);
});

const imageRepository = z
  .string({ error: (i) => (i.input === undefined ? "required" : "must be an image repository such as ghcr.io/acme/app") })
  .regex(IMAGE_REPOSITORY, "must be an image repository such as ghcr.io/acme/app (lowercase, no tag)");

const imageTag = stringish(
  z
    .string({ error: (i) => (i.input === undefined ? "required" : "must be an image tag") })
    .regex(IMAGE_TAG, "must be an image tag: 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'"),
);

const healthCheckSchema = strict({
  /** HTTP path that answers 200 when the app and its dependencies are up. */
  path: urlPath.default("/api/health"),
  interval: duration.default("5s"),
  timeout: duration.default("3s"),
  retries: z.number().int().min(1, "must be at least 1").max(100, "must be at most 100").default(5),
  startPeriod: duration.default("10s"),
  /**
   * The in-container check, exec form. The default needs `curl` in the image; images without it
   * set their own (e.g. `["CMD", "/app/server", "healthcheck"]`).
   */
  command: z.array(z.string().min(1)).min(2, "must be an exec-form command such as [CMD, /app/bin, healthcheck]").optional(),
});

const generatedSecretSchema = strict({
  length: z.number().int().min(16, "must be at least 16 characters").max(256, "must be at most 256").default(64),
  /** Change this value (any string) to rotate the secret on the next `up`. */
  rotation: stringish(z.string().max(64, "must be at most 64 characters")).default("1"),
});

const appVolumeSchema = strict({
  name: z.string().regex(PROCESS_NAME, "must be a volume name ([a-z][a-z0-9-]{0,20})"),
  path: absolutePath,
});

const processSchema = strict({
  command: z.array(z.string().min(1, "must not be empty")).min(1, "must be a non-empty command"),
  memory: memoryMiB.optional(),
});

const appSchema = strict({
  image: imageRepository,
  tag: imageTag,
  /**
   * The image's digest (`sha256:...`), pinned. A tag pushed again to another image is not
   * deployed by `up`, which pulls only a reference it does not have: pinning the digest makes the
   * new image a change `pulumi preview` shows, and reverting it a rollback.
   */
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, "must be an image digest: sha256: and 64 lowercase hex digits").optional(),
  /** A private registry: the password comes from the secret `berth:registryPassword`. */
  registry: strict({
    /** The registry host of `image`, e.g. `ghcr.io` or `registry.example.com:5000`. */
    address: z.string().regex(/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?$/, "must be a registry host such as ghcr.io or registry.example.com:5000"),
    username: z.string().min(1, "must not be empty").max(256, "must be at most 256 characters").regex(/^[^\s]+$/, "must not contain whitespace"),
  }).optional(),
  /** The port the web process listens on inside the container. */
  port: port("container").default(8080),
  command: z.array(z.string().min(1)).min(1).optional(),
  healthCheck: healthCheckSchema.default(() => healthCheckSchema.parse({})),
  memory: memoryMiB.default(768),
  restart: z.enum(["unless-stopped", "always", "on-failure", "no"]).default("unless-stopped"),
  env: z.record(envName, z.string({ error: "must be a string (quote numbers and booleans)" })).default({}),
  /** Names whose values come from the secret `berth:secrets` config key. */
  secretEnv: z.array(envName).default([]),
  generatedSecrets: z.record(envName, generatedSecretSchema).default({}),
  processes: z
    .record(z.string().regex(PROCESS_NAME, "must be a process name ([a-z][a-z0-9-]{0,20})"), processSchema)
    .refine((p) => !("web" in p), "must not redefine 'web': the web process is app.command")
    .default({}),
  volumes: z.array(appVolumeSchema).default([]),
  /** Seconds the container gets to finish in-flight requests on stop. */
  stopTimeout: z.number().int().min(1).max(600).default(30),
  /** Release phase: run once per image change in a one-off container of the new image (migrations). */
  release: z.array(z.string().min(1, "must not be empty")).min(1, "must be a non-empty command").optional(),
  /** The host-side gate a new release must pass before nginx switches to it. */
  healthGate: strict({
    intervalSeconds: z.number().int().min(1).max(60).default(1),
    timeoutSeconds: z.number().int().min(1).max(3600).default(60),
  }).default({ intervalSeconds: 1, timeoutSeconds: 60 }),
});

const databaseSchema = strict({
  engine: z.literal("postgres").default("postgres"),
  image: imageRepository.default("postgres"),
  tag: imageTag.default("16"),
  /** The env var under which the app receives the connection URL. */
  envName: envName.default("DATABASE_URL"),
  name: z.string().regex(UNIX_NAME, "must be a database name ([a-z_][a-z0-9_-]{0,31})").default("app"),
  user: z.string().regex(UNIX_NAME, "must be a user name ([a-z_][a-z0-9_-]{0,31})").default("app"),
  memory: memoryMiB.default(512),
  /**
   * Change this value (any string) to rotate the app's database password on the next `up`: the app
   * gets a new login role and password, and the old role is dropped once the old release is gone.
   */
  passwordRotation: stringish(z.string().min(1, "must not be empty").max(64, "must be at most 64 characters")).default("1"),
  /** Pulumi `protect` on the data volume: `pulumi destroy` refuses until it is lifted. */
  protect: z.boolean().default(false),
  /** `pg_dump -Fc` before every image change and on a daily timer. */
  backup: strict({
    directory: absolutePath.optional(),
    keep: z.number().int().min(1).max(1000).default(14),
    onCalendar: z.string().regex(ON_CALENDAR, "must be a systemd OnCalendar expression such as daily or *-*-* 03:00:00").default("*-*-* 03:30:00"),
  }).default({ keep: 14, onCalendar: "*-*-* 03:30:00" }),
});

const redisSchema = strict({
  image: imageRepository.default("redis"),
  tag: imageTag.default("7"),
  envName: envName.default("REDIS_URL"),
  memory: memoryMiB.default(256),
  protect: z.boolean().default(false),
});

const hostSchema = strict({
  /** Address or hostname of the server, reached over SSH. */
  address: z
    .string({ error: (i) => (i.input === undefined ? "required" : "must be a hostname or IP address") })
    .regex(/^[A-Za-z0-9.:-]{1,253}$/, "must be a hostname or IP address"),
  sshPort: port("SSH").default(22),
  user: z.string().regex(UNIX_NAME, "must be a user name").default("root"),
  /** A private key file on the machine running Pulumi; else the secret `berth:sshPrivateKey`. */
  privateKeyFile: z.string().min(1).optional(),
  /**
   * The server's SSH host public key, one line as `ssh-keyscan -t ed25519 <address>` prints it
   * without the host (`ssh-ed25519 AAAA...`). Every SSH connection berth makes checks it; one of
   * `hostKey` and `hostKeyFile` is required.
   */
  hostKey: z.string().regex(SSH_PUBLIC_KEY, SSH_PUBLIC_KEY_ALLOWED).optional(),
  /** A file on the machine running Pulumi holding the host key (a `.pub` file), instead of `hostKey`. */
  hostKeyFile: z.string().min(1).optional(),
  /** Docker endpoint for the app containers. @default ssh://<user>@<address>:<sshPort> */
  dockerHost: z
    .string()
    .regex(/^(unix:\/\/\/[A-Za-z0-9._/-]+|ssh:\/\/[A-Za-z0-9._@:-]+|tcp:\/\/[A-Za-z0-9._:-]+)$/, "must be a unix://, ssh:// or tcp:// docker endpoint")
    .optional(),
  /** apt-get install what the host lacks (nginx, certbot, openssl). */
  installPackages: z.boolean().default(true),
});

const siteSchema = strict({
  name: z
    .string({ error: (i) => (i.input === undefined ? "required" : "must be a site name") })
    .regex(SITE_NAME, "must be a site name: a lowercase letter, then up to 30 of [a-z0-9-]"),
  domains: z.array(hostname).min(1, "must list at least one domain"),
});

const dnsSchema = z.discriminatedUnion(
  "provider",
  [
    strict({ provider: z.literal("none") }),
    strict({
      provider: z.literal("cloudflare"),
      zoneId: z.string().regex(/^[a-f0-9]{32}$/, "must be a Cloudflare zone id (32 hex characters)"),
      /** The server's public address, the content of the A/AAAA records. */
      target: z.union([z.ipv4({ error: "must be an IPv4 or IPv6 address" }), z.ipv6({ error: "must be an IPv4 or IPv6 address" })]),
      proxied: z.boolean().default(true),
      /** Seconds; 1 means automatic (required by Cloudflare for proxied records). */
      ttl: z.number().int().min(1).max(86400).default(1),
    }),
  ],
  { error: "must have provider: none or cloudflare" },
);

const tlsSchema = z.discriminatedUnion(
  "mode",
  [
    strict({ mode: z.literal("self-signed"), validityDays: z.number().int().min(1).max(3650).default(365) }),
    strict({
      mode: z.literal("letsencrypt"),
      email: z.email({ error: "must be an email address for the ACME account" }),
      /** ACME directory URL. @default Let's Encrypt production */
      acmeServer: z.url({ error: "must be an https URL" }).default("https://acme-v02.api.letsencrypt.org/directory"),
      /** A CA bundle on the host that signs the ACME server (test servers such as pebble). */
      acmeCaBundle: absolutePath.optional(),
    }),
    strict({
      mode: z.literal("cloudflare-origin"),
      validityDays: z.union([z.literal(7), z.literal(30), z.literal(90), z.literal(365), z.literal(730), z.literal(1095), z.literal(5475)]).default(5475),
    }),
  ],
  { error: "must have mode: self-signed, letsencrypt or cloudflare-origin" },
);

const nginxSchema = strict({
  httpPort: port("HTTP").default(80),
  httpsPort: port("HTTPS").default(443),
  clientMaxBodySize: stringish(z.string().regex(NGINX_SIZE, "must be an nginx size such as 25m, 512k or 1g")).default("25m"),
  /**
   * Compress text responses, the app's own included. Over TLS that is BREACH's precondition: a
   * compressed response holding a secret (a CSRF token) next to text the request put there leaks it
   * to an attacker who sees encrypted lengths. Keep `true` when the app masks such secrets per
   * response (Rails and Django do); `false` rules BREACH out at the cost of bandwidth.
   */
  gzip: z.boolean().default(true),
  hsts: z
    .union([z.literal(false), strict({ maxAgeSeconds: z.number().int().min(0).default(31536000), includeSubDomains: z.boolean().default(false) })])
    .default({ maxAgeSeconds: 31536000, includeSubDomains: false }),
  /** Serve a built front end from the host and proxy only these paths to the app (seed 002). */
  static: strict({ root: absolutePath, proxiedPaths: z.array(urlPath).default(["/api"]) }).optional(),
  /** Answer 503 with a maintenance page everywhere but the health path; containers are untouched. */
  maintenance: z.boolean().default(false),
});

const timerSchema = strict({
  onCalendar: z.string().regex(ON_CALENDAR, "must be a systemd OnCalendar expression such as daily or *-*-* 03:00:00"),
  persistent: z.boolean().default(true),
  randomizedDelaySec: z.number().int().min(0).max(86400).default(0),
});

const serviceSchema = strict({
  name: z.string().regex(UNIT_NAME, "must be a unit name ([a-z0-9][a-z0-9_.@-]{0,63}) without suffix"),
  description: z.string().regex(/^[^\x00-\x1f\x7f]{1,200}$/, "must be one line of printable text").optional(),
  execStart: z
    .array(z.string().regex(/^[^\x00-\x1f\x7f]*$/, "must not contain control characters"))
    .min(1, "must be a non-empty command")
    .refine((argv) => ABSOLUTE_PATH.test(argv[0] ?? ""), "must start with an absolute path to the executable"),
  user: z.string().regex(UNIX_NAME, "must be a user name").optional(),
  group: z.string().regex(UNIX_NAME, "must be a group name").optional(),
  workingDirectory: absolutePath.optional(),
  /** Written to an EnvironmentFile with mode 0600, never into the unit. */
  env: z.record(envName, z.string()).default({}),
  /** Names from the secret `berth:secrets` key to add to the EnvironmentFile. */
  secretEnv: z.array(envName).default([]),
  readWritePaths: z.array(absolutePath).default([]),
  restart: z.enum(["always", "on-failure", "no"]).default("on-failure"),
  hardening: z.boolean().default(true),
  /** Run on a schedule instead of continuously (seed 002's daily backup). */
  timer: timerSchema.optional(),
});

/** Every `berth:*` key a stack may set, besides the secret ones handled in `load.ts`. */
export const berthConfigSchema = strict({
  site: siteSchema,
  host: hostSchema,
  app: appSchema,
  database: databaseSchema.optional(),
  redis: redisSchema.optional(),
  dns: dnsSchema.default({ provider: "none" }),
  tls: tlsSchema.default({ mode: "self-signed", validityDays: 365 }),
  nginx: nginxSchema.default(() => nginxSchema.parse({})),
  services: z.array(serviceSchema).default([]),
})
  .superRefine((cfg, ctx) => {
    // Names that reach the app's environment must not collide, or one silently wins.
    const sources = new Map<string, string>();
    const claim = (name: string, by: string, path: (string | number)[]) => {
      const prior = sources.get(name);
      if (prior) ctx.addIssue({ code: "custom", path, message: `must not reuse ${name}, already set by ${prior}` });
      else sources.set(name, by);
    };
    for (const k of Object.keys(cfg.app.env)) claim(k, "app.env", ["app", "env", k]);
    cfg.app.secretEnv.forEach((k, i) => claim(k, "app.secretEnv", ["app", "secretEnv", i]));
    for (const k of Object.keys(cfg.app.generatedSecrets)) claim(k, "app.generatedSecrets", ["app", "generatedSecrets", k]);
    if (cfg.database) claim(cfg.database.envName, "database.envName", ["database", "envName"]);
    if (cfg.redis) claim(cfg.redis.envName, "redis.envName", ["redis", "envName"]);

    if (cfg.nginx.httpPort === cfg.nginx.httpsPort) {
      ctx.addIssue({ code: "custom", path: ["nginx", "httpsPort"], message: "must differ from nginx.httpPort" });
    }
    const services = new Set<string>();
    cfg.services.forEach((s, i) => {
      if (services.has(s.name)) ctx.addIssue({ code: "custom", path: ["services", i, "name"], message: `must be unique; ${s.name} is listed twice` });
      services.add(s.name);
    });
    const volumes = new Set<string>();
    cfg.app.volumes.forEach((v, i) => {
      if (volumes.has(v.name)) ctx.addIssue({ code: "custom", path: ["app", "volumes", i, "name"], message: `must be unique; ${v.name} is listed twice` });
      volumes.add(v.name);
    });
    if (cfg.tls.mode === "cloudflare-origin" && cfg.dns.provider !== "cloudflare") {
      ctx.addIssue({ code: "custom", path: ["tls", "mode"], message: "cloudflare-origin needs dns.provider: cloudflare" });
    }
  });

/** The typed, defaulted configuration the components are built from. */
export type BerthSettings = z.output<typeof berthConfigSchema>;
export type AppSettings = BerthSettings["app"];
export type DatabaseSettings = NonNullable<BerthSettings["database"]>;
export type RedisSettings = NonNullable<BerthSettings["redis"]>;
export type HostSettings = BerthSettings["host"];
export type DnsSettings = BerthSettings["dns"];
export type TlsSettings = BerthSettings["tls"];
export type NginxSettings = BerthSettings["nginx"];
export type ServiceSettings = BerthSettings["services"][number];

/** Top-level keys, for the unknown-key check on `berth:*`. */
export const BERTH_KEYS = Object.keys(berthConfigSchema.shape);

/** Stack configs as Pulumi hands them to the program: `berth:key` → JSON text. */
import type { RawStackConfig } from "../../config/parse";

export type Values = Record<string, unknown>;

/** A well-formed ed25519 host key (the server's key berth checks on every SSH connection). */
export const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDliyf1LPmCxhEhQmLqlT+U90fK3PDUyq67mKQzZmc+C";

/** The smallest valid stack: a site, a host reached with a key file, an app. */
export const MINIMAL: Values = {
  site: { name: "demo", domains: ["demo.example.com"] },
  host: { address: "203.0.113.10", privateKeyFile: "/root/.ssh/id_ed25519", hostKey: HOST_KEY },
  app: { image: "ghcr.io/acme/demo", tag: "v1" },
};

/** A production-like stack touching every component (seeds 001, 002, 004). */
export const FULL: Values = {
  site: { name: "shop", domains: ["shop.example.com", "www.shop.example.com"] },
  host: { address: "203.0.113.10", sshPort: 22, user: "root", hostKey: HOST_KEY },
  app: {
    image: "ghcr.io/acme/shop",
    tag: "2026.11.1",
    port: 3000,
    memory: "768m",
    env: { NODE_ENV: "production" },
    secretEnv: ["STRIPE_SECRET_KEY"],
    generatedSecrets: { SESSION_SECRET: { length: 48 } },
    processes: { worker: { command: ["bundle", "exec", "sidekiq"] } },
    volumes: [{ name: "uploads", path: "/app/storage" }],
  },
  database: { envName: "CLOUDRON_POSTGRESQL_URL", protect: true },
  redis: {},
  dns: { provider: "cloudflare", zoneId: "0123456789abcdef0123456789abcdef", target: "203.0.113.10", proxied: true },
  tls: { mode: "letsencrypt", email: "ops@example.com" },
  nginx: { clientMaxBodySize: "50m", static: { root: "/srv/shop/dist", proxiedPaths: ["/api", "/auth"] } },
  services: [
    {
      name: "shop-backup",
      execStart: ["/usr/local/bin/shop-backup", "--keep", "14"],
      env: { BACKUP_DIR: "/var/backups/shop" },
      secretEnv: ["STRIPE_SECRET_KEY"],
      readWritePaths: ["/var/backups/shop"],
      timer: { onCalendar: "*-*-* 03:00:00" },
    },
  ],
};

export const FULL_SECRETS = { STRIPE_SECRET_KEY: "sk_live_do_not_leak_4242" };
export const FULL_SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nmock\n-----END OPENSSH PRIVATE KEY-----\n";

/** Builds the raw input of `parseStackConfig`: every value JSON-encoded, the named keys secret. */
export function raw(values: Values, secret: Record<string, unknown> = {}, stack = "production"): RawStackConfig {
  const all: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) all[`berth:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
  for (const [k, v] of Object.entries(secret)) all[`berth:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
  return { stack, values: all, secretKeys: new Set(Object.keys(secret).map((k) => `berth:${k}`)) };
}

/** A deep copy of `base` with `path` set to `value` (or removed when `value` is undefined). */
export function withValue(base: Values, path: string, value: unknown): Values {
  const copy = structuredClone(base);
  const parts = path.split(".");
  let node: any = copy;
  for (const p of parts.slice(0, -1)) node = node[p] ??= {};
  const last = parts[parts.length - 1]!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

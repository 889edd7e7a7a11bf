import { describe, expect, it } from "vitest";
import { BerthConfigError, parseStackConfig } from "../../config/parse";
import { FULL, FULL_SECRETS, FULL_SSH_KEY, HOST_KEY, MINIMAL, raw, withValue } from "./fixtures";

function problemsOf(input: Parameters<typeof parseStackConfig>[0]): string[] {
  try {
    parseStackConfig(input);
  } catch (e) {
    if (e instanceof BerthConfigError) return e.problems;
    throw e;
  }
  throw new Error("expected the config to be rejected");
}

describe("valid configuration", () => {
  it("applies every default in one place", () => {
    const { settings } = parseStackConfig(raw(MINIMAL));
    expect(settings.app).toEqual({
      image: "ghcr.io/acme/demo",
      tag: "v1",
      port: 8080,
      healthCheck: { path: "/api/health", interval: "5s", timeout: "3s", retries: 5, startPeriod: "10s" },
      memory: 768,
      restart: "unless-stopped",
      env: {},
      secretEnv: [],
      generatedSecrets: {},
      processes: {},
      volumes: [],
      stopTimeout: 30,
      healthGate: { intervalSeconds: 1, timeoutSeconds: 60 },
    });
    expect(settings.host).toEqual({ address: "203.0.113.10", sshPort: 22, user: "root", privateKeyFile: "/root/.ssh/id_ed25519", hostKey: HOST_KEY, installPackages: true });
    expect(settings.dns).toEqual({ provider: "none" });
    expect(settings.tls).toEqual({ mode: "self-signed", validityDays: 365 });
    expect(settings.nginx).toEqual({ httpPort: 80, httpsPort: 443, clientMaxBodySize: "25m", gzip: true, hsts: { maxAgeSeconds: 31536000, includeSubDomains: false }, maintenance: false });
    expect(settings.database).toBeUndefined();
    expect(settings.services).toEqual([]);
  });

  it("parses the full production-like stack, secrets included", () => {
    const parsed = parseStackConfig(raw(FULL, { secrets: FULL_SECRETS, sshPrivateKey: FULL_SSH_KEY }));
    expect(parsed.settings.app.memory).toBe(768);
    expect(parsed.settings.database).toMatchObject({ image: "postgres", tag: "16", envName: "CLOUDRON_POSTGRESQL_URL", protect: true });
    expect(parsed.settings.redis).toEqual({ image: "redis", tag: "7", envName: "REDIS_URL", memory: 256, protect: false });
    expect(parsed.settings.tls).toEqual({ mode: "letsencrypt", email: "ops@example.com", acmeServer: "https://acme-v02.api.letsencrypt.org/directory" });
    expect(parsed.settings.services[0]!.timer).toEqual({ onCalendar: "*-*-* 03:00:00", persistent: true, randomizedDelaySec: 0 });
    expect(parsed.secrets).toEqual(FULL_SECRETS);
    expect(parsed.sshPrivateKey).toBe(FULL_SSH_KEY);
  });

  it("reads a numeric tag as YAML writes it (`tag: 16`) as the string 16", () => {
    const { settings } = parseStackConfig(raw(withValue(MINIMAL, "database", { tag: 16 })));
    expect(settings.database!.tag).toBe("16");
  });

  it("converts memory sizes to MiB", () => {
    expect(parseStackConfig(raw(withValue(MINIMAL, "app.memory", "1g"))).settings.app.memory).toBe(1024);
    expect(parseStackConfig(raw(withValue(MINIMAL, "app.memory", "512MiB"))).settings.app.memory).toBe(512);
  });

  it.each([
    ["1m", "1m0s"],
    ["90s", "1m30s"],
    ["1000ms", "1s"],
    ["1500ms", "1.5s"],
    ["500ms", "500ms"],
    ["2h", "2h0m0s"],
    ["0s", "0s"],
    ["5s", "5s"],
  ])("writes the health check duration %s as Go prints it, %s, so Docker's read-back is no change", (written, go) => {
    const { settings } = parseStackConfig(raw(withValue(MINIMAL, "app.healthCheck", { interval: written, startPeriod: written })));
    expect(settings.app.healthCheck.interval).toBe(go);
    expect(settings.app.healthCheck.startPeriod).toBe(go);
  });

  it("ignores other namespaces (provider config such as cloudflare:apiToken)", () => {
    const input = raw(MINIMAL);
    input.values["cloudflare:apiToken"] = "not ours";
    expect(() => parseStackConfig(input)).not.toThrow();
  });
});

// Each row: what is wrong, the stack, and the exact line berth must print for it.
const BAD: Array<[string, ReturnType<typeof raw>, string]> = [
  ["missing image", raw(withValue(MINIMAL, "app.image", undefined)), "berth:app.image: required"],
  ["missing tag", raw(withValue(MINIMAL, "app.tag", undefined)), "berth:app.tag: required"],
  ["tag with spaces", raw(withValue(MINIMAL, "app.tag", "v1 beta")), "berth:app.tag: must be an image tag: 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'"],
  ["tag starting with a dash", raw(withValue(MINIMAL, "app.tag", "-rc1")), "berth:app.tag: must be an image tag: 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'"],
  ["image with a tag in it", raw(withValue(MINIMAL, "app.image", "ghcr.io/acme/demo:v1")), "berth:app.image: must be an image repository such as ghcr.io/acme/app (lowercase, no tag)"],
  ["uppercase image", raw(withValue(MINIMAL, "app.image", "Acme/Demo")), "berth:app.image: must be an image repository such as ghcr.io/acme/app (lowercase, no tag)"],
  ["bad domain", raw(withValue(MINIMAL, "site.domains", ["exa_mple.com"])), "berth:site.domains[0]: must be a lowercase hostname such as app.example.com (letters, digits, '-' and '.', optional leading '*.')"],
  ["domain with a newline", raw(withValue(MINIMAL, "site.domains", ["a.example.com\nreturn 200"])), "berth:site.domains[0]: must be a lowercase hostname such as app.example.com (letters, digits, '-' and '.', optional leading '*.')"],
  ["domain with ;", raw(withValue(MINIMAL, "site.domains", ["ok.example.com;"])), "berth:site.domains[0]: must be a lowercase hostname such as app.example.com (letters, digits, '-' and '.', optional leading '*.')"],
  ["no domains", raw(withValue(MINIMAL, "site.domains", [])), "berth:site.domains: must list at least one domain"],
  ["port 0", raw(withValue(MINIMAL, "app.port", 0)), "berth:app.port: must be a container port number (1-65535)"],
  ["port 70000", raw(withValue(MINIMAL, "app.port", 70000)), "berth:app.port: must be a container port number (1-65535)"],
  ["port as text", raw(withValue(MINIMAL, "nginx", { httpsPort: "443" })), "berth:nginx.httpsPort: must be a HTTPS port number (1-65535)"],
  ["unknown key in app", raw(withValue(MINIMAL, "app.colour", "blue")), "berth:app.colour: unknown key; allowed keys: image, tag, digest, registry, port, command, healthCheck, memory, restart, env, secretEnv, generatedSecrets, processes, volumes, stopTimeout, release, healthGate"],
  ["unknown top-level key", raw({ ...MINIMAL, databse: {} }), "berth:databse: unknown key; allowed keys: site, host, app, database, redis, dns, tls, nginx, services, secrets, sshPrivateKey, registryPassword"],
  ["plaintext SSH key", raw(withValue({ ...MINIMAL, sshPrivateKey: "-----BEGIN KEY-----" }, "host.privateKeyFile", undefined)), "berth:sshPrivateKey: must be stored as a secret: pulumi config set --secret berth:sshPrivateKey < ~/.ssh/id_ed25519 --stack production"],
  ["plaintext secrets bag", raw({ ...withValue(MINIMAL, "app.secretEnv", ["API_KEY"]), secrets: { API_KEY: "x" } }), "berth:secrets: must be stored as a secret: pulumi config rm berth:secrets, then pulumi config set --secret --path 'berth:secrets.<NAME>' <value> --stack production"],
  ["secret env without a value", raw(withValue(MINIMAL, "app.secretEnv", ["STRIPE_SECRET_KEY"])), "berth:secrets.STRIPE_SECRET_KEY: required by app.secretEnv[0]; set it with: pulumi config set --secret --path 'berth:secrets.STRIPE_SECRET_KEY' <value> --stack production"],
  ["no SSH key at all", raw(withValue(MINIMAL, "host.privateKeyFile", undefined)), "berth:sshPrivateKey: required unless berth:host.privateKeyFile is set; pulumi config set --secret berth:sshPrivateKey <value> --stack production"],
  ["no host key", raw(withValue(MINIMAL, "host.hostKey", undefined)), "berth:host.hostKey: required (or berth:host.hostKeyFile): the server's SSH host key, checked on every connection; get it with: ssh-keyscan -t ed25519 -p 22 203.0.113.10"],
  ["host key with the host in front", raw(withValue(MINIMAL, "host.hostKey", `203.0.113.10 ${HOST_KEY}`)), "berth:host.hostKey: must be an SSH public key line such as 'ssh-ed25519 AAAA...' (ssh-keyscan -t ed25519 <address>, without the host)"],
  ["host key twice", raw(withValue(MINIMAL, "host.hostKeyFile", "/etc/ssh/host.pub")), "berth:host.hostKeyFile: set either berth:host.hostKey or berth:host.hostKeyFile, not both"],
  ["registry that is not the image's", raw(withValue(MINIMAL, "app.registry", { address: "registry.example.com", username: "deploy" }), { registryPassword: "pw" }), "berth:app.registry.address: must be the registry app.image is pulled from (app.image starts with it and a '/'), got registry.example.com"],
  ["registry Docker would read as a Docker Hub user", raw({ ...withValue(withValue(MINIMAL, "app.image", "myregistry/app"), "app.registry", { address: "myregistry", username: "deploy" }) }, { registryPassword: "pw" }), "berth:app.registry.address: must be a host Docker reads as a registry (with a '.', a ':port', or localhost), got myregistry"],
  ["registry without its password", raw(withValue(MINIMAL, "app.registry", { address: "ghcr.io", username: "deploy" })), "berth:registryPassword: required by app.registry; pulumi config set --secret berth:registryPassword <value> --stack production"],
  ["registry password in plaintext", raw({ ...withValue(MINIMAL, "app.registry", { address: "ghcr.io", username: "deploy" }), registryPassword: "pw" }), "berth:registryPassword: must be stored as a secret: pulumi config set --secret berth:registryPassword <value> --stack production"],
  ["registry password without a registry", raw(MINIMAL, { registryPassword: "pw" }), "berth:registryPassword: set, but app.registry is not: say which registry and user it is for"],
  ["digest that is a tag", raw(withValue(MINIMAL, "app.digest", "v1")), "berth:app.digest: must be an image digest: sha256: and 64 lowercase hex digits"],
  ["memory unparsable", raw(withValue(MINIMAL, "app.memory", "lots")), "berth:app.memory: must be a memory size such as 512m or 1g"],
  ["env name invalid", raw(withValue(MINIMAL, "app.env", { "NODE-ENV": "production" })), "berth:app.env.NODE-ENV: must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"],
  ["env value not a string", raw(withValue(MINIMAL, "app.env", { WORKERS: 4 })), "berth:app.env.WORKERS: must be a string (quote numbers and booleans)"],
  ["env name collides with the database URL", raw({ ...withValue(MINIMAL, "app.env", { DATABASE_URL: "x" }), database: {} }), "berth:database.envName: must not reuse DATABASE_URL, already set by app.env"],
  ["health path not a path", raw(withValue(MINIMAL, "app.healthCheck", { path: "health" })), "berth:app.healthCheck.path: must be a URL path starting with '/' (letters, digits, '.', '_', '~', '-', '/')"],
  ["generated secret too short", raw(withValue(MINIMAL, "app.generatedSecrets", { SESSION_SECRET: { length: 8 } })), "berth:app.generatedSecrets.SESSION_SECRET.length: must be at least 16 characters"],
  ["worker called web", raw(withValue(MINIMAL, "app.processes", { web: { command: ["x"] } })), "berth:app.processes: must not redefine 'web': the web process is app.command"],
  ["relative volume path", raw(withValue(MINIMAL, "app.volumes", [{ name: "uploads", path: "storage" }])), "berth:app.volumes[0].path: must be an absolute path of letters, digits, '.', '_', '-' and '/'"],
  ["letsencrypt without email", raw({ ...MINIMAL, tls: { mode: "letsencrypt" } }), "berth:tls.email: must be an email address for the ACME account"],
  ["unknown TLS mode", raw({ ...MINIMAL, tls: { mode: "acme" } }), "berth:tls.mode: must have mode: self-signed, letsencrypt or cloudflare-origin"],
  ["cloudflare without zone", raw({ ...MINIMAL, dns: { provider: "cloudflare", target: "203.0.113.10" } }), "berth:dns.zoneId: required"],
  ["body size with a directive", raw(withValue(MINIMAL, "nginx", { clientMaxBodySize: "10m; return 200" })), "berth:nginx.clientMaxBodySize: must be an nginx size such as 25m, 512k or 1g"],
  ["service with a relative command", raw({ ...MINIMAL, services: [{ name: "api", execStart: ["uvicorn", "app:app"] }] }), "berth:services[0].execStart: must start with an absolute path to the executable"],
  ["timer with a newline", raw({ ...MINIMAL, services: [{ name: "backup", execStart: ["/usr/bin/true"], timer: { onCalendar: "daily\nExecStart=/bin/sh" } }] }), "berth:services[0].timer.onCalendar: must be a systemd OnCalendar expression such as daily or *-*-* 03:00:00"],
  ["a block stored as a secret", { ...raw(MINIMAL), secretKeys: new Set(["berth:app"]) }, "berth:app: must not be a secret; keep secrets under berth:secrets"],
  ["same port for http and https", raw(withValue(MINIMAL, "nginx", { httpPort: 8443, httpsPort: 8443 })), "berth:nginx.httpsPort: must differ from nginx.httpPort"],
  ["block that is not an object", raw({ ...MINIMAL, app: "ghcr.io/acme/demo:v1" }), "berth:app: must be an object"],
];

describe("bad input is rejected with the key path", () => {
  it.each(BAD)("%s", (_what, input, line) => {
    expect(problemsOf(input)).toContain(line);
  });

  it("has at least 20 cases", () => {
    expect(BAD.length).toBeGreaterThanOrEqual(20);
  });

  it("reports every problem at once, one per line", () => {
    const input = raw({
      site: { name: "Demo", domains: ["ok.example.com;"] },
      host: { address: "203.0.113.10", privateKeyFile: "/k" },
      app: { image: "ghcr.io/acme/demo", tag: "v 1", port: 0, colour: "blue" },
    });
    let message = "";
    try {
      parseStackConfig(input);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message.split("\n")).toEqual([
      "invalid stack configuration (5 problems):",
      "berth:site.name: must be a site name: a lowercase letter, then up to 30 of [a-z0-9-]",
      "berth:site.domains[0]: must be a lowercase hostname such as app.example.com (letters, digits, '-' and '.', optional leading '*.')",
      "berth:app.tag: must be an image tag: 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'",
      "berth:app.port: must be a container port number (1-65535)",
      "berth:app.colour: unknown key; allowed keys: image, tag, digest, registry, port, command, healthCheck, memory, restart, env, secretEnv, generatedSecrets, processes, volumes, stopTimeout, release, healthGate",
    ]);
  });

  it("never echoes a secret value in an error", () => {
    const problems = problemsOf(raw({ ...MINIMAL, app: { ...(MINIMAL.app as object), secretEnv: ["A"] } }, { secrets: { A: "line1\nline2-hunter2" } }));
    expect(problems).toEqual(["berth:secrets.A: must not contain newlines or NUL"]);
    expect(problems.join("\n")).not.toContain("hunter2");
  });
});

import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DatabaseAddon } from "../../components/database-addon";
import { EnvSecrets } from "../../components/env-secrets";
import { Site } from "../../components/site";
import { parseStackConfig } from "../../config/parse";
import { FULL, FULL_SECRETS, FULL_SSH_KEY, HOST_KEY, MINIMAL, raw, withValue, type Values } from "./fixtures";
import { isSecretValue, plain, redacted, settled, startRecording, valueOf, type Recording } from "./recording-mocks";

const DOCKER_SSH_OPTS = ["-i", "/home/op/.ssh/berth/id-0123456789abcdef", "-o", "StrictHostKeyChecking=yes"];
const LOCAL_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nlocal-test-key\n-----END OPENSSH PRIVATE KEY-----\n";

async function build(values: Values, secrets: Record<string, string> = {}, sshKey = LOCAL_KEY): Promise<{ rec: Recording; site: Site }> {
  const rec = await startRecording();
  const secretConfig: Record<string, unknown> = {};
  if (Object.keys(secrets).length > 0) secretConfig.secrets = secrets;
  if (!(values.host as { privateKeyFile?: string }).privateKeyFile) secretConfig.sshPrivateKey = sshKey;
  const parsed = parseStackConfig(raw(values, secretConfig, "test"));
  const site = new Site(parsed.settings.site.name, {
    settings: parsed.settings,
    secrets: Object.fromEntries(Object.entries(parsed.secrets).map(([k, v]) => [k, pulumi.secret(v)])),
    sshPrivateKey: pulumi.secret(sshKey),
    hostKey: parsed.settings.host.hostKey!,
    dockerSshOpts: DOCKER_SSH_OPTS,
    stack: "test",
  });
  await valueOf(site.webPort);
  await settled();
  return { rec, site };
}

const WITH_DB: Values = { ...MINIMAL, database: {} };

afterEach(() => vi.restoreAllMocks());

describe("Site (recording mocks)", () => {
  it("registers exactly the resources of a minimal site with a database", async () => {
    const { rec } = await build(WITH_DB);
    expect(rec.registrations.map((r) => `${r.type} ${r.name}`).sort()).toEqual(
      [
        "berth:site:Site demo",
        "berth:host:Host demo-host",
        "command:remote:Command demo-host-bootstrap",
        "pulumi:providers:docker demo-docker",
        "docker:index/network:Network demo-network",
        "berth:addon:DatabaseAddon demo-postgres",
        "random:index/randomPassword:RandomPassword demo-postgres-password",
        "docker:index/volume:Volume demo-postgres-data",
        "docker:index/remoteImage:RemoteImage demo-postgres-image",
        "docker:index/container:Container demo-postgres-server",
        "random:index/randomPassword:RandomPassword demo-postgres-login-password",
        "command:remote:Command demo-postgres-login-app_6b86b273",
        "berth:app:AppContainer demo-app",
        "docker:index/remoteImage:RemoteImage demo-app-image",
        "command:remote:Command demo-app-port-v1",
        "docker:index/container:Container demo-app-web-v1",
        "berth:addon:DatabaseBackup demo-backup",
        "command:remote:Command demo-backup-backup-script",
        "command:remote:Command demo-backup-restore-drill-script",
        "command:remote:Command demo-backup-pre-deploy",
        "berth:host:SystemdUnit demo-backup-daily",
        "command:remote:Command demo-backup-daily-units",
        "berth:app:HealthGate demo-app-gate",
        "command:remote:Command demo-app-gate-poll",
        "berth:edge:DnsTls demo-edge",
        "command:remote:Command demo-edge-certificate",
        "berth:host:NginxVhost demo-vhost",
        "command:remote:Command demo-vhost-site",
        "berth:app:ReleaseCleanup demo-cleanup",
        "command:remote:Command demo-cleanup-containers",
      ].sort(),
    );
  });

  it("wires the app: pinned image, loopback port, health gate, network, labels", async () => {
    const { rec } = await build(WITH_DB);
    const image = rec.named("demo-app-image").inputs;
    expect(image).toEqual({ name: "ghcr.io/acme/demo:v1", keepLocally: true });
    const web = plain(rec.named("demo-app-web-v1").inputs);
    expect(web.image).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Published on the port reserved on the host (the mock's reservation prints 49153), not one Docker picks.
    expect(web.ports).toEqual([{ internal: 8080, external: 49153, ip: "127.0.0.1" }]);
    expect(web.name).toBeUndefined();
    expect(web.labels).toEqual([
      { label: "berth.site", value: "demo" },
      { label: "berth.process", value: "web" },
      { label: "berth.image", value: "ghcr.io/acme/demo:v1" },
      { label: "berth.tag", value: "v1" },
    ]);
    expect(web.healthcheck).toEqual({
      tests: ["CMD-SHELL", "curl -fsS -o /dev/null http://127.0.0.1:8080/api/health || exit 1"],
      interval: "5s",
      timeout: "3s",
      retries: 5,
      startPeriod: "10s",
    });
    expect(web.wait).toBeUndefined();
    expect(web.memory).toBe(768);
    // Unset, Docker's own value (2 × memory) is read back and shows as a change on the next up.
    expect(web.memorySwap).toBe(768);
    expect(web.restart).toBe("unless-stopped");
    expect(web.networksAdvanced).toEqual([{ name: "berth-demo-test" }]);
    expect(web.envs).toHaveLength(2);
    expect(web.envs[0]).toMatch(/^DATABASE_URL=postgres:\/\/app_6b86b273:pw[0-9a-f]{30}@postgres:5432\/app$/);
    expect(web.envs[1]).toBe("PORT=8080");
  });

  it("feeds the reserved port into the nginx upstream", async () => {
    const { rec, site } = await build(WITH_DB);
    const port = await valueOf(site.webPort);
    expect(port).toBe(49153);
    const create: string = plain(rec.named("demo-vhost-site").inputs).create;
    expect(create).toContain("upstream berth_demo {");
    expect(create).toContain("server 127.0.0.1:49153;");
    expect(create).toContain("server_name demo.example.com;");
    expect(create).toContain("nginx -t");
  });

  it("changes only the app when the tag changes; the database and its volume stay identical", async () => {
    const v1 = (await build(WITH_DB)).rec;
    const v2 = (await build(withValue(WITH_DB, "app.tag", "v2"))).rec;
    // Each release is its own container resource, so a failed one never marks the running one for deletion.
    expect(v2.ofType("docker:index/container:Container").map((r) => r.name).sort()).toEqual(["demo-app-web-v2", "demo-postgres-server"]);
    const web1 = plain(v1.named("demo-app-web-v1").inputs);
    const web2 = plain(v2.named("demo-app-web-v2").inputs);
    expect(web1.image).not.toBe(web2.image);
    expect(web1.labels.find((l: any) => l.label === "berth.tag").value).toBe("v1");
    expect(web2.labels.find((l: any) => l.label === "berth.tag").value).toBe("v2");
    expect(plain(v2.named("demo-app-image").inputs).name).toBe("ghcr.io/acme/demo:v2");
    for (const name of ["demo-postgres-data", "demo-postgres-server", "demo-postgres-password", "demo-network", "demo-backup-backup-script"]) {
      expect(plain(v2.named(name).inputs)).toEqual(plain(v1.named(name).inputs));
    }
    expect(plain(v2.named("demo-backup-pre-deploy").inputs).triggers).toEqual(["ghcr.io/acme/demo:v2"]);
    expect(plain(v2.named("demo-backup-pre-deploy").inputs).create).toBe("'/usr/local/sbin/berth-demo-backup' 'v2'\n");
    expect(plain(v1.named("demo-postgres-data").inputs)).toEqual({
      name: "berth-demo-test-postgres-data",
      labels: [{ label: "berth.site", value: "demo" }],
    });
  });

  it("asks every host command not to send the previous output through SSH setenv (a stock sshd refuses it)", async () => {
    const { rec } = await build(FULL, FULL_SECRETS, FULL_SSH_KEY);
    const commands = rec.registrations.filter((r) => r.type === "command:remote:Command");
    expect(commands.length).toBeGreaterThan(5);
    for (const c of commands) expect(plain(c.inputs).addPreviousOutputInEnv, c.name).toBe(false);
  });

  it("derives every child name from the site name", async () => {
    const { rec } = await build(FULL, FULL_SECRETS, FULL_SSH_KEY);
    for (const r of rec.registrations) expect(r.name === "shop" || r.name.startsWith("shop-"), r.name).toBe(true);
  });

  it("registers outputs for every component", async () => {
    const calls: string[] = [];
    const original = pulumi.ComponentResource.prototype["registerOutputs"];
    vi.spyOn(pulumi.ComponentResource.prototype as any, "registerOutputs").mockImplementation(function (this: any, outputs: unknown) {
      // The base class registers its (empty) `initialize` result itself; count the components' own calls.
      if (outputs && Object.keys(outputs).length > 0) calls.push(`${this.__pulumiType} ${this.__name}`);
      return original.call(this, outputs as any);
    });
    const { rec } = await build(FULL, FULL_SECRETS, FULL_SSH_KEY);
    const components = rec.registrations.filter((r) => r.type.startsWith("berth:")).map((r) => `${r.type} ${r.name}`);
    expect(components.length).toBeGreaterThanOrEqual(9);
    expect(calls.sort()).toEqual(components.sort());
  });

  it("keeps every secret out of plaintext inputs", async () => {
    const { rec } = await build(FULL, FULL_SECRETS, FULL_SSH_KEY);
    const visible = JSON.stringify(rec.registrations.map((r) => redacted(r.inputs)));
    expect(rec.ofType("random:index/randomPassword:RandomPassword")).toHaveLength(4); // postgres server and login, redis, SESSION_SECRET
    expect(visible).not.toContain(FULL_SECRETS.STRIPE_SECRET_KEY);
    expect(visible).not.toContain("mock\n-----END OPENSSH");
    expect(visible).not.toMatch(/pw[0-9a-f]{30}/);
    // ...while they do reach the containers and the host, as secrets.
    const web = rec.named("shop-app-web-2026.11.1").inputs;
    expect(isSecretValue(web.envs)).toBe(true);
    expect(plain(web.envs)).toContain(`STRIPE_SECRET_KEY=${FULL_SECRETS.STRIPE_SECRET_KEY}`);
    expect(plain(web.envs).some((e: string) => /^SESSION_SECRET=pw[0-9a-f]{30}$/.test(e))).toBe(true);
    expect(plain(web.envs).some((e: string) => /^CLOUDRON_POSTGRESQL_URL=postgres:\/\/app_6b86b273:pw[0-9a-f]{30}@postgres:5432\/app$/.test(e))).toBe(true);
    expect(plain(web.envs).some((e: string) => /^REDIS_URL=redis:\/\/:pw[0-9a-f]{30}@redis:6379\/0$/.test(e))).toBe(true);
    const envFile = rec.named("shop-service-shop-backup-env").inputs;
    expect(isSecretValue(envFile.stdin)).toBe(true);
    expect(plain(envFile.stdin)).toBe(`BACKUP_DIR="/var/backups/shop"\nSTRIPE_SECRET_KEY="${FULL_SECRETS.STRIPE_SECRET_KEY}"\n`);
    expect(envFile.logging).toBe("none");
    expect(isSecretValue(rec.named("shop-host-bootstrap").inputs.connection)).toBe(true);
  });

  it("runs the web and worker processes from one image, with the volume mounted in both", async () => {
    const { rec } = await build(FULL, FULL_SECRETS, FULL_SSH_KEY);
    const web = plain(rec.named("shop-app-web-2026.11.1").inputs);
    const worker = plain(rec.named("shop-app-worker-2026.11.1").inputs);
    expect(worker.image).toBe(web.image);
    expect(worker.command).toEqual(["bundle", "exec", "sidekiq"]);
    expect(worker.ports).toBeUndefined();
    expect(worker.envs).toEqual(web.envs);
    const mount = [{ volumeName: "berth-shop-test-uploads", containerPath: "/app/storage" }];
    expect(web.volumes).toEqual(mount);
    expect(worker.volumes).toEqual(mount);
    expect(plain(rec.named("shop-app-volume-uploads").inputs).name).toBe("berth-shop-test-uploads");
  });

  it("declares Cloudflare DNS records with the v6 DnsRecord arguments", async () => {
    const { rec } = await build(FULL, FULL_SECRETS, FULL_SSH_KEY);
    const records = rec.ofType("cloudflare:index/dnsRecord:DnsRecord");
    expect(records.map((r) => r.name).sort()).toEqual(["shop-edge-record-shop-example-com", "shop-edge-record-www-shop-example-com"]);
    expect(plain(rec.named("shop-edge-record-shop-example-com").inputs)).toEqual({
      zoneId: "0123456789abcdef0123456789abcdef",
      name: "shop.example.com",
      type: "A",
      content: "203.0.113.10",
      proxied: true,
      ttl: 1,
      comment: "managed by berth",
    });
  });

  it("gets a Let's Encrypt certificate after the vhost, with a renewal timer", async () => {
    const { rec } = await build(FULL, FULL_SECRETS, FULL_SSH_KEY);
    const placeholder: string = plain(rec.named("shop-edge-certificate").inputs).create;
    expect(placeholder).toContain("-days 7");
    expect(placeholder).toContain("certificate present");
    const issue: string = plain(rec.named("shop-letsencrypt-issue").inputs).create;
    expect(issue).toContain("certbot certonly --non-interactive --agree-tos --email 'ops@example.com' --server 'https://acme-v02.api.letsencrypt.org/directory' --webroot -w '/var/www/berth-acme/shop'");
    expect(issue).toContain("-d 'shop.example.com' -d 'www.shop.example.com'");
    const units: string = plain(rec.named("shop-letsencrypt-renew-units").inputs).create;
    expect(units).toContain("OnCalendar=*-*-* 03,15:27:00");
    expect(units).toContain('ExecStart=/usr/bin/certbot "renew" "--quiet" "--cert-name" "berth-shop"');
    expect(units).toContain("systemctl enable --now 'berth-shop-certbot-renew.timer'");
    expect(plain(rec.named("shop-host-bootstrap").inputs).create).toContain("certbot:certbot");
  });

  it("serves a static front end and proxies only the listed paths (seed 002)", async () => {
    const { rec } = await build(FULL, FULL_SECRETS, FULL_SSH_KEY);
    const create: string = plain(rec.named("shop-vhost-site").inputs).create;
    expect(create).toContain("root /srv/shop/dist;");
    expect(create).toContain("try_files $uri $uri/ /index.html;");
    expect(create).toContain("location ^~ /api {");
    expect(create).toContain("location ^~ /auth {");
    expect(create).toContain("client_max_body_size 50m;");
  });

  it("installs host services and timers as systemd units", async () => {
    const { rec } = await build(FULL, FULL_SECRETS, FULL_SSH_KEY);
    const units = plain(rec.named("shop-service-shop-backup-units").inputs);
    expect(units.triggers).toEqual(["shop-backup.service", "shop-backup.timer"]);
    expect(units.create).toContain("EnvironmentFile=/etc/berth/shop/shop-backup.env");
    expect(units.create).toContain("ProtectSystem=strict");
    expect(units.create).toContain("ReadWritePaths=/var/backups/shop");
    expect(units.create).toContain("OnCalendar=*-*-* 03:00:00");
    expect(units.create).not.toContain(FULL_SECRETS.STRIPE_SECRET_KEY);
    expect(units.delete).toContain("systemctl disable --now");
  });

  it("obtains a Cloudflare origin certificate from a CSR made on the host", async () => {
    const values = { ...FULL, tls: { mode: "cloudflare-origin" } };
    const { rec } = await build(values, FULL_SECRETS, FULL_SSH_KEY);
    expect(plain(rec.named("shop-edge-origin-csr").inputs).create).toContain("openssl req -new -sha256 -key '/etc/berth/shop/tls/privkey.pem'");
    expect(plain(rec.named("shop-edge-origin-certificate").inputs)).toEqual({
      csr: "-----BEGIN CERTIFICATE REQUEST-----",
      hostnames: ["shop.example.com", "www.shop.example.com"],
      requestType: "origin-rsa",
      requestedValidity: 5475,
    });
    expect(plain(rec.named("shop-edge-certificate").inputs).stdin).toContain("BEGIN CERTIFICATE");
    expect(rec.ofType("berth:edge:LetsEncryptCertificate")).toEqual([]);
  });
});

describe("components alone", () => {
  it("DatabaseAddon: the app logs in as a role made with the password in state, on stdin, before the URL is given out", async () => {
    const rec = await startRecording();
    const pg = new DatabaseAddon("db", { engine: "postgres", siteName: "s", network: "n", volumeName: "v", connection: { host: "h" } });
    expect(await valueOf(pg.url)).toMatch(/^postgres:\/\/app_6b86b273:pw[0-9a-f]{30}@postgres:5432\/app$/);
    await settled();
    const login = rec.named("db-login-app_6b86b273");
    expect(login.type).toBe("command:remote:Command");
    const inputs = plain(login.inputs);
    expect(inputs.create).toContain("docker exec -i \"$container\" psql -v ON_ERROR_STOP=1 -q -U 'app' -d postgres");
    expect(inputs.create).not.toMatch(/pw[0-9a-f]{30}/);
    expect(isSecretValue(login.inputs.stdin)).toBe(true);
    expect(inputs.stdin).toMatch(/CREATE ROLE "app_6b86b273" WITH LOGIN PASSWORD 'pw[0-9a-f]{30}';/);
    expect(inputs.delete).toContain('DROP ROLE "app_6b86b273";');
    expect(inputs.addPreviousOutputInEnv).toBe(false);
    // The server's own password is for initdb only and never rotates; the login's rotates by its keeper.
    expect(plain(rec.named("db-password").inputs)).toEqual({ length: 32, special: false });
    expect(plain(rec.named("db-login-password").inputs)).toEqual({ length: 32, special: false, keepers: { rotation: "1" } });
  });

  it("DatabaseAddon: a rotation is a new login role and password beside the old one", async () => {
    const rec = await startRecording();
    const pg = new DatabaseAddon("db", { engine: "postgres", siteName: "s", network: "n", volumeName: "v", connection: { host: "h" }, passwordRotation: "2026-11" });
    const url = await valueOf(pg.url);
    await settled();
    const login = `app_${createHash("sha256").update("2026-11").digest("hex").slice(0, 8)}`;
    expect(url.startsWith(`postgres://${login}:pw`)).toBe(true);
    expect(rec.named(`db-login-${login}`).type).toBe("command:remote:Command");
    expect(plain(rec.named("db-login-password").inputs).keepers).toEqual({ rotation: "2026-11" });
  });

  it("DatabaseAddon: the URL is a secret output; redis takes its password from the environment; postgres needs the host", async () => {
    const rec = await startRecording();
    expect(() => new DatabaseAddon("nohost", { engine: "postgres", siteName: "s", network: "n", volumeName: "v" })).toThrow(
      "nohost: a postgres addon needs the host connection, to create the app's login role",
    );
    const pg = new DatabaseAddon("db", { engine: "postgres", siteName: "s", network: "n", volumeName: "v", connection: { host: "h" } });
    const redis = new DatabaseAddon("cache", { engine: "redis", siteName: "s", network: "n", volumeName: "r" });
    expect(await pulumi.isSecret(pg.url)).toBe(true);
    expect(await pulumi.isSecret(redis.url)).toBe(true);
    await settled();
    const server = plain(rec.named("cache-server").inputs);
    expect(server.command).toEqual(["sh", "-c", 'exec redis-server --requirepass "$REDIS_PASSWORD" --appendonly yes --dir /data']);
    expect(server.volumes).toEqual([{ volumeName: "r", containerPath: "/data" }]);
  });

  it("EnvSecrets: generated secrets rotate through their keeper; everything is secret", async () => {
    const rec = await startRecording();
    const secrets = new EnvSecrets("app", { generated: { SESSION_SECRET: { length: 48, rotation: "2026-11" } }, provided: { API_KEY: "k" } });
    expect(secrets.names).toEqual(["API_KEY", "SESSION_SECRET"]);
    expect(await pulumi.isSecret(secrets.env)).toBe(true);
    expect(await valueOf(secrets.env)).toEqual({ API_KEY: "k", SESSION_SECRET: expect.stringMatching(/^pw[0-9a-f]{30}$/) });
    await settled();
    expect(plain(rec.named("app-session-secret").inputs)).toEqual({ length: 48, special: false, keepers: { rotation: "2026-11" } });
  });
});

describe("deploy sequence (recording mocks)", () => {
  it("runs the release phase in a one-off container with the app's environment on stdin, gated before nginx", async () => {
    const { rec } = await build(withValue(WITH_DB, "app.release", ["/app/demo", "migrate"]));
    const release = rec.named("demo-app-release").inputs;
    expect(isSecretValue(release.stdin)).toBe(true);
    const env: string = plain(release.stdin);
    expect(env).toMatch(/^DATABASE_URL=postgres:\/\/app_6b86b273:pw[0-9a-f]{30}@postgres:5432\/app\nPORT=8080\n$/);
    const image = plain(rec.named("demo-app-web-v1").inputs).image as string;
    expect(plain(release.triggers)).toEqual([image]);
    expect(plain(release.create)).toContain(
      `docker run --rm --network 'berth-demo-test' --env-file "$env_file" --label 'berth.site=demo' --label 'berth.process=release' --label 'berth.tag=v1' --entrypoint '' ${image} '/app/demo' 'migrate'`,
    );
    expect(plain(release.create)).not.toContain("pw");
    // Any other change (the environment, a rotated SSH key) is an update, which must not migrate again.
    expect(plain(release.update)).toBe('echo "berth: the release phase runs once per image; this change does not run it again"\n');
    expect(plain(rec.named("demo-backup-pre-deploy").inputs.update)).toBe('echo "berth: the pre-deploy backup runs once per image; this change does not run it again"\n');
    expect(rec.named("demo-app-release").options.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
    const gate: string = plain(rec.named("demo-app-gate-poll").inputs).create;
    expect(gate).toContain("url=http://127.0.0.1:49153/api/health");
    expect(gate).toContain("deadline=$(( $(date +%s) + 60 ))");
    expect(gate).toContain("sleep 1");
  });

  it("installs the backup and restore-drill scripts and a daily backup timer", async () => {
    const { rec } = await build(WITH_DB);
    const script = plain(rec.named("demo-backup-backup-script").inputs);
    expect(script.create).toContain("target='/usr/local/sbin/berth-demo-backup'");
    expect(script.stdin).toContain("pg_dump -Fc -U 'app' -d 'app'");
    expect(script.stdin).toContain("dir='/var/backups/berth/demo'");
    expect(script.stdin).toContain("tail -n +$((14 + 1))");
    const timer: string = plain(rec.named("demo-backup-daily-units").inputs).create;
    expect(timer).toContain('ExecStart=/usr/local/sbin/berth-demo-backup "daily"');
    expect(timer).toContain("OnCalendar=*-*-* 03:30:00");
    expect(plain(rec.named("demo-backup-restore-drill-script").inputs).stdin).toContain("pg_restore --no-owner --exit-on-error");
  });
});

describe("release identity: port, gate, replace order (recording mocks)", () => {
  it("reserves the web port on the host before the container, and publishes exactly that port", async () => {
    const { rec, site } = await build(WITH_DB);
    const reserve = rec.named("demo-app-port-v1");
    expect(plain(reserve.inputs.create)).toMatch(/^mine='\/var\/lib\/berth\/ports\/demo-[0-9a-f]{16}\.port'$/m);
    expect(plain(reserve.inputs.delete)).toMatch(/^rm -f '\/var\/lib\/berth\/ports\/demo-[0-9a-f]{16}\.port'\n$/);
    // The fingerprint is made from the environment, secrets included.
    expect(isSecretValue(reserve.inputs.triggers[0]) || isSecretValue(reserve.inputs.triggers)).toBe(true);
    expect(reserve.inputs.addPreviousOutputInEnv).toBe(false);
    expect(rec.named("demo-app-web-v1").options.dependsOn).toContain("demo-app-port-v1");
    expect(await valueOf(site.webPort)).toBe(49153);
  });

  it.each([
    ["an env change", "app.env", { FEATURE: "on" }],
    ["a healthcheck change (Docker cannot change it in place)", "app.healthCheck", { interval: "7s" }],
    ["a memory change", "app.memory", "1g"],
    ["a command change", "app.command", ["/app/demo", "serve"]],
    ["a generated-secret rotation", "app.generatedSecrets", { SESSION_SECRET: { rotation: "2" } }],
  ])("%s gives the release a new reservation, hence a new port and container", async (_what, key, value) => {
    const base = withValue(WITH_DB, "app.generatedSecrets", { SESSION_SECRET: {} });
    const before = plain(rec0(await build(base)).named("demo-app-port-v1").inputs.triggers);
    const again = plain(rec0(await build(base)).named("demo-app-port-v1").inputs.triggers);
    const after = plain(rec0(await build(withValue(base, key, value))).named("demo-app-port-v1").inputs.triggers);
    expect(again).toEqual(before);
    expect(after).not.toEqual(before);
  });

  it("starts the workers only after the new web container passed the gate, which runs on the reserved port", async () => {
    const { rec } = await build(FULL, FULL_SECRETS, FULL_SSH_KEY);
    const gate = rec.named("shop-app-gate-poll");
    expect(gate.options.dependsOn).toEqual(expect.arrayContaining(["shop-app-port-2026.11.1", "shop-app-web-2026.11.1"]));
    expect(rec.named("shop-app-worker-2026.11.1").options.dependsOn).toContain("shop-app-gate-poll");
    expect(rec.named("shop-app-web-2026.11.1").options.dependsOn).not.toContain("shop-app-gate-poll");
    // The vhost switches after the gate too.
    expect(rec.named("shop-vhost-site").options.dependsOn).toContain("shop-app-gate-poll");
  });

  it("checks the host key on every connection: the command connections and Docker's ssh transport", async () => {
    const { rec } = await build(WITH_DB);
    expect(plain(rec.named("demo-host-bootstrap").inputs.connection).hostKey).toBe(HOST_KEY);
    expect(plain(rec.named("demo-app-gate-poll").inputs.connection).hostKey).toBe(HOST_KEY);
    expect(rec.named("demo-docker").inputs.sshOpts).toEqual(JSON.stringify(DOCKER_SSH_OPTS));
  });

  it("pulls a pinned digest, with the registry's credentials from a secret", async () => {
    const digest = `sha256:${"ab".repeat(32)}`;
    const values = withValue(withValue(WITH_DB, "app.registry", { address: "ghcr.io", username: "deploy" }), "app.digest", digest);
    const rec = await startRecording();
    const parsed = parseStackConfig(raw(values, { registryPassword: "registry-pw-never-plain" }, "test"));
    new Site("demo", {
      settings: parsed.settings,
      secrets: {},
      sshPrivateKey: pulumi.secret(LOCAL_KEY),
      hostKey: HOST_KEY,
      registryPassword: pulumi.secret("registry-pw-never-plain"),
      stack: "test",
    });
    await settled();
    expect(plain(rec.named("demo-app-image").inputs)).toEqual({ name: `ghcr.io/acme/demo@${digest}`, keepLocally: true });
    // The tag still names the release and shows in the labels.
    expect(plain(rec.named("demo-app-web-v1").inputs).labels).toContainEqual({ label: "berth.tag", value: "v1" });
    const provider = rec.named("demo-docker").inputs;
    expect(JSON.parse(plain(provider.registryAuth))).toEqual([{ address: "ghcr.io", username: "deploy", password: "registry-pw-never-plain" }]);
    expect(JSON.stringify(redacted(rec.registrations.map((r) => r.inputs)))).not.toContain("registry-pw-never-plain");
  });

  it("installs or checks Docker on the host before any Docker resource", async () => {
    const { rec } = await build(WITH_DB);
    expect(plain(rec.named("demo-host-bootstrap").inputs.create)).toContain("docker.io");
    expect(rec.named("demo-docker").options.dependsOn).toEqual(["demo-host-bootstrap"]);
  });

  it("after the switch, removes every app container of the site but the serving release's, gracefully", async () => {
    const { rec } = await build(FULL, FULL_SECRETS, FULL_SSH_KEY);
    const cleanup = rec.named("shop-cleanup-containers");
    expect(cleanup.options.dependsOn).toEqual(expect.arrayContaining(["shop-vhost-site", "shop-app-web-2026.11.1", "shop-app-worker-2026.11.1"]));
    const script: string = plain(cleanup.inputs.create);
    expect(script).toContain("--filter label=berth.site='shop' --filter label=berth.process --filter network='berth-shop-test'");
    expect(script).toContain("docker stop -t 30 ");
    const id = (n: string) => createHash("sha256").update(n).digest("hex");
    expect(script).toContain(`keep=' ${[id("shop-app-web-2026.11.1"), id("shop-app-worker-2026.11.1")].sort().join(" ")} '`);
  });

  it("keeps every data volume on a stack rename: retained on delete, its first name kept", async () => {
    const { rec } = await build(FULL, FULL_SECRETS, FULL_SSH_KEY);
    for (const name of ["shop-postgres-data", "shop-redis-data", "shop-app-volume-uploads"]) {
      expect(rec.named(name).options).toMatchObject({ retainOnDelete: true, ignoreChanges: ["name"] });
    }
  });

  it("keeps the gate's old name as an alias, and replaces app containers create-before-delete", async () => {
    const { rec } = await build(FULL, FULL_SECRETS, FULL_SSH_KEY);
    expect(rec.named("shop-app-gate").options.aliasNames).toEqual(["shop-gate"]);
    expect(rec.named("shop-app-web-2026.11.1").options.deleteBeforeReplace).toBe(false);
    expect(rec.named("shop-app-worker-2026.11.1").options.deleteBeforeReplace).toBe(false);
  });
});

const rec0 = (built: { rec: Recording }) => built.rec;

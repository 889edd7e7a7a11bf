/**
 * The real Pulumi CLI (file backend, passphrase secrets) running the berth program: bad stack
 * config is reported by `pulumi preview` all at once, one `berth:<path>: ...` line per problem,
 * without a stack trace, and before any resource is registered.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";

const REPO = path.resolve(__dirname, "../..");
let dir: string;
let env: Record<string, string>;

async function pulumi(args: string[], input?: string) {
  const r = await execa("pulumi", [...args, "--non-interactive"], { cwd: dir, env: { ...process.env, ...env }, reject: false, input, all: true });
  return { exitCode: r.exitCode ?? -1, all: String(r.all) };
}
function writeStack(config: Record<string, unknown>) {
  const file = path.join(dir, "Pulumi.ci.yaml");
  const existing = fs.existsSync(file) ? (fs.readFileSync(file, "utf8").match(/^encryptionsalt: .*$/m)?.[0] ?? "") : "";
  fs.writeFileSync(file, `${existing}\n${stringify({ config: Object.fromEntries(Object.entries(config).map(([k, v]) => [`berth:${k}`, v])) })}`);
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-cli-"));
  fs.mkdirSync(path.join(dir, "state"));
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), `name: berth\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: ${REPO}\n`);
  env = {
    PATH: `${inject("cliBin")}:${process.env.PATH}`,
    PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: "berth-cli-test",
    PULUMI_HOME: path.join(dir, "home"),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  };
  const init = await pulumi(["stack", "init", "ci", "--secrets-provider", "passphrase"]);
  expect(init.exitCode, init.all).toBe(0);
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("pulumi preview on bad stack config (real CLI)", () => {
  it("reports every problem at once, by key path, and registers nothing", async () => {
    writeStack({
      site: { name: "demo", domains: ["demo.example.com\nreturn 200", "ok.example.com"] },
      host: { address: "203.0.113.10", sshPort: 70000, privateKeyFile: "/nonexistent" },
      app: { image: "ghcr.io/acme/demo", tag: "v1 beta", colour: "blue" },
      nginx: { clientMaxBodySize: "10m; return 200" },
    });
    const r = await pulumi(["preview", "--stack", "ci"]);
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toContain("invalid stack configuration (5 problems):");
    for (const line of [
      "berth:site.domains[0]: must be a lowercase hostname such as app.example.com (letters, digits, '-' and '.', optional leading '*.')",
      "berth:host.sshPort: must be a SSH port number (1-65535)",
      "berth:app.tag: must be an image tag: 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'",
      "berth:app.colour: unknown key; allowed keys: image, tag, digest, registry, port, command, healthCheck, memory, restart, env, secretEnv, generatedSecrets, processes, volumes, stopTimeout, release, healthGate",
      "berth:nginx.clientMaxBodySize: must be an nginx size such as 25m, 512k or 1g",
    ]) {
      expect(r.all).toContain(line);
    }
    // A RunError: the list, not a stack trace burying it.
    expect(r.all).not.toMatch(/at (Object|Module)\.|\.ts:\d+:\d+/);
    expect(r.all).not.toMatch(/\+\s+(docker|command|random):/);
    const state = await pulumi(["stack", "export", "--stack", "ci"]);
    expect(JSON.parse(state.all).deployment.resources ?? []).toEqual([]);
  });

  it("refuses a plaintext SSH key and names the command that stores it encrypted", async () => {
    writeStack({ site: { name: "demo", domains: ["demo.example.com"] }, host: { address: "203.0.113.10" }, app: { image: "ghcr.io/acme/demo", tag: "v1" } });
    const set = await pulumi(["config", "set", "berth:sshPrivateKey", "--stack", "ci"], "-----BEGIN OPENSSH PRIVATE KEY-----\n");
    expect(set.exitCode, set.all).toBe(0);
    const r = await pulumi(["preview", "--stack", "ci"]);
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toContain("berth:sshPrivateKey: must be stored as a secret: pulumi config set --secret berth:sshPrivateKey < ~/.ssh/id_ed25519 --stack ci");
  });

  it("takes an encrypted key and then stops only at what the stack still lacks", async () => {
    writeStack({
      site: { name: "demo", domains: ["demo.example.com"] },
      host: { address: "203.0.113.10", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDliyf1LPmCxhEhQmLqlT+U90fK3PDUyq67mKQzZmc+C" },
      app: { image: "ghcr.io/acme/demo", tag: "v1", secretEnv: ["STRIPE_SECRET_KEY"] },
    });
    const set = await pulumi(["config", "set", "--secret", "berth:sshPrivateKey", "--stack", "ci"], "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-body-never-printed\n");
    expect(set.exitCode, set.all).toBe(0);
    expect(fs.readFileSync(path.join(dir, "Pulumi.ci.yaml"), "utf8")).not.toContain("secret-body-never-printed");
    const r = await pulumi(["preview", "--stack", "ci"]);
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toContain("invalid stack configuration (1 problem):");
    expect(r.all).toContain(
      "berth:secrets.STRIPE_SECRET_KEY: required by app.secretEnv[0]; set it with: pulumi config set --secret --path 'berth:secrets.STRIPE_SECRET_KEY' <value> --stack ci",
    );
    expect(r.all).not.toContain("secret-body-never-printed");
  });
});

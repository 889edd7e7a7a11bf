/**
 * A berth stack on the devhost, driven by the Automation API against the real Pulumi CLI with a
 * file backend. The project lives in a temporary directory whose Pulumi.yaml points `main` at the
 * repository, so tests edit a stack file the way an operator does without touching the repo's.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalWorkspace, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";
import { execa } from "execa";
import { parseDocument } from "yaml";

export const REPO = path.resolve(__dirname, "../..");
export const PASSPHRASE = "berth-e2e-passphrase";

export interface LocalStack {
  stack: Stack;
  name: string;
  /** The temporary project directory. */
  dir: string;
  /** The stack file, as an operator edits it. */
  file: string;
  /** The file backend's directory (state lives here). */
  backend: string;
  /** Environment for running the `pulumi` CLI by hand against this stack. */
  env: Record<string, string>;
  /** Replaces `berth:<key>` entries in the stack file, keeping secrets and the salt. */
  setConfig(values: Record<string, unknown>): void;
  /** Removes `berth:<key>` entries. */
  removeConfig(...keys: string[]): void;
  /** The whole state as the backend stores it. */
  stateText(): string;
  /** Runs the CLI by hand (for what the Automation API does not expose). */
  cli(args: string[], opts?: { reject?: boolean }): Promise<{ exitCode: number; stdout: string; stderr: string }>;
}

export async function createLocalStack(opts: {
  name: string;
  engineBin: string;
  pluginBin: string;
  values: Record<string, unknown>;
  /** Extra environment for the engine and its plugins. */
  env?: Record<string, string>;
}): Promise<LocalStack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `berth-e2e-${opts.name}-`));
  const backend = path.join(dir, "state");
  fs.mkdirSync(backend);
  fs.writeFileSync(
    path.join(dir, "Pulumi.yaml"),
    `name: berth\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: ${REPO}\n`,
  );
  const env: Record<string, string> = {
    // The engine first, then the stand-ins for the providers with no real plugin (scripts/standins.sh).
    PATH: `${opts.engineBin}:${opts.pluginBin}:${process.env.PATH}`,
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    ...opts.env,
    // PULUMI_HOME stays the user's: that is where `pulumi plugin install` puts real plugins,
    // which scripts/standins.sh lets win over the stand-ins.
  };
  const pulumiCommand = await PulumiCommand.get({ root: path.dirname(opts.engineBin), skipVersionCheck: false });
  const stack = await LocalWorkspace.createStack({ stackName: opts.name, workDir: dir }, { envVars: env, pulumiCommand, secretsProvider: "passphrase" });
  const file = path.join(dir, `Pulumi.${opts.name}.yaml`);

  const edit = (fn: (config: Record<string, unknown>) => void) => {
    const doc = parseDocument(fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "{}");
    const json = (doc.toJS() ?? {}) as { config?: Record<string, unknown> } & Record<string, unknown>;
    json.config ??= {};
    fn(json.config);
    const out = parseDocument("{}");
    out.contents = out.createNode(json) as never;
    fs.writeFileSync(file, out.toString());
  };
  const local: LocalStack = {
    stack,
    name: opts.name,
    dir,
    file,
    backend,
    env,
    setConfig: (values) => edit((c) => Object.entries(values).forEach(([k, v]) => (c[`berth:${k}`] = v))),
    removeConfig: (...keys) => edit((c) => keys.forEach((k) => delete c[`berth:${k}`])),
    stateText: () => readTree(backend),
    async cli(args, o = {}) {
      const r = await execa("pulumi", [...args, "--stack", opts.name, "--non-interactive"], {
        cwd: dir,
        env: { ...process.env, ...env },
        reject: o.reject ?? true,
        all: false,
      });
      return { exitCode: r.exitCode ?? 0, stdout: String(r.stdout), stderr: String(r.stderr) };
    },
  };
  local.setConfig(opts.values);
  return local;
}

/** Every file under a directory, concatenated: the backend keeps state, history and backups. */
function readTree(dir: string): string {
  let out = "";
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out += fs.readFileSync(path.join(entry.parentPath, entry.name), "utf8");
  }
  return out;
}

export const HTTP_PORT = 18080;
export const HTTPS_PORT = 18443;

/** The stack config of a site on the devhost with the demo app; tests override what they exercise. */
export function devhostSite(
  devhost: { address: string; sshPort: number; user: string; keyFile: string },
  site: string,
  domain: string,
) {
  return {
    site: { name: site, domains: [domain] },
    host: {
      address: devhost.address,
      sshPort: devhost.sshPort,
      user: devhost.user,
      privateKeyFile: devhost.keyFile,
      // scripts/devhost.sh puts the devhost's sshd host key there; every connection checks it.
      hostKeyFile: path.join(REPO, ".berth/devhost/host_key.pub"),
      // The devhost shares this machine's Docker engine, as a single server shares its own.
      dockerHost: "unix:///var/run/docker.sock",
      installPackages: false,
    },
    app: {
      image: "berth-demo",
      tag: "v1",
      port: 8080,
      memory: "256m",
      // Spelled unlike Go's Duration.String() on purpose: Docker reads these back as "1s" and "2s",
      // and a second up must still change nothing.
      healthCheck: { interval: "1000ms", startPeriod: "1s", retries: 30, timeout: "2000ms" },
      stopTimeout: 10,
    } as Record<string, unknown>,
    database: { image: "berth/postgres", tag: "15" } as Record<string, unknown>,
    nginx: { httpPort: HTTP_PORT, httpsPort: HTTPS_PORT } as Record<string, unknown>,
    tls: { mode: "self-signed" } as Record<string, unknown>,
  };
}

/**
 * Readies what runs against the devhost: the Pulumi engine (built from Go modules when no pinned
 * CLI is installed), the Docker engine, the local images and the devhost. Each script is
 * idempotent, so a warm machine passes through in seconds. Shared by the e2e setup and bench/.
 */
import { execa } from "execa";

export interface DevhostInfo {
  address: string;
  sshPort: number;
  user: string;
  keyFile: string;
  container: string;
}

export interface EngineInfo {
  /** The Pulumi CLI's bin directory (built from Go modules when no pinned CLI is installed). */
  engineBin: string;
  /** The provider stand-ins' launchers, for the providers with no real plugin (may hold none). */
  pluginBin: string;
  /** Which providers are stand-ins, as `scripts/standins.sh` says it. */
  providers: string;
}

export async function prepareEngine(root: string): Promise<EngineInfo> {
  const engine = await execa("bash", ["scripts/engine.sh", "ensure"], { cwd: root, stderr: "inherit" });
  const plugins = await execa("bash", ["scripts/standins.sh", "ensure"], { cwd: root, stderr: "inherit" });
  const report = await execa("bash", ["scripts/standins.sh", "report"], { cwd: root });
  return {
    engineBin: engine.stdout.trim().split("\n").pop()!,
    pluginBin: plugins.stdout.trim().split("\n").pop()!,
    providers: report.stdout.trim(),
  };
}

export async function prepareEnvironment(root: string): Promise<EngineInfo & { devhost: DevhostInfo }> {
  return { ...(await prepareEngine(root)), devhost: await prepareDevhost(root) };
}

/** Docker, the local images and the devhost, up. */
export async function prepareDevhost(root: string): Promise<DevhostInfo> {
  await execa("bash", ["scripts/devhost.sh", "up"], { cwd: root, stdout: "inherit", stderr: "inherit" });
  const info = Object.fromEntries(
    (await execa("bash", ["scripts/devhost.sh", "info"], { cwd: root })).stdout
      .split(/\s+/)
      .filter((kv) => kv.includes("="))
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
  for (const key of ["DEVHOST_ADDRESS", "DEVHOST_SSH_PORT", "DEVHOST_USER", "DEVHOST_KEY"]) {
    if (!info[key]) throw new Error(`scripts/devhost.sh info did not print ${key}`);
  }
  return {
    address: info.DEVHOST_ADDRESS!,
    sshPort: Number(info.DEVHOST_SSH_PORT),
    user: info.DEVHOST_USER!,
    keyFile: info.DEVHOST_KEY!,
    container: info.DEVHOST_CONTAINER ?? "berth-devhost",
  };
}

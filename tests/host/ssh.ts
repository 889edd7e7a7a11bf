/**
 * Runs a rendered script on the devhost exactly as `@pulumi/command`'s remote.Command does: over
 * SSH, the script as the command string (run by the user's login shell), the secret content on stdin.
 */
import { execa } from "execa";
import type { DevhostInfo } from "../e2e/environment";

export interface HostResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runOnHost(devhost: DevhostInfo, script: string, stdin = ""): Promise<HostResult> {
  const r = await execa(
    "ssh",
    [
      "-i", devhost.keyFile,
      "-p", String(devhost.sshPort),
      "-o", "BatchMode=yes",
      "-o", "StrictHostKeyChecking=no",
      "-o", "UserKnownHostsFile=/dev/null",
      "-o", "LogLevel=ERROR",
      `${devhost.user}@${devhost.address}`,
      script,
    ],
    { input: stdin, reject: false },
  );
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Like runOnHost, but a non-zero exit fails with the script's stderr. */
export async function mustRunOnHost(devhost: DevhostInfo, script: string, stdin = ""): Promise<HostResult> {
  const r = await runOnHost(devhost, script, stdin);
  if (r.exitCode !== 0) throw new Error(`script failed (exit ${r.exitCode}):\n${r.stderr}\n--- script ---\n${script.slice(0, 2000)}`);
  return r;
}

/**
 * Makes sure the real binaries the render tests check against exist. nginx and
 * shellcheck are installed from Debian if missing; systemd-analyze and openssl
 * are expected on the machine. Any failure stops the whole run with the reason,
 * so a test never passes just because its checker was absent.
 */
import { execa } from "execa";

async function onPath(bin: string): Promise<boolean> {
  const r = await execa("sh", ["-c", `command -v ${bin}`], { reject: false, env: { PATH: fullPath() } });
  return r.exitCode === 0;
}

// Non-login shells of some users lack /usr/sbin, where Debian puts nginx.
export function fullPath(): string {
  const extra = ["/usr/local/sbin", "/usr/sbin", "/sbin"];
  const current = (process.env.PATH ?? "").split(":");
  return [...current, ...extra.filter((d) => !current.includes(d))].join(":");
}

export default async function setup(): Promise<void> {
  process.env.PATH = fullPath();
  const missing: string[] = [];
  if (!(await onPath("nginx"))) missing.push("nginx-light");
  if (!(await onPath("shellcheck"))) missing.push("shellcheck");
  if (missing.length > 0) {
    if (process.getuid?.() !== 0) {
      throw new Error(`render tests need ${missing.join(" and ")} (apt-get install -y ${missing.join(" ")}); not root, so cannot install them`);
    }
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    for (const args of [["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", ...missing]]) {
      const r = await execa("apt-get", args, { reject: false, env, all: true });
      if (r.exitCode !== 0) throw new Error(`render tests: apt-get ${args.join(" ")} failed (exit ${r.exitCode}):\n${r.all}`);
    }
  }
  for (const bin of ["nginx", "shellcheck", "systemd-analyze", "openssl", "bash", "flock"]) {
    if (!(await onPath(bin))) throw new Error(`render tests: ${bin} is not on PATH (${process.env.PATH}) after setup`);
  }
}

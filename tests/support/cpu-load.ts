/**
 * A bounded CPU load inside the devhost, for tests that must hold on a busy machine (the nginx switch
 * raced old workers only when the 2-core build machine was loaded). `stress-ng --cpu 2` runs in the
 * devhost container (Debian's stress-ng, installed by images/devhost/Dockerfile), so it competes with
 * nginx, the app containers and the test runner for the same CPUs, as a busy server would.
 */
import { randomUUID } from "node:crypto";
import { execa } from "execa";

/**
 * Runs `fn` while two stress-ng CPU workers keep the devhost busy, and always stops them afterwards.
 * `seconds` bounds the load on its own too (`--timeout`), so a test killed half-way leaves nothing
 * running; it must outlast `fn`, which is checked: a load that ended early would make the test pass
 * without the load it claims, so that fails the call.
 */
export async function withCpuLoad<T>(container: string, seconds: number, fn: () => Promise<T>): Promise<T> {
  if (!Number.isInteger(seconds) || seconds < 1) throw new Error(`withCpuLoad: seconds must be a positive integer, got ${seconds}`);
  // The pid file names this load alone: only the process it started is ever signalled.
  const pidFile = `/run/berth-cpu-load-${randomUUID()}.pid`;
  const exec = (script: string) => execa("docker", ["exec", container, "sh", "-c", script], { reject: false });
  const alive = async () => (await exec(`kill -0 "$(cat ${pidFile})" 2>/dev/null`)).exitCode === 0;
  // `docker exec` does not pass a signal of its client to the process inside, so stress-ng is stopped
  // by its pid, from inside the container.
  const load = execa("docker", ["exec", container, "sh", "-c", `echo $$ > ${pidFile}; exec stress-ng --cpu 2 --timeout ${seconds}s --quiet`], { reject: false });
  try {
    const started = Date.now();
    while (!(await alive())) {
      if (load.exitCode !== null || Date.now() - started > 10_000) {
        const r = await load;
        throw new Error(`stress-ng did not start in ${container} (exit ${r.exitCode}): ${r.stderr || "no output"}; it comes from images/devhost/Dockerfile`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const result = await fn();
    if (!(await alive())) throw new Error(`stress-ng stopped before the work under load finished: ${seconds}s is too short for it`);
    return result;
  } finally {
    await exec(`if [ -s ${pidFile} ]; then kill -TERM "$(cat ${pidFile})" 2>/dev/null || true; fi`);
    await load;
    await exec(`rm -f ${pidFile}`);
  }
}

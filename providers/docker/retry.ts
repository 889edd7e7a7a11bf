/**
 * SDKv2's `retry.StateChangeConf.WaitForStateContext`, the loop KD uses to wait out "has active
 * endpoints" (network delete) and "volume is in use" (volume delete): wait `Delay`, refresh, and
 * while the state is pending wait again (100 ms doubling, at least `MinTimeout`, at most 10 s) until
 * `Timeout`, which fails with the SDK's message (SEMANTICS.md §4, §5).
 */
export interface StateChangeConf {
  delayMs: number;
  minIntervalMs: number;
  timeoutMs: number;
  target: string;
  pending: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function retryUntil(conf: StateChangeConf, refresh: () => Promise<string>): Promise<string> {
  const deadline = Date.now() + conf.timeoutMs;
  await sleep(conf.delayMs);
  let wait = 100;
  let last = "";
  for (;;) {
    last = await refresh();
    if (last === conf.target) return last;
    if (last !== conf.pending) throw new Error(`unexpected state '${last}', wanted target '${conf.target}'. last error: %!s(<nil>)`);
    wait = Math.min(Math.max(wait * 2, conf.minIntervalMs), 10_000);
    if (Date.now() + wait > deadline) {
      await sleep(Math.max(0, deadline - Date.now()));
      throw new Error(`timeout while waiting for state to become '${conf.target}' (last state: '${last}', timeout: ${conf.timeoutMs / 1000}s)`);
    }
    await sleep(wait);
  }
}

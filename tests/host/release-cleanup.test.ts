/**
 * The cleanup that follows the switch, run on the devhost as the ReleaseCleanup Command runs it:
 * only this stack's app containers other than the serving release go, stopped with the timeout.
 */
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { renderReleaseCleanupScript } from "../../renderers/deploy-scripts";
import { mustRunOnHost } from "./ssh";

const SITE = "hostclean";
const devhost = inject("devhost");
const network = `berth-${SITE}-host`;
const other = `berth-${SITE}-other`;
const created: string[] = [];

async function run(labels: string[], net: string): Promise<string> {
  const args = ["run", "-d", "--network", net, ...labels.flatMap((l) => ["--label", l]), "berth-demo:v1"];
  const id = (await execa("docker", args)).stdout.trim();
  created.push(id);
  return id;
}
const exists = async (id: string) => (await execa("docker", ["inspect", id], { reject: false })).exitCode === 0;

let serving: string, servingWorker: string, oldWeb: string, orphanWorker: string, addon: string, otherStack: string;

beforeAll(async () => {
  for (const n of [network, other]) await execa("docker", ["network", "create", "--label", `berth.site=${SITE}`, n]);
  serving = await run([`berth.site=${SITE}`, "berth.process=web", "berth.tag=v2"], network);
  servingWorker = await run([`berth.site=${SITE}`, "berth.process=worker", "berth.tag=v2"], network);
  oldWeb = await run([`berth.site=${SITE}`, "berth.process=web", "berth.tag=v1"], network);
  // What a killed `up` leaves: a worker of a release no state records.
  orphanWorker = await run([`berth.site=${SITE}`, "berth.process=worker", "berth.tag=v3"], network);
  addon = await run([`berth.site=${SITE}`, "berth.addon=postgres"], network);
  otherStack = await run([`berth.site=${SITE}`, "berth.process=web", "berth.tag=v1"], other);
  // A stopped one counts too: Docker would start it again with the daemon.
  await execa("docker", ["stop", "-t", "1", oldWeb]);
});

afterAll(async () => {
  for (const id of created) await execa("docker", ["rm", "-f", id], { reject: false });
  for (const n of [network, other]) await execa("docker", ["network", "rm", n], { reject: false });
});

describe("release cleanup on the devhost", () => {
  it("removes the stack's other app containers, stopped or running, and nothing else", async () => {
    const r = await mustRunOnHost(devhost, renderReleaseCleanupScript({ siteName: SITE, network, keep: [serving, servingWorker], stopTimeoutSeconds: 5 }));
    expect(r.stdout.trim()).toBe("berth: removed 2 container(s) of earlier or interrupted releases");
    expect(await exists(oldWeb)).toBe(false);
    expect(await exists(orphanWorker)).toBe(false);
    for (const kept of [serving, servingWorker, addon, otherStack]) expect(await exists(kept)).toBe(true);
    const again = await mustRunOnHost(devhost, renderReleaseCleanupScript({ siteName: SITE, network, keep: [serving, servingWorker], stopTimeoutSeconds: 5 }));
    expect(again.stdout.trim()).toBe("berth: no container of an earlier release is left");
  });
});

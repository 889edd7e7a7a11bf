/**
 * The web port of a release, reserved on a real host by the script the AppContainer's `-port-`
 * Command runs, and kept by Docker across restarts of the container and of the daemon's view of it.
 */
import { execa } from "execa";
import { afterAll, describe, expect, inject, it } from "vitest";
import { PORT_RESERVATIONS_DIR, renderReleasePortScript, renderReservePortScript } from "../../renderers/deploy-scripts";
import { mustRunOnHost, runOnHost } from "./ssh";

const devhost = inject("devhost");
const KEYS = ["hostport-a", "hostport-b", "hostport-c", "hostport-d"];
const RANGE = { from: 24100, to: 24103 };
const containers: string[] = [];

const reserve = async (key: string, range = RANGE): Promise<number> => Number((await mustRunOnHost(devhost, renderReservePortScript({ key, range }))).stdout.trim());

afterAll(async () => {
  for (const key of KEYS) await runOnHost(devhost, renderReleasePortScript({ key }));
  for (const c of containers) await execa("docker", ["rm", "-f", c], { reject: false });
  await runOnHost(devhost, "pkill -f 'berth-port-test-listener' || true");
});

describe("port reservation on the devhost", () => {
  it("gives two releases two ports, and the same release a port again after its own reservation", async () => {
    const a = await reserve("hostport-a");
    const b = await reserve("hostport-b");
    expect(a).toBe(RANGE.from);
    expect(b).toBe(RANGE.from + 1);
    // A create that is run again (an interrupted up) does not count its own reservation as taken.
    expect(await reserve("hostport-a")).toBe(RANGE.from);
    const files = await mustRunOnHost(devhost, `cat ${PORT_RESERVATIONS_DIR}/hostport-a.port ${PORT_RESERVATIONS_DIR}/hostport-b.port`);
    expect(files.stdout.split("\n")).toEqual([String(a), String(b)]);
  });

  it("skips a port something listens on and a port a stopped container binds", async () => {
    // The third port of the range is held by a listener, the fourth by a container that is not running.
    await mustRunOnHost(devhost, `nohup python3 -c 'import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", ${RANGE.from + 2})); s.listen(); time.sleep(600)  # berth-port-test-listener' >/dev/null 2>&1 &
for _ in $(seq 1 50); do grep -q ":$(printf %04X ${RANGE.from + 2}) .* 0A " /proc/net/tcp && exit 0; sleep 0.1; done; exit 1`);
    const created = await execa("docker", ["create", "-p", `127.0.0.1:${RANGE.from + 3}:8080`, "--label", "berth.test=port-reservation", "berth-demo:v1"]);
    containers.push(created.stdout.trim());
    await runOnHost(devhost, renderReleasePortScript({ key: "hostport-b" }));
    expect(await reserve("hostport-c")).toBe(RANGE.from + 1);
    const full = await runOnHost(devhost, renderReservePortScript({ key: "hostport-d", range: RANGE }));
    expect(full.exitCode).toBe(1);
    expect(full.stderr).toContain(`berth: no free loopback port in ${RANGE.from}-${RANGE.to} for the new release`);
  });

  it("a container published on its reserved port keeps it across docker restart, where a Docker-assigned one moves", async () => {
    await runOnHost(devhost, renderReleasePortScript({ key: "hostport-c" }));
    const port = await reserve("hostport-c");
    const pinned = (await execa("docker", ["run", "-d", "--label", "berth.test=port-reservation", "-p", `127.0.0.1:${port}:8080`, "berth-demo:v1"])).stdout.trim();
    const assigned = (await execa("docker", ["run", "-d", "--label", "berth.test=port-reservation", "-p", "127.0.0.1::8080", "berth-demo:v1"])).stdout.trim();
    containers.push(pinned, assigned);
    const published = async (id: string) => (await execa("docker", ["port", id, "8080/tcp"])).stdout.trim();
    const assignedBefore = await published(assigned);
    await execa("docker", ["restart", "-t", "1", pinned, assigned]);
    expect(await published(pinned)).toBe(`127.0.0.1:${port}`);
    // The review's finding #5, seen on this daemon: the port Docker picked is not kept.
    expect(await published(assigned)).not.toBe(assignedBefore);
  });
});

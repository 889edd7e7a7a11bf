/**
 * SystemdUnit's scripts on a real systemd: the env file and unit scripts rendered exactly as
 * components/systemd-unit.ts renders them, run over SSH in the same order as its two Commands
 * (env file first, then the units), and checked from inside the devhost.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { renderEnvFile } from "../../renderers/env-file";
import { renderHostBootstrapScript, siteDirs } from "../../renderers/host-scripts";
import { shellQuote } from "../../renderers/shell";
import { planSystemdInstall } from "../../renderers/systemd-install";
import { renderSystemdService, type SystemdServiceSpec, type SystemdTimerSpec } from "../../renderers/systemd-unit";
import { eventually, onDevhost } from "../e2e/devhost";
import { mustRunOnHost, runOnHost } from "./ssh";

const SITE = "hostsys";
const devhost = inject("devhost");
const dirs = siteDirs(SITE);
const WEB = "berth-hostsys-web";
const TICK = "berth-hostsys-tick";
const BROKEN = "berth-hostsys-broken";
const MISSING = "berth-hostsys-missing";
const TOGGLE = "berth-hostsys-toggle";
const WEB_PORT = 18090;
const TICKS = `${dirs.data}/ticks`;

interface UnitArgs {
  service: Omit<SystemdServiceSpec, "environmentFile">;
  timer?: Omit<SystemdTimerSpec, "name" | "unit">;
  env?: Record<string, string>;
}

/** What components/systemd-unit.ts runs for these args: its two Commands' scripts and stdin. */
function systemdUnit(args: UnitArgs) {
  const env = args.env ?? {};
  const plan = planSystemdInstall({ service: args.service, timer: args.timer, hasEnv: Object.keys(env).length > 0, envDir: dirs.config });
  return {
    envPath: `${dirs.config}/${args.service.name}.env`,
    serviceUnit: plan.serviceUnit,
    env: plan.env ? { stdin: renderEnvFile(env), create: plan.env.create, delete: plan.env.delete } : undefined,
    units: plan.units,
  };
}

type Rendered = ReturnType<typeof systemdUnit>;

/** `pulumi up` of a fresh SystemdUnit: the env Command, then the units Command. */
async function create(u: Rendered): Promise<string> {
  if (u.env) await mustRunOnHost(devhost, u.env.create, u.env.stdin);
  return (await mustRunOnHost(devhost, u.units.create)).stdout;
}

/**
 * A later `pulumi up` with new args, for the units Command as the engine steps it: the same triggers
 * are an in-place update, which runs the new `create` (when the script changed at all); new triggers
 * are a replacement, ordered by the plan's deleteBeforeReplace (the old `delete` comes from state).
 */
async function update(prev: Rendered, next: Rendered): Promise<void> {
  if (JSON.stringify(prev.units.triggers) === JSON.stringify(next.units.triggers)) {
    if (prev.units.create !== next.units.create) await mustRunOnHost(devhost, next.units.create);
  } else if (next.units.deleteBeforeReplace) {
    await mustRunOnHost(devhost, prev.units.delete);
    await mustRunOnHost(devhost, next.units.create);
  } else {
    await mustRunOnHost(devhost, next.units.create);
    await mustRunOnHost(devhost, prev.units.delete);
  }
}

/** Deleting it: the units Command first (it depends on the env one), then the env file. */
async function destroy(u: Rendered): Promise<void> {
  await mustRunOnHost(devhost, u.units.delete);
  if (u.env) await mustRunOnHost(devhost, u.env.delete);
}

async function sh(script: string): Promise<string> {
  return (await onDevhost(devhost.container, script)).stdout;
}

const invocation = (unit: string) => sh(`systemctl show -p InvocationID --value ${unit}`);

function exposure(out: string): number {
  const m = /Overall exposure level for \S+: ([0-9.]+)/.exec(out);
  if (!m) throw new Error(`no exposure level in:\n${out}`);
  return Number(m[1]);
}

const webService: UnitArgs["service"] = {
  name: WEB,
  description: "berth hostsys: static files over HTTP",
  execStart: ["/usr/bin/python3", "-m", "http.server", String(WEB_PORT), "--bind", "127.0.0.1"],
  user: "nobody",
  workingDirectory: "/usr/share/doc",
};
const webEnv = { GREETING: 'hello "world" $HOME 100%', API_TOKEN: "s3cr3t\\value" };
const web = systemdUnit({ service: webService, env: webEnv });

const tickArgs: UnitArgs = {
  service: {
    name: TICK,
    description: "berth hostsys: append a tick",
    // `$`, `\`, quotes and `>>` reach the shell literally; BERTH_TICK comes from the env file.
    execStart: ["/bin/sh", "-c", `printf '%s\\n' "tick $BERTH_TICK" >> ${TICKS}`],
    readWritePaths: [dirs.data],
  },
  timer: { description: "berth hostsys: tick nightly", onCalendar: "*-*-* 03:15:00", persistent: true, randomizedDelaySec: 60 },
  // systemd must hand the value over unchanged: quotes, backslash, `$` (not expanded) and `%`.
  env: { BERTH_TICK: 'from-env "q" $HOME 100% back\\slash' },
};
const tick = systemdUnit(tickArgs);

const cleanup = `
for u in ${WEB} ${TICK} ${BROKEN} ${MISSING} ${TOGGLE}; do
  for s in service timer; do
    systemctl disable --now "$u.$s" 2>/dev/null || true
    rm -f "/etc/systemd/system/$u.$s"
  done
done
systemctl daemon-reload
for u in ${WEB} ${TICK} ${BROKEN} ${MISSING} ${TOGGLE}; do systemctl reset-failed "$u.service" "$u.timer" 2>/dev/null || true; done
rm -rf ${shellQuote(dirs.config)} ${shellQuote(dirs.data)} ${shellQuote(dirs.acmeWebroot)} /tmp/berth-hostsys-bare
rmdir /etc/berth /var/lib/berth /var/www/berth-acme 2>/dev/null || true
`;

beforeAll(async () => {
  await onDevhost(devhost.container, cleanup, { reject: false });
  // As Host does before every other command: berth's directories for the site.
  await mustRunOnHost(
    devhost,
    renderHostBootstrapScript({
      siteName: SITE,
      requires: [{ command: "systemctl", package: "systemd" }, { command: "python3", package: "python3" }],
      installPackages: false,
    }),
  );
});

afterAll(async () => {
  await onDevhost(devhost.container, cleanup, { reject: false });
});

describe.sequential("SystemdUnit scripts on the devhost", () => {
  it("installs a hardened service that runs as nobody and answers on its port", async () => {
    const out = await create(web);
    expect(out).toContain(`berth: wrote /etc/systemd/system/${WEB}.service`);
    expect(out).toContain("berth: 1 unit file(s) changed");
    expect(await sh(`systemctl is-active ${WEB}.service`)).toBe("active");
    expect(await sh(`systemctl is-enabled ${WEB}.service`)).toBe("enabled");
    expect(await sh(`ps -o user= -p "$(systemctl show -p MainPID --value ${WEB}.service)"`)).toBe("nobody");
    await eventually(
      async () => (await onDevhost(devhost.container, `curl -fsS http://127.0.0.1:${WEB_PORT}/`, { reject: false })).exitCode === 0,
      "the service to answer",
    );
    const page = await sh(`curl -fsS http://127.0.0.1:${WEB_PORT}/`);
    expect(page).toContain("Directory listing for /");
    expect(await sh(`cat /etc/systemd/system/${WEB}.service`)).toBe(web.serviceUnit.trimEnd());
  });

  it("keeps the environment in a root-only file with exactly the rendered content", async () => {
    expect(await sh(`stat -c '%a %U %G' ${web.envPath}`)).toBe("600 root root");
    expect(await sh(`cat ${web.envPath}; echo END`)).toBe(`${renderEnvFile(webEnv)}END`);
    expect(await sh(`ls -A ${dirs.config} | grep "\\.env$"`)).toBe(`${WEB}.env`);
    // The world-readable unit names the file, never the values.
    expect(web.serviceUnit).toContain(`EnvironmentFile=${web.envPath}\n`);
    expect(web.serviceUnit).not.toContain("s3cr3t");
  });

  it("a changed environment restarts the service", async () => {
    const before = await invocation(`${WEB}.service`);
    const changed = systemdUnit({ service: webService, env: { ...webEnv, GREETING: "changed" } });
    // An env change re-runs only the env Command; the unit text is the same.
    expect(changed.units.create).toBe(web.units.create);
    await mustRunOnHost(devhost, changed.env!.create, changed.env!.stdin);
    const after = await invocation(`${WEB}.service`);
    expect(after).not.toBe(before);
    expect(await sh(`systemctl is-active ${WEB}.service`)).toBe("active");
    expect(await sh(`grep GREETING ${web.envPath}`)).toBe('GREETING="changed"');
    // Back to the original for the following cases.
    await mustRunOnHost(devhost, web.env!.create, web.env!.stdin);
  });

  it("a changed unit file restarts the service", async () => {
    const before = await invocation(`${WEB}.service`);
    const changed = systemdUnit({ service: { ...webService, description: "berth hostsys: static files, changed" }, env: webEnv });
    const out = (await mustRunOnHost(devhost, changed.units.create)).stdout;
    expect(out).toContain("berth: 1 unit file(s) changed");
    expect(await invocation(`${WEB}.service`)).not.toBe(before);
    expect(await sh(`systemctl show -p Description --value ${WEB}.service`)).toBe("berth hostsys: static files, changed");
    // And back: the original file, restarted once more.
    const mid = await invocation(`${WEB}.service`);
    expect((await mustRunOnHost(devhost, web.units.create)).stdout).toContain("berth: 1 unit file(s) changed");
    expect(await invocation(`${WEB}.service`)).not.toBe(mid);
  });

  it("a second identical run changes nothing", async () => {
    const before = await invocation(`${WEB}.service`);
    const out = (await mustRunOnHost(devhost, web.units.create)).stdout;
    expect(out).toContain("berth: 0 unit file(s) changed");
    expect(out).not.toContain("berth: wrote");
    expect(await invocation(`${WEB}.service`)).toBe(before);
    expect(await sh(`systemctl is-active ${WEB}.service`)).toBe("active");
  });

  it("the hardening lowers systemd-analyze's exposure well below a bare unit's", async () => {
    const hardened = await sh(`systemd-analyze security --no-pager ${WEB}.service`);
    const bareUnit = renderSystemdService({ ...webService, name: "berth-hostsys-bare", hardening: false });
    const bare = await sh(
      `install -d /tmp/berth-hostsys-bare && cat > /tmp/berth-hostsys-bare/berth-hostsys-bare.service <<'EOF'\n${bareUnit}EOF\n` +
        "systemd-analyze security --offline=yes --no-pager /tmp/berth-hostsys-bare/berth-hostsys-bare.service; rm -rf /tmp/berth-hostsys-bare",
    );
    const line = (out: string) => out.split("\n").find((l) => l.includes("Overall exposure level"))!.trim();
    console.log(`systemd-analyze security (hardened, live): ${line(hardened)}`);
    console.log(`systemd-analyze security (bare, offline):  ${line(bare)}`);
    expect(exposure(bare)).toBeGreaterThanOrEqual(9);
    expect(exposure(hardened)).toBeLessThan(exposure(bare));
    expect(exposure(hardened)).toBeLessThan(5);
  });

  it("installs a timer-driven oneshot: the timer is active, and a manual start runs the job with its env file", async () => {
    const out = await create(tick);
    expect(out).toContain(`berth: wrote /etc/systemd/system/${TICK}.service`);
    expect(out).toContain(`berth: wrote /etc/systemd/system/${TICK}.timer`);
    expect(out).toContain("berth: 2 unit file(s) changed");
    expect(await sh(`systemctl is-active ${TICK}.timer`)).toBe("active");
    expect(await sh(`systemctl is-enabled ${TICK}.timer`)).toBe("enabled");
    // Not started by the install (the timer has not elapsed), and not enabled itself (no [Install]).
    expect(await sh(`systemctl is-enabled ${TICK}.service || true`)).toBe("static");
    expect(await sh(`test -e ${TICKS} && echo present || echo absent`)).toBe("absent");
    expect(await sh(`systemctl show -p NextElapseUSecRealtime --value ${TICK}.timer`)).not.toBe("");
    await mustRunOnHost(devhost, `systemctl start ${TICK}.service`);
    const line = `tick ${tickArgs.env!.BERTH_TICK}`;
    expect(await sh(`cat ${TICKS}`)).toBe(line);
    expect(await sh(`systemctl show -p Result --value ${TICK}.service`)).toBe("success");
    await mustRunOnHost(devhost, `systemctl start ${TICK}.service`);
    expect(await sh(`cat ${TICKS}`)).toBe(`${line}\n${line}`);
    // Identical again: nothing rewritten, the timer keeps its schedule.
    expect((await mustRunOnHost(devhost, tick.units.create)).stdout).toContain("berth: 0 unit file(s) changed");
  });

  it("a unit whose ExecStart exits non-zero fails the install with its status on stderr", async () => {
    const broken = systemdUnit({
      service: { name: BROKEN, description: "berth hostsys: exits 3", execStart: ["/bin/sh", "-c", "echo berth-broken-says-bye; exit 3"], user: "nobody" },
    });
    try {
      const r = await runOnHost(devhost, broken.units.create);
      expect(r.exitCode, r.stdout).toBe(1);
      // Type=exec: usually the start job succeeds and the 2 s check catches the exit, but a process that
      // exits before systemd has seen the exec complete fails the start job itself. Either way: reported once, with status.
      expect(r.stderr).toMatch(new RegExp(`berth: ${BROKEN}\\.service (is not active after enable --now|failed to start \\(systemctl enable --now\\)):`));
      expect(r.stderr.match(/berth: berth-hostsys-broken\.service /g)).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`${BROKEN}\\.service - berth hostsys: exits 3`));
      expect(r.stderr).toMatch(/status=3/);
    } finally {
      await mustRunOnHost(devhost, broken.units.delete);
    }
  });

  it("a unit whose ExecStart binary is missing fails the install with its status on stderr", async () => {
    const missing = systemdUnit({
      service: { name: MISSING, description: "berth hostsys: no such binary", execStart: ["/usr/local/bin/berth-no-such-binary"] },
    });
    try {
      const r = await runOnHost(devhost, missing.units.create);
      expect(r.exitCode, r.stdout).toBe(1);
      // Type=exec: systemctl itself fails the start; the script reports it rather than stopping at `set -e`.
      expect(r.stderr).toContain(`berth: ${MISSING}.service failed to start (systemctl enable --now):`);
      expect(r.stderr).toMatch(new RegExp(`${MISSING}\\.service - berth hostsys: no such binary`));
      expect(r.stderr).toMatch(/status=203\/EXEC/);
      expect(r.stderr.match(/berth: berth-hostsys-missing\.service /g)).toHaveLength(1);
    } finally {
      await mustRunOnHost(devhost, missing.units.delete);
    }
  });

  it("switching the timer on, off and on again converges each time (the service and its timer survive the replacement)", async () => {
    const toggleService: UnitArgs["service"] = { name: TOGGLE, description: "berth hostsys: toggled", execStart: ["/bin/sleep", "3600"] };
    const scheduled = systemdUnit({ service: toggleService, timer: { description: "berth hostsys: toggled nightly", onCalendar: "*-*-* 04:15:00" } });
    const running = systemdUnit({ service: toggleService });
    const file = async (unit: string) => sh(`cat /etc/systemd/system/${unit} 2>/dev/null || echo absent`);
    const state = async (unit: string) => sh(`echo "$(systemctl is-enabled ${unit} 2>/dev/null || true) $(systemctl is-active ${unit} || true)"`);
    const expectScheduled = async () => {
      expect(await file(`${TOGGLE}.service`)).toBe(scheduled.serviceUnit.trimEnd());
      expect(await file(`${TOGGLE}.timer`)).not.toBe("absent");
      expect(await state(`${TOGGLE}.timer`)).toBe("enabled active");
      // The oneshot waits for its timer: not started, and no longer wanted by multi-user.target.
      expect(await state(`${TOGGLE}.service`)).toBe("static inactive");
    };
    const expectRunning = async () => {
      expect(await file(`${TOGGLE}.service`)).toBe(running.serviceUnit.trimEnd());
      expect(await file(`${TOGGLE}.timer`)).toBe("absent");
      expect(await sh(`systemctl show -p LoadState --value ${TOGGLE}.timer`)).toBe("not-found");
      expect(await state(`${TOGGLE}.service`)).toBe("enabled active");
    };

    await create(scheduled);
    await expectScheduled();
    await update(scheduled, running);
    await expectRunning();
    await update(running, scheduled);
    await expectScheduled();
    await destroy(scheduled);
    expect(await file(`${TOGGLE}.service`)).toBe("absent");
  });

  it("removal stops, disables and deletes the units and the env files", async () => {
    await destroy(tick);
    await destroy(web);
    for (const unit of [`${WEB}.service`, `${TICK}.service`, `${TICK}.timer`]) {
      expect(await sh(`test -e /etc/systemd/system/${unit} && echo present || echo absent`)).toBe("absent");
      expect(await sh(`systemctl show -p LoadState --value ${unit}`)).toBe("not-found");
      expect(await sh(`systemctl is-active ${unit} || true`)).toBe("inactive");
    }
    expect(await sh(`ls /etc/systemd/system/*/ | grep -c berth-hostsys || true`)).toBe("0");
    expect(await sh(`ls -A ${dirs.config} | grep -c "\\.env$" || true`)).toBe("0");
    expect((await onDevhost(devhost.container, `curl -fsS http://127.0.0.1:${WEB_PORT}/`, { reject: false })).exitCode).not.toBe(0);
    // Removing what is already gone is fine.
    await destroy(web);
  });
});

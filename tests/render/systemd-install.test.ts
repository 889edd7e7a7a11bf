import { describe, expect, it } from "vitest";
import { renderInstallEnvFileScript, renderInstallFileScript, RenderError } from "../../renderers/remote-scripts";
import { planSystemdInstall } from "../../renderers/systemd-install";
import { run } from "./helpers";

const API = { name: "shop-api", description: "Shop API", execStart: ["/usr/bin/python3", "-m", "http.server", "8000"], user: "nobody" };

describe("planSystemdInstall", () => {
  it("a long-running service with an EnvironmentFile: env first, then the service enabled", () => {
    const plan = planSystemdInstall({ service: API, hasEnv: true, envDir: "/etc/berth/shop" });
    expect(plan.enabledUnit).toBe("shop-api.service");
    expect(plan.fileNames).toEqual(["shop-api.service"]);
    expect(plan.serviceUnit).toContain("EnvironmentFile=/etc/berth/shop/shop-api.env\n");
    expect(plan.serviceUnit).toContain("WantedBy=multi-user.target\n");
    expect(plan.env).toEqual({
      path: "/etc/berth/shop/shop-api.env",
      create: renderInstallEnvFileScript({ path: "/etc/berth/shop/shop-api.env", service: "shop-api.service" }),
      delete: "rm -f '/etc/berth/shop/shop-api.env'\n",
    });
    expect(plan.units.create).toContain("systemctl enable --now 'shop-api.service'");
  });

  it("a scheduled job: a oneshot service without [Install], and its timer enabled", () => {
    const plan = planSystemdInstall({ service: API, timer: { description: "nightly", onCalendar: "daily" }, hasEnv: false, envDir: "/etc/berth/shop" });
    expect(plan.enabledUnit).toBe("shop-api.timer");
    expect(plan.fileNames).toEqual(["shop-api.service", "shop-api.timer"]);
    expect(plan.serviceUnit).toContain("Type=oneshot\n");
    expect(plan.serviceUnit).not.toContain("[Install]");
    expect(plan.serviceUnit).not.toContain("EnvironmentFile=");
    expect(plan.timerUnit).toContain("Unit=shop-api.service\n");
    expect(plan.env).toBeUndefined();
  });
});

describe("renderInstallEnvFileScript", () => {
  it("installs the file from stdin, then restarts the service only if it runs, failing if the restart fails", () => {
    const script = renderInstallEnvFileScript({ path: "/etc/berth/shop/shop-api.env", service: "shop-api.service" });
    expect(script).toBe(
      `${renderInstallFileScript({ path: "/etc/berth/shop/shop-api.env", mode: "0600", owner: "root", group: "root" })}if systemctl is-active --quiet 'shop-api.service'; then
  systemctl restart 'shop-api.service'
fi
`,
    );
  });

  it("rejects a unit name that could carry a command", () => {
    expect(() => renderInstallEnvFileScript({ path: "/etc/berth/x.env", service: "x.service; reboot" })).toThrow(RenderError);
  });

  it("every script of a plan passes shellcheck", async () => {
    const plan = planSystemdInstall({ service: API, timer: { description: "nightly", onCalendar: "daily" }, hasEnv: true, envDir: "/etc/berth/shop" });
    for (const script of [plan.env!.create, plan.env!.delete, plan.units.create, plan.units.delete]) {
      const r = await run("shellcheck", ["-s", "bash", "-"], { input: script });
      expect(r.exitCode, `${r.stdout}${r.stderr}\n${script}`).toBe(0);
    }
  });
});

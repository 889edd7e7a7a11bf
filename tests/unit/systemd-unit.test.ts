/**
 * SystemdUnit's wiring for a timer switched on or off (review finding #7): the units Command's file
 * set changes, which replaces it, and the replacement must delete the old units before the new
 * ones are written, since the old delete removes `<name>.service`, which the new set has too.
 */
import { describe, expect, it } from "vitest";
import { SystemdUnit, type SystemdUnitArgs } from "../../components/systemd-unit";
import { plain, settled, startRecording } from "./recording-mocks";

const connection = { host: "203.0.113.10", user: "root", privateKey: "test-key" };
const service: SystemdUnitArgs["service"] = { name: "shop-report", description: "Shop report", execStart: ["/usr/local/bin/report"] };
const timer: SystemdUnitArgs["timer"] = { description: "Nightly report", onCalendar: "*-*-* 03:00:00" };

async function unitsCommand(args: Omit<SystemdUnitArgs, "connection">) {
  const rec = await startRecording();
  new SystemdUnit("report", { connection, ...args });
  await settled();
  return rec.named("report-units");
}

describe("SystemdUnit (recording mocks)", () => {
  it("the units Command is replaced delete-before-replace when the timer is switched on or off", async () => {
    const off = await unitsCommand({ service });
    const on = await unitsCommand({ service, timer });

    // The file set is the trigger: toggling the timer is a replacement...
    expect(plain(off.inputs.triggers)).toEqual(["shop-report.service"]);
    expect(plain(on.inputs.triggers)).toEqual(["shop-report.service", "shop-report.timer"]);
    // ...whose old delete removes `shop-report.service` in either direction, so it runs first.
    for (const command of [off, on]) {
      expect(command.options.deleteBeforeReplace).toBe(true);
      expect(plain(command.inputs.delete)).toContain("units=('shop-report.service'");
    }
    expect(plain(on.inputs.delete)).toContain("units=('shop-report.service' 'shop-report.timer')");
    expect(plain(on.inputs.create)).toContain("systemctl enable --now 'shop-report.timer'");
    expect(plain(off.inputs.create)).toContain("systemctl enable --now 'shop-report.service'");
  });

  it("a change that keeps the file set (a new schedule) is an in-place update: same triggers", async () => {
    const nightly = await unitsCommand({ service, timer });
    const hourly = await unitsCommand({ service, timer: { ...timer, onCalendar: "hourly" } });
    expect(plain(hourly.inputs.triggers)).toEqual(plain(nightly.inputs.triggers));
    expect(plain(hourly.inputs.create)).not.toEqual(plain(nightly.inputs.create));
  });
});

/**
 * Everything `SystemdUnit` runs on a host, as data: the rendered units and the scripts of its two
 * Commands (the EnvironmentFile, then the units). Pure, so the component and the host-layer tests
 * use the very same text.
 */
import { renderInstallEnvFileScript, renderInstallSystemdUnitsScript, renderRemoveSystemdUnitsScript } from "./remote-scripts";
import { shellQuote } from "./shell";
import { renderSystemdService, renderSystemdTimer, type SystemdServiceSpec, type SystemdTimerSpec } from "./systemd-unit";

export interface SystemdInstallSpec {
  /** The service unit; its `environmentFile` is set here when `env` has entries. */
  service: Omit<SystemdServiceSpec, "environmentFile">;
  /** Run the service on a schedule: the timer is enabled instead of the service, which becomes a oneshot. */
  timer?: Omit<SystemdTimerSpec, "name" | "unit">;
  /** Whether an EnvironmentFile is used (its content comes separately, as it may hold secrets). */
  hasEnv: boolean;
  /** Directory of the EnvironmentFile. */
  envDir: string;
}

export interface SystemdInstallPlan {
  serviceUnit: string;
  timerUnit?: string;
  /** The unit berth enables: the timer when scheduled, else the service. */
  enabledUnit: string;
  /** Unit file names, in install order. */
  fileNames: string[];
  /** The EnvironmentFile Command; its stdin is `renderEnvFile(vars)`. */
  env?: { path: string; create: string; delete: string };
  /**
   * The units Command. `create` installs `fileNames` (and is what an in-place update runs); `delete`
   * removes exactly them. A change of the file set (the timer switched on or off, the service
   * renamed) is a new resource, through `triggers`, and must be replaced delete-before-replace: its
   * old `delete` removes the old set, files the new set shares included (`<name>.service` is in both
   * when the timer is toggled), so it must run before the new `create` writes them, never after it.
   */
  units: { create: string; delete: string; triggers: string[]; deleteBeforeReplace: true };
}

export function planSystemdInstall(spec: SystemdInstallSpec): SystemdInstallPlan {
  const service = spec.service.name;
  const envPath = `${spec.envDir}/${service}.env`;
  const serviceUnit = renderSystemdService({
    ...spec.service,
    // Started by a timer, a oneshot is not itself part of a target.
    ...(spec.timer ? { type: "oneshot" as const, wantedBy: null, restart: "no" as const } : {}),
    ...(spec.hasEnv ? { environmentFile: envPath } : {}),
  });
  const timerUnit = spec.timer ? renderSystemdTimer({ ...spec.timer, name: service, unit: `${service}.service` }) : undefined;
  const enabledUnit = spec.timer ? `${service}.timer` : `${service}.service`;
  const units = [{ fileName: `${service}.service`, content: serviceUnit }];
  if (timerUnit) units.push({ fileName: `${service}.timer`, content: timerUnit });
  const fileNames = units.map((u) => u.fileName);
  return {
    serviceUnit,
    timerUnit,
    enabledUnit,
    fileNames,
    env: spec.hasEnv
      ? { path: envPath, create: renderInstallEnvFileScript({ path: envPath, service: `${service}.service` }), delete: `rm -f ${shellQuote(envPath)}\n` }
      : undefined,
    units: {
      create: renderInstallSystemdUnitsScript({ units, enable: [enabledUnit], restartOnChange: [enabledUnit] }),
      delete: renderRemoveSystemdUnitsScript({ fileNames }),
      triggers: fileNames,
      deleteBeforeReplace: true,
    },
  };
}

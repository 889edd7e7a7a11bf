import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { renderEnvFile } from "../renderers/env-file";
import { renderInstallFileScript, renderInstallSystemdUnitsScript, renderRemoveSystemdUnitsScript } from "../renderers/remote-scripts";
import { shellQuote } from "../renderers/shell";
import { renderSystemdService, renderSystemdTimer, type SystemdServiceSpec, type SystemdTimerSpec } from "../renderers/systemd-unit";

export interface SystemdUnitArgs {
  /** SSH connection to the host (from `Host.connection`). */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** The service unit. Its `environmentFile` is set by this component when `env` is given. */
  service: Omit<SystemdServiceSpec, "environmentFile">;
  /**
   * Run the service on a schedule: a `<name>.timer` is installed and enabled instead of the service.
   * @default none (a long-running service, enabled and started)
   */
  timer?: Omit<SystemdTimerSpec, "name" | "unit">;
  /**
   * Environment for the service, secrets included; written to an EnvironmentFile with mode 0600 so
   * it never appears in the world-readable unit or in the command text.
   * @default {}
   */
  env?: Record<string, pulumi.Input<string>>;
  /**
   * Directory for the EnvironmentFile.
   * @default "/etc/berth"
   */
  envDir?: string;
}

/**
 * A systemd service (and optional timer) on the host: rendered, written only when changed,
 * `daemon-reload`, enabled and started, restarted when its unit or environment changes. Deleting
 * it disables and removes the units and the environment file.
 */
export class SystemdUnit extends pulumi.ComponentResource {
  /** The rendered service unit. */
  readonly serviceUnit: string;
  /** The rendered timer unit, when scheduled. */
  readonly timerUnit?: string;
  /** The unit berth enables: the timer when scheduled, else the service. */
  readonly enabledUnit: string;

  constructor(name: string, args: SystemdUnitArgs, opts?: pulumi.ComponentResourceOptions) {
    super("berth:host:SystemdUnit", name, {}, opts);
    const service = args.service.name;
    const env = args.env ?? {};
    const hasEnv = Object.keys(env).length > 0;
    const envPath = `${args.envDir ?? "/etc/berth"}/${service}.env`;

    this.serviceUnit = renderSystemdService({
      ...args.service,
      // Started by a timer, a oneshot is not itself part of a target.
      ...(args.timer ? { type: "oneshot" as const, wantedBy: null, restart: "no" as const } : {}),
      ...(hasEnv ? { environmentFile: envPath } : {}),
    });
    this.timerUnit = args.timer
      ? renderSystemdTimer({ ...args.timer, name: service, unit: `${service}.service` })
      : undefined;
    this.enabledUnit = args.timer ? `${service}.timer` : `${service}.service`;

    const dependsOn: pulumi.Resource[] = [];
    if (hasEnv) {
      dependsOn.push(
        new command.remote.Command(
          `${name}-env`,
          {
            connection: args.connection,
            // The secrets travel on stdin, which Pulumi keeps encrypted; the script text holds none.
            stdin: pulumi.secret(pulumi.output(env).apply((vars) => renderEnvFile(vars as Record<string, string>))),
            create:
              renderInstallFileScript({ path: envPath, mode: "0600", owner: "root", group: "root" }) +
              // A running service only reads its environment at start.
              `systemctl try-restart ${shellQuote(`${service}.service`)} 2>/dev/null || true\n`,
            delete: `rm -f ${shellQuote(envPath)}\n`,
            triggers: [envPath],
            logging: "none",
          },
          { parent: this },
        ),
      );
    }

    const units = [{ fileName: `${service}.service`, content: this.serviceUnit }];
    if (this.timerUnit) units.push({ fileName: `${service}.timer`, content: this.timerUnit });
    const fileNames = units.map((u) => u.fileName);
    new command.remote.Command(
      `${name}-units`,
      {
        connection: args.connection,
        create: renderInstallSystemdUnitsScript({ units, enable: [this.enabledUnit], restartOnChange: [this.enabledUnit] }),
        delete: renderRemoveSystemdUnitsScript({ fileNames }),
        triggers: fileNames,
      },
      { parent: this, dependsOn },
    );
    this.registerOutputs({ serviceUnit: this.serviceUnit, timerUnit: this.timerUnit, enabledUnit: this.enabledUnit });
  }
}

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { renderEnvFile } from "../renderers/env-file";
import { planSystemdInstall } from "../renderers/systemd-install";
import type { SystemdServiceSpec, SystemdTimerSpec } from "../renderers/systemd-unit";
import { WITHOUT_PREVIOUS_OUTPUT } from "./host";

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
 * it disables and removes the units and the environment file. Switching the timer on or off
 * replaces the units, the old ones removed before the new ones are written.
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
    const env = args.env ?? {};
    const plan = planSystemdInstall({
      service: args.service,
      timer: args.timer,
      hasEnv: Object.keys(env).length > 0,
      envDir: args.envDir ?? "/etc/berth",
    });
    this.serviceUnit = plan.serviceUnit;
    this.timerUnit = plan.timerUnit;
    this.enabledUnit = plan.enabledUnit;

    const dependsOn: pulumi.Resource[] = [];
    if (plan.env) {
      dependsOn.push(
        new command.remote.Command(
          `${name}-env`,
          {
            connection: args.connection,
            ...WITHOUT_PREVIOUS_OUTPUT,
            // The secrets travel on stdin, which Pulumi keeps encrypted; the script text holds none.
            stdin: pulumi.secret(pulumi.output(env).apply((vars) => renderEnvFile(vars as Record<string, string>))),
            create: plan.env.create,
            delete: plan.env.delete,
            triggers: [plan.env.path],
            logging: "none",
          },
          { parent: this },
        ),
      );
    }
    // Toggling the timer changes the file set, which replaces this Command; the old delete removes
    // `<name>.service` too, so it runs first (planSystemdInstall explains why the plan asks for it).
    new command.remote.Command(
      `${name}-units`,
      { connection: args.connection, ...WITHOUT_PREVIOUS_OUTPUT, create: plan.units.create, delete: plan.units.delete, triggers: plan.units.triggers },
      { parent: this, dependsOn, deleteBeforeReplace: plan.units.deleteBeforeReplace },
    );
    this.registerOutputs({ serviceUnit: this.serviceUnit, timerUnit: this.timerUnit, enabledUnit: this.enabledUnit });
  }
}

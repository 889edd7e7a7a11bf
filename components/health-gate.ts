import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { renderHealthGateScript } from "../renderers/deploy-scripts";
import { WITHOUT_PREVIOUS_OUTPUT } from "./host";

export interface HealthGateArgs {
  /** SSH connection to the host (from `Host.connection`). */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** The new release's loopback port on the host. */
  port: pulumi.Input<number>;
  /** Health path that must answer 200. */
  path: string;
  /**
   * Seconds between polls.
   * @default 1
   */
  intervalSeconds?: number;
  /**
   * Seconds before the deploy fails.
   * @default 60
   */
  timeoutSeconds?: number;
}

/**
 * Polls a new release on the host, on the very port nginx will use, until it answers 200. Whatever
 * depends on `passed` (the nginx switch) waits for it; when it fails, `up` fails with the last answer
 * and nginx still points at the old release.
 */
export class HealthGate extends pulumi.ComponentResource {
  /** The gate's output; resolves once the release answered 200. */
  readonly passed: pulumi.Output<string>;

  constructor(name: string, args: HealthGateArgs, opts?: pulumi.ComponentResourceOptions) {
    super("berth:app:HealthGate", name, {}, opts);
    const poll = new command.remote.Command(
      `${name}-poll`,
      {
        connection: args.connection,
        ...WITHOUT_PREVIOUS_OUTPUT,
        // A new port is a new release: the script text changes, so the gate runs again.
        create: pulumi.output(args.port).apply((port) =>
          renderHealthGateScript({ port, path: args.path, intervalSeconds: args.intervalSeconds ?? 1, timeoutSeconds: args.timeoutSeconds ?? 60 }),
        ),
      },
      { parent: this },
    );
    this.passed = poll.stdout;
    this.registerOutputs({ passed: this.passed });
  }
}

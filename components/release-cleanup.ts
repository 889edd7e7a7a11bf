import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { renderReleaseCleanupScript } from "../renderers/deploy-scripts";
import { WITHOUT_PREVIOUS_OUTPUT } from "./host";

export interface ReleaseCleanupArgs {
  /** SSH connection to the host; chain it on the switch, which must come first. */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** Site name (the containers' `berth.site` label). */
  siteName: string;
  /** The site's Docker network. */
  network: pulumi.Input<string>;
  /** Ids of the containers of the release that now serves. */
  keep: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Seconds each removed container gets to stop.
   * @default 30
   */
  stopTimeoutSeconds?: number;
}

/**
 * After nginx switched: removes the app containers of every release but the serving one, including
 * those an interrupted `up` created and never recorded. Runs again whenever the serving release
 * changes (its ids are in the script).
 */
export class ReleaseCleanup extends pulumi.ComponentResource {
  /** What the cleanup printed. */
  readonly done: pulumi.Output<string>;

  constructor(name: string, args: ReleaseCleanupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("berth:app:ReleaseCleanup", name, {}, opts);
    const cleanup = new command.remote.Command(
      `${name}-containers`,
      {
        connection: args.connection,
        ...WITHOUT_PREVIOUS_OUTPUT,
        create: pulumi
          .all([args.network, args.keep])
          .apply(([network, keep]) =>
            renderReleaseCleanupScript({ siteName: args.siteName, network, keep: [...keep].sort(), stopTimeoutSeconds: args.stopTimeoutSeconds ?? 30 }),
          ),
      },
      { parent: this },
    );
    this.done = cleanup.stdout;
    this.registerOutputs({ done: this.done });
  }
}

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { renderBackupScript, renderOncePerImageUpdate, renderRestoreDrillScript } from "../renderers/deploy-scripts";
import { renderInstallFileScript } from "../renderers/remote-scripts";
import { shellQuote } from "../renderers/shell";
import { SystemdUnit } from "./systemd-unit";
import { WITHOUT_PREVIOUS_OUTPUT } from "./host";

export interface DatabaseBackupArgs {
  /** SSH connection to the host (from `Host.connection`). */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** Site name; the Postgres container is found by its labels. */
  siteName: string;
  /** Database name and user. */
  database: string;
  user: string;
  /**
   * Directory for the dumps on the host.
   * @default "/var/backups/berth/<siteName>"
   */
  directory?: string;
  /**
   * Dumps kept.
   * @default 14
   */
  keep?: number;
  /**
   * When the daily backup runs.
   * @default "*-*-* 03:30:00"
   */
  onCalendar?: string;
  /** The image being deployed (`repository:tag`): a new one takes a dump first. */
  imageReference: string;
  /** The tag being deployed; names the pre-deploy dump. */
  tag: string;
  /** Resources that must exist before a dump can be taken (the database container). */
  after: pulumi.Input<pulumi.Resource>[];
}

/**
 * Postgres backups on the host: a `pg_dump -Fc` before every image change (named by timestamp and
 * tag), a daily timer, retention, and `berth-<site>-restore-drill`, which restores a dump into a
 * scratch database and prints its row counts.
 */
export class DatabaseBackup extends pulumi.ComponentResource {
  /** The pre-deploy dump of this deploy; the release phase waits for it. */
  readonly preDeploy: command.remote.Command;
  /** Paths of the installed scripts. */
  readonly backupScript: string;
  readonly restoreDrillScript: string;

  constructor(name: string, args: DatabaseBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("berth:addon:DatabaseBackup", name, {}, opts);
    const child = { parent: this };
    const directory = args.directory ?? `/var/backups/berth/${args.siteName}`;
    this.backupScript = `/usr/local/sbin/berth-${args.siteName}-backup`;
    this.restoreDrillScript = `/usr/local/sbin/berth-${args.siteName}-restore-drill`;

    const scripts = [
      { key: "backup-script", path: this.backupScript, content: renderBackupScript({ siteName: args.siteName, database: args.database, user: args.user, directory, keep: args.keep ?? 14 }) },
      { key: "restore-drill-script", path: this.restoreDrillScript, content: renderRestoreDrillScript({ siteName: args.siteName, user: args.user, directory }) },
    ].map(
      (s) =>
        new command.remote.Command(
          `${name}-${s.key}`,
          {
            connection: args.connection,
            ...WITHOUT_PREVIOUS_OUTPUT,
            stdin: s.content,
            create: renderInstallFileScript({ path: s.path, mode: "0750", owner: "root", group: "root" }),
            delete: `rm -f ${shellQuote(s.path)}\n`,
            triggers: [s.path],
          },
          child,
        ),
    );

    this.preDeploy = new command.remote.Command(
      `${name}-pre-deploy`,
      {
        connection: args.connection,
        ...WITHOUT_PREVIOUS_OUTPUT,
        create: `${shellQuote(this.backupScript)} ${shellQuote(args.tag)}\n`,
        // A new image is a new deploy: the command is replaced, so it runs again before the release.
        triggers: [args.imageReference],
        update: renderOncePerImageUpdate("pre-deploy backup"),
      },
      { parent: this, dependsOn: [...scripts, ...args.after] },
    );

    new SystemdUnit(
      `${name}-daily`,
      {
        connection: args.connection,
        service: {
          name: `berth-${args.siteName}-backup`,
          description: `Back up the berth ${args.siteName} database`,
          execStart: [this.backupScript, "daily"],
          // It drives the Docker engine, which is root-equivalent: a sandbox would only pretend.
          hardening: false,
        },
        timer: { description: `Back up the berth ${args.siteName} database daily`, onCalendar: args.onCalendar ?? "*-*-* 03:30:00", persistent: true, randomizedDelaySec: 600 },
      },
      child,
    );
    this.registerOutputs({ backupScript: this.backupScript, restoreDrillScript: this.restoreDrillScript, preDeploy: this.preDeploy.stdout });
  }
}

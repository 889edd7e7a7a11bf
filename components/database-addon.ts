import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { renderDatabasePasswordScript, renderDatabasePasswordSql } from "../renderers/deploy-scripts";
import { WITHOUT_PREVIOUS_OUTPUT } from "./host";

export interface DatabaseAddonArgs {
  /** `postgres` (the app's database) or `redis` (cache and job queue, seed 004). */
  engine: "postgres" | "redis";
  /** Site name, written into the `berth.site` label. */
  siteName: string;
  /**
   * Image repository.
   * @default "postgres" or "redis"
   */
  image?: string;
  /**
   * Image tag.
   * @default "16" for postgres, "7" for redis
   */
  tag?: string;
  /** Docker network shared with the app; the addon answers there under its `hostAlias`. */
  network: pulumi.Input<string>;
  /**
   * Host name of the addon on the app network, used in the URL.
   * @default the engine name
   */
  hostAlias?: string;
  /** Name of the Docker volume holding the data. Stable, so a re-created resource adopts the same data. */
  volumeName: string;
  /**
   * Database name (postgres only).
   * @default "app"
   */
  database?: string;
  /**
   * Database user (postgres only).
   * @default "app"
   */
  user?: string;
  /**
   * Memory limit in MiB.
   * @default 512 for postgres, 256 for redis
   */
  memoryMiB?: number;
  /**
   * Pulumi `protect` on the data volume, for production: `pulumi destroy` refuses to touch it.
   * @default false
   */
  protect?: boolean;
  /**
   * SSH connection to the host running the container (postgres only). With it, the password in
   * state is applied to the database on every change of password or container, so a retained
   * volume is never left with a password nobody has.
   * @default none: the password stays the one the data directory was initialised with
   */
  connection?: pulumi.Input<command.types.input.remote.ConnectionArgs>;
}

/**
 * A database in a container beside the app: a named volume that no upgrade, rollback or refactor
 * deletes, a generated password, and a connection URL kept secret for the app's environment.
 */
export class DatabaseAddon extends pulumi.ComponentResource {
  /** Connection URL for the app (secret). */
  readonly url: pulumi.Output<string>;
  /** The Docker volume holding the data. */
  readonly volumeName: pulumi.Output<string>;
  /** The addon's container name (for `docker exec` backups). */
  readonly containerName: pulumi.Output<string>;

  constructor(name: string, args: DatabaseAddonArgs, opts?: pulumi.ComponentResourceOptions) {
    super("berth:addon:DatabaseAddon", name, {}, opts);
    const child = { parent: this };
    const postgres = args.engine === "postgres";
    const alias = args.hostAlias ?? args.engine;
    const dataPath = postgres ? "/var/lib/postgresql/data" : "/data";

    const password = new random.RandomPassword(
      `${name}-password`,
      // Letters and digits only: the URL needs no escaping. The password is fixed at first init of
      // the data directory, so it is never rotated by a keeper here.
      { length: 32, special: false },
      child,
    );

    const volume = new docker.Volume(
      `${name}-data`,
      { name: args.volumeName, labels: [{ label: "berth.site", value: args.siteName }] },
      { ...child, retainOnDelete: true, protect: args.protect ?? false },
    );

    const image = new docker.RemoteImage(
      `${name}-image`,
      { name: `${args.image ?? args.engine}:${args.tag ?? (postgres ? "16" : "7")}`, keepLocally: true },
      child,
    );

    // The provider marks `result` secret itself; saying so here keeps that true whatever it does.
    const secretPassword = pulumi.secret(password.result);
    const database = args.database ?? "app";
    const user = args.user ?? "app";
    const common = {
      image: image.imageId,
      restart: "unless-stopped",
      memory: args.memoryMiB ?? (postgres ? 512 : 256),
      // Unset, Docker records twice the memory and the provider reads it back, a change on every
      // `up` after a create (SEMANTICS.md §3). Equal to the memory limit: no swap.
      memorySwap: args.memoryMiB ?? (postgres ? 512 : 256),
      networksAdvanced: [{ name: args.network, aliases: [alias] }],
      volumes: [{ volumeName: volume.name, containerPath: dataPath }],
      labels: [
        { label: "berth.site", value: args.siteName },
        { label: "berth.addon", value: args.engine },
      ],
      logDriver: "json-file",
      logOpts: { "max-size": "10m", "max-file": "5" },
      wait: true,
      waitTimeout: 120,
      mustRun: true,
      // A clean shutdown flushes to disk; Docker's default 10 s can cut a checkpoint short.
      stopTimeout: 60,
      destroyGraceSeconds: 60,
    };
    // Two database servers on one data directory corrupt it: the old container must stop before
    // the new one starts, unlike the app's create-before-delete.
    const replaceOrder = { ...child, deleteBeforeReplace: true };

    const container = postgres
      ? new docker.Container(
          `${name}-server`,
          {
            ...common,
            envs: [pulumi.interpolate`POSTGRES_PASSWORD=${secretPassword}`, `POSTGRES_USER=${user}`, `POSTGRES_DB=${database}`],
            healthcheck: {
              tests: ["CMD-SHELL", `pg_isready -q -U ${user} -d ${database}`],
              interval: "2s",
              timeout: "5s",
              retries: 30,
              startPeriod: "5s",
            },
          },
          replaceOrder,
        )
      : new docker.Container(
          `${name}-server`,
          {
            ...common,
            command: [
              "sh",
              "-c",
              // The password goes in through the environment, not argv, so `ps` on the host does not show it.
              'exec redis-server --requirepass "$REDIS_PASSWORD" --appendonly yes --dir /data',
            ],
            envs: [pulumi.interpolate`REDIS_PASSWORD=${secretPassword}`],
            healthcheck: {
              tests: ["CMD-SHELL", 'redis-cli -a "$REDIS_PASSWORD" --no-auth-warning ping | grep -q PONG'],
              interval: "2s",
              timeout: "5s",
              retries: 30,
              startPeriod: "2s",
            },
          },
          replaceOrder,
        );

    // Postgres keeps the password of its first initialisation in the data directory, which
    // outlives this RandomPassword (destroy then up, a refactor). Applying the password in state
    // to the running server keeps the two the same; the URL waits for it.
    let passwordApplied: pulumi.Output<string> = pulumi.output("");
    if (postgres && args.connection) {
      const apply = new command.remote.Command(
        `${name}-password-applied`,
        {
          connection: args.connection,
          ...WITHOUT_PREVIOUS_OUTPUT,
          create: container.name.apply((c) => renderDatabasePasswordScript({ container: c, user })),
          stdin: pulumi.secret(secretPassword.apply((pw) => renderDatabasePasswordSql(user, pw))),
        },
        { parent: this },
      );
      passwordApplied = apply.id;
    }

    this.url = pulumi.secret(
      postgres
        ? pulumi.interpolate`postgres://${user}:${secretPassword}@${alias}:5432/${database}${passwordApplied.apply(() => "")}`
        : pulumi.interpolate`redis://:${secretPassword}@${alias}:6379/0`,
    );
    this.volumeName = volume.name;
    this.containerName = container.name;
    this.registerOutputs({ url: this.url, volumeName: this.volumeName, containerName: this.containerName });
  }
}

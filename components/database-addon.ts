import { createHash } from "node:crypto";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { renderDatabaseLoginScript, renderDatabaseLoginSql, renderDropDatabaseLoginScript } from "../renderers/deploy-scripts";
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
   * SSH connection to the host running the container; required for postgres, which creates the
   * app's login role through it.
   */
  connection?: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /**
   * Postgres only: change this value (any string) to rotate the app's database password on the
   * next `up`, with no failed request (a new login role; the old one is dropped after the switch).
   * @default "1"
   */
  passwordRotation?: string;
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
    if (postgres && args.connection === undefined) throw new Error(`${name}: a postgres addon needs the host connection, to create the app's login role`);
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
      // Kept from the first create: the name holds the stack name, and `pulumi stack rename` must not
      // start the database on a new, empty volume.
      { ...child, retainOnDelete: true, protect: args.protect ?? false, ignoreChanges: ["name"] },
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
              // Over TCP: during the image's first-start initialisation a temporary server answers on the socket only.
              tests: ["CMD-SHELL", `pg_isready -q -h 127.0.0.1 -U ${user} -d ${database}`],
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

    if (postgres) {
      const rotation = args.passwordRotation ?? "1";
      // Named by the rotation: a new value is a new role beside the old one, never the old one changed.
      const login = `${user}_${createHash("sha256").update(rotation).digest("hex").slice(0, 8)}`;
      const loginPassword = new random.RandomPassword(
        `${name}-login-password`,
        { length: 32, special: false, keepers: { rotation } },
        child,
      );
      const secretLoginPassword = pulumi.secret(loginPassword.result);
      // The server's own password (POSTGRES_PASSWORD) counts only when the data directory is first
      // initialised, so the app never uses it: it logs in as a role this command creates or updates
      // with the password in state, whatever volume the server found. That is what makes a retained
      // volume (destroy then up, a refactor) and a rotation work.
      const loginReady = new command.remote.Command(
        `${name}-login-${login}`,
        {
          connection: args.connection!,
          ...WITHOUT_PREVIOUS_OUTPUT,
          // The container id makes a replaced server (new image) get the role again.
          create: container.id.apply(() => renderDatabaseLoginScript({ siteName: args.siteName, owner: user })),
          stdin: pulumi.secret(secretLoginPassword.apply((pw) => renderDatabaseLoginSql(user, login, pw))),
          delete: renderDropDatabaseLoginScript({ siteName: args.siteName, owner: user, login, database }),
        },
        { parent: this },
      );
      this.url = pulumi.secret(
        pulumi.interpolate`postgres://${login}:${secretLoginPassword}@${alias}:5432/${database}${loginReady.id.apply(() => "")}`,
      );
    } else {
      this.url = pulumi.secret(pulumi.interpolate`redis://:${secretPassword}@${alias}:6379/0`);
    }
    this.volumeName = volume.name;
    this.containerName = container.name;
    this.registerOutputs({ url: this.url, volumeName: this.volumeName, containerName: this.containerName });
  }
}

import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { renderDockerEnvFile, renderReleaseScript } from "../renderers/deploy-scripts";
import { WITHOUT_PREVIOUS_OUTPUT } from "./host";

export interface AppHealthCheck {
  /** HTTP path that answers 200 when the app is up. */
  path: string;
  /** Docker duration between checks, e.g. `5s`. */
  interval: string;
  /** Docker duration a check may take. */
  timeout: string;
  /** Failed checks in a row before the container counts as unhealthy. */
  retries: number;
  /** Docker duration during which failures do not count (boot time). */
  startPeriod: string;
  /**
   * In-container check, exec form.
   * @default ["CMD-SHELL", "curl -fsS -o /dev/null http://127.0.0.1:<port><path> || exit 1"]
   */
  command?: string[];
}

export interface AppVolume {
  /** Short name; the Docker volume is `<volumePrefix>-<name>`. */
  name: string;
  /** Mount point inside the container. */
  path: string;
}

export interface AppProcess {
  /** Command that runs this process from the app image (seed 004's Sidekiq worker). */
  command: string[];
  /**
   * Memory limit in MiB.
   * @default the web process's limit
   */
  memoryMiB?: number;
}

export interface AppRelease {
  /** The release command, run in a one-off container of the new image with the app's environment. */
  command: string[];
  /** SSH connection to the host that runs the Docker engine. */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
}

export interface AppContainerArgs {
  /** Site name, written into every container's `berth.site` label. */
  siteName: string;
  /** Image repository, e.g. `ghcr.io/acme/app`. */
  image: string;
  /** Image tag. A new tag pins a new image id, which replaces the containers. */
  tag: string;
  /** Port the web process listens on inside the container; published on the host's loopback at a port Docker picks. */
  port: number;
  /**
   * Command of the web process.
   * @default the image's CMD
   */
  command?: string[];
  /**
   * Plain environment.
   * @default {}
   */
  env?: Record<string, string>;
  /**
   * Secret environment (database URLs, generated and provided secrets); kept secret in state.
   * @default {}
   */
  secretEnv?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Docker's health check of the containers (`docker ps` shows it); the deploy gate is `HealthGate`. */
  healthCheck: AppHealthCheck;
  /**
   * Release phase (migrations), run once per image change before the new containers start.
   * @default none
   */
  release?: AppRelease;
  /**
   * What a new release waits for before its release phase and containers start (the pre-deploy backup).
   * @default []
   */
  startAfter?: pulumi.Input<pulumi.Resource>[];
  /**
   * Memory limit in MiB.
   * @default 768
   */
  memoryMiB?: number;
  /**
   * Docker restart policy.
   * @default "unless-stopped"
   */
  restart?: "unless-stopped" | "always" | "on-failure" | "no";
  /**
   * Extra processes from the same image and environment, without a published port.
   * @default {}
   */
  processes?: Record<string, AppProcess>;
  /**
   * Named volumes mounted into every process (uploads, local storage). Never deleted by berth.
   * @default []
   */
  volumes?: AppVolume[];
  /** Prefix of the Docker volume names; stable names let a re-created resource find the same data. */
  volumePrefix: string;
  /** Docker network shared with the addons. */
  network: pulumi.Input<string>;
  /**
   * Seconds a container gets to finish in-flight requests when stopped.
   * @default 30
   */
  stopTimeoutSeconds?: number;
}

/**
 * The app's containers: one web process published on loopback and any number of workers, all from
 * one image pinned by id. Each release is its own set of resources, named by tag, with no fixed
 * container name or host port: a new release is created beside the old one, and the old one is
 * deleted only at the end of a successful `up` — after nginx switched. A failed deploy leaves the
 * old release running and in state, untouched; Pulumi's own create-before-delete replace would
 * instead mark it for deletion, carried out at the end of the next successful `up`.
 */
export class AppContainer extends pulumi.ComponentResource {
  /** The image id (`sha256:…`) the containers run. */
  readonly imageId: pulumi.Output<string>;
  /** The tag deployed. */
  readonly tag: pulumi.Output<string>;
  /** The host loopback port Docker assigned to the web process. */
  readonly webPort: pulumi.Output<number>;
  /** Name of the web container. */
  readonly webContainerName: pulumi.Output<string>;
  /** Docker volume names by short name. */
  readonly volumeNames: Record<string, pulumi.Output<string>>;
  /** The release-phase command, when configured. */
  readonly release?: command.remote.Command;

  constructor(name: string, args: AppContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("berth:app:AppContainer", name, {}, opts);
    const child = { parent: this };
    const reference = `${args.image}:${args.tag}`;

    const image = new docker.RemoteImage(
      `${name}-image`,
      // Kept locally so a rollback to the previous tag does not wait for a pull.
      { name: reference, keepLocally: true },
      child,
    );

    const volumes = (args.volumes ?? []).map((v) => ({
      spec: v,
      volume: new docker.Volume(
        `${name}-volume-${v.name}`,
        { name: `${args.volumePrefix}-${v.name}`, labels: [{ label: "berth.site", value: args.siteName }] },
        // Data outlives every upgrade, rollback and refactor: Pulumi forgets the volume but Docker keeps it.
        { ...child, retainOnDelete: true },
      ),
    }));
    const mounts = volumes.map(({ spec, volume }) => ({ volumeName: volume.name, containerPath: spec.path }));

    const plainEnv = args.env ?? {};
    const envs = pulumi.output(args.secretEnv ?? {}).apply((secret) =>
      Object.entries({ ...plainEnv, ...secret })
        .map(([k, v]) => `${k}=${v}`)
        .sort(),
    );

    const labels = (process: string) => [
      { label: "berth.site", value: args.siteName },
      { label: "berth.process", value: process },
      { label: "berth.image", value: reference },
      // Shows the tag in `pulumi preview --diff`, where the image id of a new tag is not yet known.
      { label: "berth.tag", value: args.tag },
    ];
    if (args.release) {
      this.release = new command.remote.Command(
        `${name}-release`,
        {
          connection: args.release.connection,
          ...WITHOUT_PREVIOUS_OUTPUT,
          // The environment, secrets included, goes in on stdin as a Docker env file.
          stdin: pulumi.secret(
            pulumi.output(args.secretEnv ?? {}).apply((secret) => renderDockerEnvFile({ ...plainEnv, ...(secret as Record<string, string>) })),
          ),
          create: pulumi
            .all([image.imageId, args.network])
            .apply(([imageId, network]) =>
              renderReleaseScript({ imageId, network, command: args.release!.command, labels: { "berth.site": args.siteName, "berth.process": "release", "berth.tag": args.tag } }),
            ),
          // Once per image: a new image id replaces the command, which runs it again.
          triggers: [image.imageId],
        },
        { ...child, dependsOn: args.startAfter ?? [] },
      );
    }
    const afterRelease = { ...child, dependsOn: this.release ? [this.release] : (args.startAfter ?? []) };

    const common = {
      image: image.imageId,
      envs,
      restart: args.restart ?? "unless-stopped",
      networksAdvanced: [{ name: args.network }],
      volumes: mounts,
      logDriver: "json-file",
      logOpts: { "max-size": "10m", "max-file": "5" },
      stopTimeout: args.stopTimeoutSeconds ?? 30,
      destroyGraceSeconds: args.stopTimeoutSeconds ?? 30,
      mustRun: true,
    };
    // Docker records a swap limit of twice the memory when none is given, and the provider reads
    // it back into state (SEMANTICS.md §3), so an unset one would show as a change on every `up`
    // after a create. Equal to the memory limit: no swap, as on a server sized for its app.
    const memoryLimits = (memory: number) => ({ memory, memorySwap: memory });
    // The docker provider replaces containers delete-before-replace (SEMANTICS.md §3): a same-tag
    // change (env, secret rotation, command) would stop the serving container before its
    // successor passed the gate. Auto-named, with Docker-assigned ports, two copies can run side
    // by side, so the old one goes last, after nginx switched.
    const replaceOrder = { ...afterRelease, deleteBeforeReplace: false };

    const hc = args.healthCheck;
    const web = new docker.Container(
      `${name}-web-${args.tag}`,
      {
        ...common,
        command: args.command,
        labels: labels("web"),
        ...memoryLimits(args.memoryMiB ?? 768),
        ports: [{ internal: args.port, ip: "127.0.0.1" }],
        healthcheck: {
          tests: hc.command ?? ["CMD-SHELL", `curl -fsS -o /dev/null http://127.0.0.1:${args.port}${hc.path} || exit 1`],
          interval: hc.interval,
          timeout: hc.timeout,
          retries: hc.retries,
          startPeriod: hc.startPeriod,
        },
      },
      replaceOrder,
    );

    for (const [process, spec] of Object.entries(args.processes ?? {})) {
      new docker.Container(
        `${name}-${process}-${args.tag}`,
        { ...common, command: spec.command, labels: labels(process), ...memoryLimits(spec.memoryMiB ?? args.memoryMiB ?? 768) },
        replaceOrder,
      );
    }

    this.imageId = image.imageId;
    this.tag = pulumi.output(args.tag);
    this.webContainerName = web.name;
    this.webPort = web.ports.apply((ports) => {
      const published = (ports ?? []).find((p) => p.internal === args.port)?.external;
      if (published === undefined) throw new Error(`${name}: Docker reported no host port for container port ${args.port}`);
      return published;
    });
    this.volumeNames = Object.fromEntries(volumes.map(({ spec, volume }) => [spec.name, volume.name]));
    this.registerOutputs({
      imageId: this.imageId,
      tag: this.tag,
      webPort: this.webPort,
      webContainerName: this.webContainerName,
      volumeNames: this.volumeNames,
    });
  }
}

import { createHash } from "node:crypto";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { renderDockerEnvFile, renderOncePerImageUpdate, renderReleasePortScript, renderReleaseScript, renderReservePortScript } from "../renderers/deploy-scripts";
import { HealthGate } from "./health-gate";
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

export interface AppGate {
  /** Health path that must answer 200 on the new release's port. */
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
  /** Aliases of the gate, for stacks created when it was a child of the site. */
  aliases?: pulumi.Input<pulumi.Alias>[];
}

export interface AppContainerArgs {
  /** Site name, written into every container's `berth.site` label. */
  siteName: string;
  /** Image repository, e.g. `ghcr.io/acme/app`. */
  image: string;
  /** Image tag. A new tag pins a new image id, which replaces the containers. */
  tag: string;
  /**
   * The image digest, pulled by digest: a tag pushed again is deployed only when its new digest is given.
   * @default none: the tag, pulled once
   */
  digest?: string;
  /** Port the web process listens on inside the container; published on the host's loopback at a port reserved for the release (`renderReservePortScript`). */
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
  /** SSH connection to the host that runs the Docker engine (port reservation, release phase, gate). */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /**
   * Release phase (migrations): a command run once per image change, in a one-off container of
   * the new image with the app's environment, before the new containers start.
   * @default none
   */
  release?: string[];
  /** The gate a new web container must pass before the workers of its release start and nginx switches. */
  gate: AppGate;
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
 * container name and a host port reserved for it: a new release is created beside the old one,
 * gated, its workers started, and the old one is deleted only at the end of a successful `up` —
 * after nginx switched. A failed deploy leaves the old release running and in state, untouched;
 * Pulumi's own create-before-delete replace would instead mark it for deletion, which the engine
 * carries out at the end of the next `up` that succeeds (not at its start).
 */
export class AppContainer extends pulumi.ComponentResource {
  /** The image id (`sha256:…`) the containers run. */
  readonly imageId: pulumi.Output<string>;
  /** The tag deployed. */
  readonly tag: pulumi.Output<string>;
  /** The host loopback port reserved for, and published by, the web container. */
  readonly webPort: pulumi.Output<number>;
  /** Name of the web container. */
  readonly webContainerName: pulumi.Output<string>;
  /** Docker volume names by short name. */
  readonly volumeNames: Record<string, pulumi.Output<string>>;
  /** The release-phase command, when configured. */
  readonly release?: command.remote.Command;
  /** Resolves once the new web container passed the health gate. */
  readonly passed: pulumi.Output<string>;
  /** Ids of the release's containers: the web process and the workers. */
  readonly containerIds: pulumi.Output<string[]>;

  constructor(name: string, args: AppContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("berth:app:AppContainer", name, {}, opts);
    const child = { parent: this };
    const reference = `${args.image}:${args.tag}`;
    // With a digest the image is looked up and pulled by it: another digest is another image.
    const pullReference = args.digest ? `${args.image}@${args.digest}` : reference;

    const image = new docker.RemoteImage(
      `${name}-image`,
      // Kept locally so a rollback to the previous tag does not wait for a pull.
      { name: pullReference, keepLocally: true },
      child,
    );

    const volumes = (args.volumes ?? []).map((v) => ({
      spec: v,
      volume: new docker.Volume(
        `${name}-volume-${v.name}`,
        { name: `${args.volumePrefix}-${v.name}`, labels: [{ label: "berth.site", value: args.siteName }] },
        // Data outlives every upgrade, rollback and refactor: Pulumi forgets the volume but Docker keeps
        // it. The name is kept from the first create: it holds the stack name, and `pulumi stack
        // rename` must not switch the app to a new, empty volume.
        { ...child, retainOnDelete: true, ignoreChanges: ["name"] },
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
          connection: args.connection,
          ...WITHOUT_PREVIOUS_OUTPUT,
          // The environment, secrets included, goes in on stdin as a Docker env file.
          stdin: pulumi.secret(
            pulumi.output(args.secretEnv ?? {}).apply((secret) => renderDockerEnvFile({ ...plainEnv, ...(secret as Record<string, string>) })),
          ),
          create: pulumi
            .all([image.imageId, args.network])
            .apply(([imageId, network]) =>
              renderReleaseScript({ imageId, network, command: args.release!, labels: { "berth.site": args.siteName, "berth.process": "release", "berth.tag": args.tag } }),
            ),
          // Once per image: a new image id replaces the command, which runs it again.
          triggers: [image.imageId],
          update: renderOncePerImageUpdate("release phase"),
        },
        // The command provider links an output's secrecy only to the input of the same name, and a
        // migration may print what it connects to: its output is kept encrypted in state.
        { ...child, dependsOn: args.startAfter ?? [], additionalSecretOutputs: ["stdout", "stderr"] },
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
    // successor passed the gate. Auto-named, each on its own port, two copies can run side by
    // side, so the old one goes last, after nginx switched.
    const replaceOrder = { ...afterRelease, deleteBeforeReplace: false };

    const hc = args.healthCheck;
    const web = {
      ...common,
      command: args.command,
      labels: labels("web"),
      ...memoryLimits(args.memoryMiB ?? 768),
      healthcheck: {
        tests: hc.command ?? ["CMD-SHELL", `curl -fsS -o /dev/null http://127.0.0.1:${args.port}${hc.path} || exit 1`],
        interval: hc.interval,
        timeout: hc.timeout,
        retries: hc.retries,
        startPeriod: hc.startPeriod,
      },
    };
    // Everything the web container is made of, but its port. A change to any of it makes a new
    // container, and the new container gets a port of its own: two copies must never ask for the
    // same one, and Docker cannot change a healthcheck in place (the provider's update would only
    // change state, SEMANTICS.md §3). The digest holds secrets: it is kept secret and names only a
    // root-only file on the host.
    const fingerprint = pulumi.secret(
      pulumi.all([image.imageId, envs, args.network]).apply(([imageId, resolvedEnvs, network]) =>
        createHash("sha256")
          .update(JSON.stringify({ ...web, image: imageId, envs: resolvedEnvs, networksAdvanced: [{ name: network }], port: args.port }))
          .digest("hex")
          .slice(0, 16),
      ),
    );
    const reservationKey = fingerprint.apply((digest) => `${args.siteName}-${digest}`);
    // Docker would pick a new host port each time the container starts (a crash, a daemon restart,
    // a reboot), leaving nginx on a dead port; a port chosen here is published as given and kept.
    const port = new command.remote.Command(
      `${name}-port-${args.tag}`,
      {
        connection: args.connection,
        ...WITHOUT_PREVIOUS_OUTPUT,
        create: reservationKey.apply((key) => renderReservePortScript({ key })),
        delete: reservationKey.apply((key) => renderReleasePortScript({ key })),
        triggers: [fingerprint],
      },
      { ...child, dependsOn: args.startAfter ?? [] },
    );
    const hostPort = port.stdout.apply((out) => {
      const text = out.trim();
      if (!/^[0-9]{1,5}$/.test(text)) throw new Error(`${name}: the port reservation printed ${JSON.stringify(text.slice(0, 80))}, not a port`);
      return Number(text);
    });

    const webContainer = new docker.Container(
      `${name}-web-${args.tag}`,
      { ...web, ports: [{ internal: args.port, external: hostPort, ip: "127.0.0.1" }] },
      replaceOrder,
    );

    // On the port nginx will use, once the container exists; the workers of a release that fails
    // here are never created, so they cannot take jobs while the old release keeps serving.
    const gate = new HealthGate(
      `${name}-gate`,
      {
        connection: args.connection,
        port: pulumi.all([hostPort, webContainer.id]).apply(([p]) => p),
        path: args.gate.path,
        intervalSeconds: args.gate.intervalSeconds,
        timeoutSeconds: args.gate.timeoutSeconds,
      },
      { ...child, aliases: args.gate.aliases },
    );
    this.passed = gate.passed;

    const containerIds: pulumi.Output<string>[] = [webContainer.id];
    for (const [process, spec] of Object.entries(args.processes ?? {})) {
      const worker = new docker.Container(
        `${name}-${process}-${args.tag}`,
        { ...common, command: spec.command, labels: labels(process), ...memoryLimits(spec.memoryMiB ?? args.memoryMiB ?? 768) },
        { ...replaceOrder, dependsOn: [gate] },
      );
      containerIds.push(worker.id);
    }
    this.containerIds = pulumi.all(containerIds);

    this.imageId = image.imageId;
    this.tag = pulumi.output(args.tag);
    this.webContainerName = webContainer.name;
    this.webPort = pulumi.all([hostPort, webContainer.id]).apply(([p]) => p);
    this.volumeNames = Object.fromEntries(volumes.map(({ spec, volume }) => [spec.name, volume.name]));
    this.registerOutputs({
      imageId: this.imageId,
      tag: this.tag,
      webPort: this.webPort,
      webContainerName: this.webContainerName,
      volumeNames: this.volumeNames,
      passed: this.passed,
      containerIds: this.containerIds,
    });
  }
}

import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { BerthSettings } from "../config/schema";
import { AppContainer } from "./app-container";
import { DatabaseAddon } from "./database-addon";
import { DatabaseBackup } from "./database-backup";
import { DnsTls } from "./dns-tls";
import { EnvSecrets } from "./env-secrets";
import { Host } from "./host";
import { LetsEncryptCertificate } from "./letsencrypt-certificate";
import { NginxVhost } from "./nginx-vhost";
import { ReleaseCleanup } from "./release-cleanup";
import { SystemdUnit } from "./systemd-unit";

export interface SiteArgs {
  /** The validated stack configuration (from `config/load.ts`). */
  settings: BerthSettings;
  /** Operator-provided secrets by env name. */
  secrets: Record<string, pulumi.Input<string>>;
  /** SSH private key for the host. */
  sshPrivateKey: pulumi.Input<string>;
  /** The server's SSH host key line; every connection checks it. */
  hostKey: string;
  /**
   * The docker provider's `sshOpts` (key and host check for the `ssh://` transport, from `config/docker-ssh.ts`).
   * @default none: Docker is not reached over ssh://
   */
  dockerSshOpts?: string[];
  /**
   * Password of `app.registry`'s user, kept secret.
   * @default none: the image is public or already on the host
   */
  registryPassword?: pulumi.Input<string>;
  /** Stack name, part of the Docker volume names so two stacks can share a Docker host. */
  stack: string;
}

/**
 * One web app on one server: the host, the app's containers and addons on a private Docker network,
 * its secrets, its certificate and DNS, the nginx vhost in front, and the host's systemd units.
 */
export class Site extends pulumi.ComponentResource {
  /** The site's public URL. */
  readonly url: string;
  /** The image id the app runs. */
  readonly imageId: pulumi.Output<string>;
  /** The tag deployed. */
  readonly tag: pulumi.Output<string>;
  /** The app's published loopback port on the host. */
  readonly webPort: pulumi.Output<number>;
  /** The database's Docker volume, when there is a database. */
  readonly databaseVolume?: pulumi.Output<string>;

  constructor(name: string, args: SiteArgs, opts?: pulumi.ComponentResourceOptions) {
    super("berth:site:Site", name, {}, opts);
    const s = args.settings;
    const site = s.site.name;
    const child = { parent: this };
    const volumePrefix = `berth-${site}-${args.stack}`;

    const host = new Host(
      `${name}-host`,
      {
        address: s.host.address,
        sshPort: s.host.sshPort,
        user: s.host.user,
        privateKey: args.sshPrivateKey,
        hostKey: args.hostKey,
        siteName: site,
        installPackages: s.host.installPackages,
        requires: s.tls.mode === "letsencrypt" ? [{ command: "certbot", package: "certbot" }] : [],
      },
      child,
    );

    const dockerProvider = new docker.Provider(
      `${name}-docker`,
      {
        host: s.host.dockerHost ?? `ssh://${s.host.user}@${s.host.address}:${s.host.sshPort}`,
        sshOpts: args.dockerSshOpts,
        // The provider sends these credentials when it pulls from that registry.
        registryAuth: s.app.registry
          ? [{ address: s.app.registry.address, username: s.app.registry.username, password: pulumi.secret(args.registryPassword!) }]
          : undefined,
      },
      // Every Docker resource waits for the bootstrap, which installs Docker where it is missing.
      { ...child, dependsOn: [host.ready] },
    );
    const onDocker = { parent: this, provider: dockerProvider };

    const network = new docker.Network(
      `${name}-network`,
      { name: `berth-${site}-${args.stack}`, labels: [{ label: "berth.site", value: site }] },
      onDocker,
    );

    const secretEnv: Record<string, pulumi.Input<string>> = {};
    const hasSecrets = Object.keys(s.app.generatedSecrets).length > 0 || s.app.secretEnv.length > 0;
    if (hasSecrets) {
      const secrets = new EnvSecrets(
        `${name}-secrets`,
        {
          generated: s.app.generatedSecrets,
          provided: Object.fromEntries(s.app.secretEnv.map((n) => [n, args.secrets[n]!])),
        },
        child,
      );
      for (const n of secrets.names) secretEnv[n] = secrets.env.apply((env) => env[n]!);
    }

    let backup: DatabaseBackup | undefined;
    if (s.database) {
      const db = new DatabaseAddon(
        `${name}-postgres`,
        {
          engine: "postgres",
          siteName: site,
          image: s.database.image,
          tag: s.database.tag,
          network: network.name,
          volumeName: `${volumePrefix}-postgres-data`,
          database: s.database.name,
          user: s.database.user,
          memoryMiB: s.database.memory,
          protect: s.database.protect,
          connection: host.connection,
          passwordRotation: s.database.passwordRotation,
        },
        onDocker,
      );
      secretEnv[s.database.envName] = db.url;
      this.databaseVolume = db.volumeName;
      backup = new DatabaseBackup(
        `${name}-backup`,
        {
          connection: host.connection,
          siteName: site,
          database: s.database.name,
          user: s.database.user,
          directory: s.database.backup.directory,
          keep: s.database.backup.keep,
          onCalendar: s.database.backup.onCalendar,
          imageReference: `${s.app.image}:${s.app.tag}`,
          tag: s.app.tag,
          after: [db],
        },
        child,
      );
    }
    if (s.redis) {
      const redis = new DatabaseAddon(
        `${name}-redis`,
        {
          engine: "redis",
          siteName: site,
          image: s.redis.image,
          tag: s.redis.tag,
          network: network.name,
          volumeName: `${volumePrefix}-redis-data`,
          memoryMiB: s.redis.memory,
          protect: s.redis.protect,
        },
        onDocker,
      );
      secretEnv[s.redis.envName] = redis.url;
    }

    const app = new AppContainer(
      `${name}-app`,
      {
        siteName: site,
        image: s.app.image,
        tag: s.app.tag,
        digest: s.app.digest,
        port: s.app.port,
        command: s.app.command,
        env: { PORT: String(s.app.port), ...s.app.env },
        secretEnv: pulumi.secret(pulumi.output(secretEnv)),
        healthCheck: s.app.healthCheck,
        memoryMiB: s.app.memory,
        restart: s.app.restart,
        processes: Object.fromEntries(
          Object.entries(s.app.processes).map(([k, p]) => [k, { command: p.command, memoryMiB: p.memory }]),
        ),
        volumes: s.app.volumes,
        volumePrefix,
        network: network.name,
        stopTimeoutSeconds: s.app.stopTimeout,
        connection: host.connection,
        release: s.app.release,
        gate: {
          path: s.app.healthCheck.path,
          intervalSeconds: s.app.healthGate.intervalSeconds,
          timeoutSeconds: s.app.healthGate.timeoutSeconds,
          // The gate was the site's child before it moved into the app (which now starts the workers after it).
          aliases: [{ name: `${name}-gate`, parent: this }],
        },
        startAfter: backup ? [backup.preDeploy] : [],
      },
      onDocker,
    );

    const tlsPaths = { certificatePath: `${host.dirs.tls}/fullchain.pem`, keyPath: `${host.dirs.tls}/privkey.pem` };
    const edge = new DnsTls(
      `${name}-edge`,
      {
        domains: s.site.domains,
        dns: s.dns,
        tls: s.tls.mode === "letsencrypt" ? { mode: "letsencrypt" } : s.tls,
        connection: host.connection,
        ...tlsPaths,
      },
      child,
    );

    const vhost = new NginxVhost(
      `${name}-vhost`,
      {
        // Chained on the certificate (nginx -t needs the files) and on the health gate (nginx
        // switches to a new release only once it answers).
        connection: pulumi.all([host.connection, edge.certificate.id, app.passed]).apply(([c]) => c),
        upstreamPort: app.webPort,
        spec: {
          siteName: site,
          serverNames: s.site.domains,
          listen: { http: s.nginx.httpPort, https: s.nginx.httpsPort },
          tls: tlsPaths,
          acmeWebroot: host.dirs.acmeWebroot,
          staticRoot: s.nginx.static?.root ?? null,
          proxiedPaths: s.nginx.static?.proxiedPaths ?? [],
          clientMaxBodySize: s.nginx.clientMaxBodySize,
          gzip: s.nginx.gzip,
          hsts: s.nginx.hsts === false ? null : s.nginx.hsts,
          maintenance: { enabled: s.nginx.maintenance, healthPath: s.app.healthCheck.path },
        },
      },
      child,
    );

    new ReleaseCleanup(
      `${name}-cleanup`,
      {
        // After the switch: until then the old release is the one serving.
        connection: pulumi.all([host.connection, vhost.installed.id]).apply(([c]) => c),
        siteName: site,
        network: network.name,
        keep: app.containerIds,
        stopTimeoutSeconds: s.app.stopTimeout,
      },
      child,
    );

    if (s.tls.mode === "letsencrypt") {
      new LetsEncryptCertificate(
        `${name}-letsencrypt`,
        {
          // certbot's challenge is served by the vhost, so it runs once the vhost is in place.
          connection: pulumi.all([host.connection, vhost.installed.id]).apply(([c]) => c),
          siteName: site,
          domains: s.site.domains,
          email: s.tls.email,
          acmeServer: s.tls.acmeServer,
          acmeCaBundle: s.tls.acmeCaBundle,
          webroot: host.dirs.acmeWebroot,
          ...tlsPaths,
        },
        child,
      );
    }

    for (const svc of s.services) {
      new SystemdUnit(
        `${name}-service-${svc.name}`,
        {
          connection: host.connection,
          service: {
            name: svc.name,
            description: svc.description ?? `berth ${site}: ${svc.name}`,
            execStart: svc.execStart,
            user: svc.user,
            group: svc.group,
            workingDirectory: svc.workingDirectory,
            readWritePaths: svc.readWritePaths,
            restart: svc.restart,
            hardening: svc.hardening,
          },
          timer: svc.timer
            ? { description: `berth ${site}: ${svc.name} schedule`, onCalendar: svc.timer.onCalendar, persistent: svc.timer.persistent, randomizedDelaySec: svc.timer.randomizedDelaySec }
            : undefined,
          env: { ...svc.env, ...Object.fromEntries(svc.secretEnv.map((n) => [n, args.secrets[n]!])) },
          envDir: host.dirs.config,
        },
        child,
      );
    }

    const defaultPort = s.nginx.httpsPort === 443;
    this.url = `https://${s.site.domains[0]}${defaultPort ? "" : `:${s.nginx.httpsPort}`}/`;
    this.imageId = app.imageId;
    this.tag = app.tag;
    this.webPort = app.webPort;
    this.registerOutputs({ url: this.url, imageId: this.imageId, tag: this.tag, webPort: this.webPort, databaseVolume: this.databaseVolume });
  }
}

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { renderHostBootstrapScript, siteDirs } from "../renderers/host-scripts";

export interface HostArgs {
  /** Address or hostname of the server. */
  address: pulumi.Input<string>;
  /**
   * SSH port.
   * @default 22
   */
  sshPort?: pulumi.Input<number>;
  /**
   * SSH user; berth's host commands need root (or passwordless sudo as that user's shell).
   * @default "root"
   */
  user?: pulumi.Input<string>;
  /** SSH private key, kept secret in state. */
  privateKey: pulumi.Input<string>;
  /** The server's host key line; the command provider ignores host keys when it is unset. */
  hostKey: pulumi.Input<string>;
  /** The site this host serves; names the directories berth owns under /etc/berth and /var/lib/berth. */
  siteName: string;
  /**
   * Commands the site needs on the host, each with the Debian package that provides it.
   * @default nginx, systemctl, openssl
   */
  requires?: Array<{ command: string; package: string }>;
  /**
   * apt-get install what is missing; when false a missing command fails the deploy by name.
   * @default true
   */
  installPackages?: boolean;
}

/**
 * For every Command berth runs on the host. The command provider sends the previous stdout and
 * stderr to the next run as `PULUMI_COMMAND_*` variables through SSH `setenv`, which a stock sshd
 * refuses (AcceptEnv), so each update and delete would warn (SEMANTICS.md §6). No berth script
 * reads them.
 */
export const WITHOUT_PREVIOUS_OUTPUT = { addPreviousOutputInEnv: false } as const;

const BASE_REQUIREMENTS = [
  { command: "nginx", package: "nginx-light" },
  { command: "systemctl", package: "systemd" },
  { command: "openssl", package: "openssl" },
  { command: "flock", package: "util-linux" },
  // The app runs in the host's Docker engine: the docker provider's ssh:// transport runs
  // `docker system dial-stdio` on the server, and the release, backup and port scripts call it.
  { command: "docker", package: "docker.io" },
];

/**
 * One server reached over SSH. Every host-side component takes its `connection` and waits for
 * `ready`, the idempotent bootstrap that installs what is missing and creates berth's directories.
 */
export class Host extends pulumi.ComponentResource {
  /**
   * Connection settings for `command.remote.Command`. Resolves only after the bootstrap ran, so
   * every command that uses it waits for the host to be ready without a separate `dependsOn`.
   */
  readonly connection: pulumi.Output<command.types.input.remote.ConnectionArgs>;
  /** The bootstrap command. */
  readonly ready: command.remote.Command;
  /** Directories berth owns on the host for this site. */
  readonly dirs: ReturnType<typeof siteDirs>;

  constructor(name: string, args: HostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("berth:host:Host", name, {}, opts);
    this.dirs = siteDirs(args.siteName);
    const connection = pulumi.secret(
      pulumi.output({
        host: args.address,
        port: args.sshPort ?? 22,
        user: args.user ?? "root",
        privateKey: args.privateKey,
        hostKey: args.hostKey,
        // A just-booted server may need a few seconds before sshd answers.
        dialErrorLimit: 20,
        perDialTimeout: 15,
      }),
    );
    const requires = [...BASE_REQUIREMENTS, ...(args.requires ?? [])];
    this.ready = new command.remote.Command(
      `${name}-bootstrap`,
      {
        connection,
        ...WITHOUT_PREVIOUS_OUTPUT,
        create: renderHostBootstrapScript({
          siteName: args.siteName,
          requires: requires.filter((r, i) => requires.findIndex((o) => o.command === r.command) === i),
          installPackages: args.installPackages ?? true,
        }),
      },
      { parent: this },
    );
    this.connection = pulumi.all([connection, this.ready.id]).apply(([c]) => c);
    this.registerOutputs({ connection: this.connection, ready: this.ready.stdout });
  }
}

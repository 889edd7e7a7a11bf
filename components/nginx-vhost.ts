import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { nginxDefaultServers, renderNginxVhost, type NginxVhostSpec } from "../renderers/nginx-vhost";
import { renderInstallNginxSiteScript, renderRemoveNginxSiteScript } from "../renderers/remote-scripts";
import { WITHOUT_PREVIOUS_OUTPUT } from "./host";

export interface NginxVhostArgs {
  /** SSH connection to the host (from `Host.connection`). */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** The vhost, all but the upstream port, which is only known once the app container exists. */
  spec: Omit<NginxVhostSpec, "upstream">;
  /**
   * Host address of the app's published port.
   * @default "127.0.0.1"
   */
  upstreamHost?: string;
  /** The app's published host port; a new port (a new release) rewrites the vhost and reloads nginx. */
  upstreamPort: pulumi.Input<number>;
  /**
   * Directory nginx includes `*.conf` from.
   * @default "/etc/nginx/conf.d"
   */
  confDir?: string;
}

/**
 * The site's nginx vhost on the host, with the catch-all default server of each of its ports (shared
 * with the other berth sites there) that turns away every name no site serves. Each change is
 * written beside the old file, checked with `nginx -t` and only then put in place with a graceful
 * reload that returns once no old worker is left; a vhost nginx rejects fails the deploy with
 * nginx's message while the old one keeps serving. Deleting removes it (and the catch-alls no berth
 * site needs any more) and reloads.
 */
export class NginxVhost extends pulumi.ComponentResource {
  /** The rendered vhost text. */
  readonly config: pulumi.Output<string>;
  /** Path of the vhost file on the host. */
  readonly path: string;
  /** The install command; depend on it for "traffic goes to the new release". */
  readonly installed: command.remote.Command;

  constructor(name: string, args: NginxVhostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("berth:host:NginxVhost", name, {}, opts);
    const confDir = args.confDir ?? "/etc/nginx/conf.d";
    this.path = `${confDir}/berth-${args.spec.siteName}.conf`;
    // Rendered inside apply: the port is an output, and a bad spec must fail here, before the host is touched.
    this.config = pulumi
      .output(args.upstreamPort)
      .apply((port) => renderNginxVhost({ ...args.spec, upstream: { host: args.upstreamHost ?? "127.0.0.1", port } }));
    this.installed = new command.remote.Command(
      `${name}-site`,
      {
        connection: args.connection,
        ...WITHOUT_PREVIOUS_OUTPUT,
        // The ports' shared catch-alls come with the vhost: names no site serves never reach the app.
        create: this.config.apply((content) =>
          renderInstallNginxSiteScript({ siteName: args.spec.siteName, content, defaultServers: nginxDefaultServers(args.spec), confDir }),
        ),
        delete: renderRemoveNginxSiteScript({ siteName: args.spec.siteName, confDir }),
        // A new file path is a new resource: the new file is installed before the old one is removed.
        triggers: [this.path],
      },
      { parent: this },
    );
    this.registerOutputs({ config: this.config, path: this.path });
  }
}

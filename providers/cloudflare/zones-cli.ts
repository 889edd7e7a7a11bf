/**
 * The stand-in's account, from the command line (what the Cloudflare dashboard is for the real one):
 *
 *   node --import tsx providers/cloudflare/zones-cli.ts zone <zoneId> <name>   declare a zone
 *   node --import tsx providers/cloudflare/zones-cli.ts show                   print the zone file
 *   node --import tsx providers/cloudflare/zones-cli.ts path                   the zone file's path
 *   node --import tsx providers/cloudflare/zones-cli.ts ca                     the stand-in Origin CA's certificate path
 *
 * All honour `BERTH_CLOUDFLARE_STATE` like the plugin. `ca` prints the path even before the CA
 * exists (the first OriginCaCertificate makes it).
 */
import { caCertificatePath } from "./origin-ca";
import { declareZone, readStore, storePath } from "./zone-store";

async function main(argv: string[]): Promise<void> {
  const [cmd, ...args] = argv;
  switch (cmd) {
    case "zone":
      if (args.length !== 2) throw new Error("usage: zone <zoneId> <name>");
      await declareZone(args[0]!, args[1]!);
      return;
    case "show":
      process.stdout.write(`${JSON.stringify(readStore(), null, 2)}\n`);
      return;
    case "path":
      process.stdout.write(`${storePath()}\n`);
      return;
    case "ca":
      process.stdout.write(`${caCertificatePath()}\n`);
      return;
    default:
      throw new Error("usage: zones-cli.ts zone <zoneId> <name> | show | path | ca");
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});

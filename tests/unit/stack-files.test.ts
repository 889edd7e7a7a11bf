import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { BerthConfigError, parseStackConfig } from "../../config/parse";

const ROOT = path.resolve(__dirname, "../..");

function stackFile(stack: string) {
  const doc = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
  const values: Record<string, string> = {};
  const secretKeys = new Set<string>();
  for (const [k, v] of Object.entries(doc.config)) {
    const secure = typeof v === "object" && v !== null && "secure" in v;
    if (secure) secretKeys.add(k);
    values[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return { stack, values, secretKeys };
}

describe("the committed stack files", () => {
  it("local parses as it is", () => {
    const { settings } = parseStackConfig(stackFile("local"));
    expect(settings.app.tag).toBe("v1");
    // scripts/devhost.sh puts this machine's devhost key there, relative to the project directory.
    expect(settings.host.privateKeyFile).toBe(".berth/devhost/id_ed25519");
    expect(settings.host.hostKeyFile).toBe(".berth/devhost/host_key.pub");
  });

  it.each(["staging", "production"])("%s is valid apart from the secrets each operator sets once", (stack) => {
    let problems: string[] = [];
    try {
      parseStackConfig(stackFile(stack));
    } catch (e) {
      if (!(e instanceof BerthConfigError)) throw e;
      problems = e.problems;
    }
    expect(problems).toEqual([
      `berth:secrets.STRIPE_SECRET_KEY: required by app.secretEnv[0]; set it with: pulumi config set --secret --path 'berth:secrets.STRIPE_SECRET_KEY' <value> --stack ${stack}`,
      `berth:sshPrivateKey: required unless berth:host.privateKeyFile is set; pulumi config set --secret berth:sshPrivateKey <value> --stack ${stack}`,
    ]);
  });
});

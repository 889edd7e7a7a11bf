// Smoke program for scripts/engine.sh: one resource per plugin kind.
// Config (set by engine.sh smoke):
//   plugins: comma list of the resource plugins that exist (command,random,docker)
//   docker:  none | preview | up  (preview: a Network that needs no daemon)
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as random from "@pulumi/random";

const cfg = new pulumi.Config();
const plugins = new Set((cfg.get("plugins") ?? "").split(",").filter((p) => p !== ""));
const dockerMode = cfg.get("docker") ?? "none";

// A dynamic-provider resource needs only the engine, the language host and node.
const greeter: pulumi.dynamic.ResourceProvider = {
  async create(inputs: { word: string }) {
    return { id: `greeting-${inputs.word}`, outs: { word: inputs.word, text: `${inputs.word} from berth` } };
  },
};

class Greeting extends pulumi.dynamic.Resource {
  declare public readonly text: pulumi.Output<string>;
  constructor(name: string, word: string) {
    super(greeter, name, { word, text: undefined }, {});
  }
}

export const greeting = new Greeting("greeting", "hello").text;

export const passwordLength = plugins.has("random")
  ? new random.RandomPassword("password", { length: 24, special: false }).result.apply((r) => r.length)
  : undefined;

export const echoed = plugins.has("command")
  ? new command.local.Command("echo", { create: "echo hello from berth" }).stdout
  : undefined;

export const networkName =
  plugins.has("docker") && dockerMode !== "none"
    ? new docker.Network("net", { name: `berth-smoke-${pulumi.getStack()}` }).name
    : undefined;

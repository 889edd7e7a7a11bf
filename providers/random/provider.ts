/**
 * The random stand-in. It has no provider config. Like the real plugin-framework bridge it does
 * not accept secrets (SEMANTICS.md §0): the engine then marks `result` secret through the SDK's
 * additionalSecretOutputs.
 */
import { type ProviderDefinition, refuseUnknownInputs } from "../runtime/definition";
import { randomPassword } from "./random-password";

export const randomProvider: ProviderDefinition<unknown> = {
  name: "random",
  version: "4.21.1",
  acceptSecrets: false,
  supportsPreview: true,
  config: {
    keys: [],
    check: (news) => ({ inputs: news, failures: refuseUnknownInputs("random", "provider", news, ["version"]) }),
    diff: () => ({ changes: false, replaces: [] }),
    parse: () => ({}),
  },
  resources: [randomPassword],
};

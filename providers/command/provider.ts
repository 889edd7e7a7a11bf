/**
 * The command stand-in (pulumi-command 1.2.1). Its only resource is `command:remote:Command`.
 * pulumi-go-provider answers `AcceptSecrets: true` (SEMANTICS.md §0, GP:provider.go:795), so the
 * engine sends secrets as such and only the provider's own marking applies: an output is secret
 * when the same-named input was, and `connection` always (§6 "Secrets"). The provider has no
 * config keys.
 */
import { type ProviderDefinition, refuseUnknownInputs } from "../runtime/definition";
import { remoteCommand } from "./remote-command";

export const commandProvider: ProviderDefinition<unknown> = {
  name: "command",
  version: "1.2.1",
  acceptSecrets: true,
  supportsPreview: true,
  config: {
    keys: [],
    check: (news) => ({ inputs: news, failures: refuseUnknownInputs("command", "provider", news, ["version"]) }),
    diff: () => ({ changes: false, replaces: [] }),
    parse: () => ({}),
  },
  resources: [remoteCommand],
};

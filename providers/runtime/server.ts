/**
 * Serves a stand-in as `pulumirpc.ResourceProvider` over gRPC, the way the engine loads any
 * `pulumi-resource-<name>` plugin: it starts the server on a loopback port and prints the port.
 *
 * Written against the stubs `@pulumi/pulumi` ships, not `@pulumi/pulumi/provider`'s `main()`:
 * that one drops Configure's arguments, answers CheckConfig/DiffConfig with Unimplemented and has
 * no detailed diff, all of which a faithful stand-in needs.
 */
import * as grpc from "@grpc/grpc-js";
import * as anyproto from "google-protobuf/google/protobuf/any_pb";
import * as emptyproto from "google-protobuf/google/protobuf/empty_pb";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import * as enginerpc from "@pulumi/pulumi/proto/engine_grpc_pb";
import * as engineproto from "@pulumi/pulumi/proto/engine_pb";
import * as pluginproto from "@pulumi/pulumi/proto/plugin_pb";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import * as statusproto from "@pulumi/pulumi/proto/status_pb";
import {
  type CheckResult,
  type DiffKind,
  type DiffResult,
  InitFailedError,
  type LogSeverity,
  type OperationContext,
  type ProviderDefinition,
  type ResourceDefinition,
} from "./definition";
import { concealProps, type Props, revealProps } from "./properties";

type Call<Req> = grpc.ServerUnaryCall<Req, unknown>;
type Done = grpc.sendUnaryData<unknown>;

const diffKinds: Record<DiffKind, provproto.PropertyDiff.Kind> = {
  add: provproto.PropertyDiff.Kind.ADD,
  "add-replace": provproto.PropertyDiff.Kind.ADD_REPLACE,
  delete: provproto.PropertyDiff.Kind.DELETE,
  "delete-replace": provproto.PropertyDiff.Kind.DELETE_REPLACE,
  update: provproto.PropertyDiff.Kind.UPDATE,
  "update-replace": provproto.PropertyDiff.Kind.UPDATE_REPLACE,
};

const severities: Record<LogSeverity, engineproto.LogSeverity> = {
  debug: engineproto.LogSeverity.DEBUG,
  info: engineproto.LogSeverity.INFO,
  warning: engineproto.LogSeverity.WARNING,
  error: engineproto.LogSeverity.ERROR,
};

function toProps(s: structproto.Struct | undefined): Props {
  return (s?.toJavaScript() ?? {}) as Props;
}

function toStruct(p: Props): structproto.Struct {
  return structproto.Struct.fromJavaScript(p as Record<string, structproto.JavaScriptValue>);
}

/** `urn:pulumi:<stack>::<project>::<parent types$>type::<name>` */
function parseUrn(urn: string): { type: string; name: string } {
  const parts = urn.split("::");
  const name = parts.slice(3).join("::");
  const types = (parts[2] ?? "").split("$");
  return { type: types[types.length - 1] ?? "", name };
}

function errorStatus(e: unknown): grpc.ServiceError {
  const message = e instanceof Error ? e.message : String(e);
  const metadata = new grpc.Metadata();
  if (e instanceof InitFailedError) {
    const status = new statusproto.Status();
    status.setCode(grpc.status.UNKNOWN);
    status.setMessage(message);
    const detail = new provproto.ErrorResourceInitFailed();
    detail.setId(e.id);
    detail.setProperties(toStruct(e.properties));
    detail.setReasonsList(e.reasons);
    const any = new anyproto.Any();
    any.pack(detail.serializeBinary(), "pulumirpc.ErrorResourceInitFailed");
    status.addDetails(any);
    metadata.add("grpc-status-details-bin", Buffer.from(status.serializeBinary()));
  }
  return Object.assign(new Error(message), { code: grpc.status.UNKNOWN, details: message, metadata });
}

function unimplemented(what: string): grpc.ServiceError {
  return Object.assign(new Error(`${what} is not implemented`), {
    code: grpc.status.UNIMPLEMENTED,
    details: `${what} is not implemented`,
    metadata: new grpc.Metadata(),
  });
}

function diffResponse(d: DiffResult): provproto.DiffResponse {
  const resp = new provproto.DiffResponse();
  resp.setChanges(d.changes ? provproto.DiffResponse.DiffChanges.DIFF_SOME : provproto.DiffResponse.DiffChanges.DIFF_NONE);
  resp.setReplacesList(d.replaces);
  resp.setStablesList(d.stables ?? []);
  resp.setDeletebeforereplace(!!d.deleteBeforeReplace && d.replaces.length > 0);
  if (d.detailedDiff) {
    resp.setHasdetaileddiff(true);
    const map = resp.getDetaileddiffMap();
    const top = new Set<string>();
    for (const [path, kind] of Object.entries(d.detailedDiff)) {
      const pd = new provproto.PropertyDiff();
      pd.setKind(diffKinds[kind]);
      pd.setInputdiff(false);
      map.set(path, pd);
      top.add(path.split(/[.[]/)[0]!);
    }
    resp.setDiffsList([...top]);
  }
  return resp;
}

function checkResponse(r: CheckResult): provproto.CheckResponse {
  const resp = new provproto.CheckResponse();
  resp.setInputs(toStruct(r.inputs));
  resp.setFailuresList(
    r.failures.map((f) => {
      const cf = new provproto.CheckFailure();
      cf.setProperty(f.property);
      cf.setReason(f.reason);
      return cf;
    }),
  );
  return resp;
}

class StandInServer<C> {
  private engine?: enginerpc.EngineClient;
  private config?: C;
  private readonly byToken: Map<string, ResourceDefinition<C>>;

  constructor(
    private readonly def: ProviderDefinition<C>,
    engineAddress: string | undefined,
  ) {
    this.byToken = new Map(def.resources.map((r) => [r.token, r]));
    if (engineAddress) this.connectEngine(engineAddress);
  }

  private connectEngine(address: string) {
    this.engine = new enginerpc.EngineClient(address, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": 400 * 1024 * 1024,
    });
  }

  private log(urn: string, severity: LogSeverity, message: string, ephemeral = false): Promise<void> {
    const engine = this.engine;
    if (!engine) return Promise.resolve();
    const req = new engineproto.LogRequest();
    req.setSeverity(severities[severity]);
    req.setMessage(message);
    req.setUrn(urn);
    req.setEphemeral(ephemeral);
    return new Promise((resolve) => engine.log(req, () => resolve()));
  }

  private resource(type: string): ResourceDefinition<C> {
    const r = this.byToken.get(type);
    if (!r) throw new Error(`the ${this.def.name} stand-in does not implement resource type ${type}`);
    return r;
  }

  private context(urn: string, preview: boolean): OperationContext<C> {
    const { type, name } = parseUrn(urn);
    if (this.config === undefined) throw new Error(`the ${this.def.name} stand-in was used before Configure`);
    return { urn, name, type, preview, config: this.config, log: (sev, msg, eph) => this.log(urn, sev, msg, eph) };
  }

  /**
   * Inputs as the resource sees them (secrets revealed) and how to put secretness back on its
   * outputs. A provider that accepts secrets marks an output secret when the input of the same
   * name was secret (pulumi-go-provider's rule); one that does not never sees secrets at all.
   */
  private reveal(def: ResourceDefinition<C>, sets: Props[], secretFrom: number[] = [0]) {
    const secretKeys = new Set<string>(this.def.acceptSecrets ? (def.secretOutputs ?? []) : []);
    const plain = sets.map((s, i) => {
      const r = revealProps(s);
      // Only the inputs the outputs come from decide their secretness: an input that stops being
      // secret makes its output plain again.
      if (this.def.acceptSecrets && secretFrom.includes(i)) r.secretKeys.forEach((k) => secretKeys.add(k));
      return r.plain;
    });
    const conceal = (p: Props) => (this.def.acceptSecrets ? concealProps(p, secretKeys) : p);
    return { plain, conceal };
  }

  private unary<Req>(fn: (req: Req) => Promise<unknown> | unknown) {
    return (call: Call<Req>, done: Done) => {
      Promise.resolve()
        .then(() => fn(call.request))
        .then(
          (resp) => done(null, resp),
          (e) => done(e && (e as grpc.ServiceError).code === grpc.status.UNIMPLEMENTED ? (e as grpc.ServiceError) : errorStatus(e)),
        );
    };
  }

  implementation(): grpc.UntypedServiceImplementation {
    const def = this.def;
    return {
      handshake: this.unary(() => {
        throw unimplemented("Handshake");
      }),
      parameterize: this.unary(() => {
        throw unimplemented("Parameterize");
      }),
      getSchema: this.unary(() => {
        throw unimplemented("GetSchema");
      }),
      getPluginInfo: this.unary(() => {
        const info = new pluginproto.PluginInfo();
        info.setVersion(def.version);
        return info;
      }),
      attach: this.unary((req: pluginproto.PluginAttach) => {
        this.connectEngine(req.getAddress());
        return new emptyproto.Empty();
      }),
      cancel: this.unary(() => new emptyproto.Empty()),
      getMapping: this.unary(() => new provproto.GetMappingResponse()),
      getMappings: this.unary(() => new provproto.GetMappingsResponse()),
      invoke: this.unary((req: provproto.InvokeRequest) => {
        throw new Error(`the ${def.name} stand-in does not implement the function ${req.getTok()}`);
      }),
      streamInvoke: (call: grpc.ServerWritableStream<unknown, unknown>) => call.destroy(unimplemented("StreamInvoke")),
      call: this.unary(() => {
        throw unimplemented("Call");
      }),
      construct: this.unary(() => {
        throw unimplemented("Construct");
      }),

      checkConfig: this.unary((req: provproto.CheckRequest) => {
        const news = revealProps(toProps(req.getNews())).plain;
        return checkResponse(def.config.check(news));
      }),
      diffConfig: this.unary((req: provproto.DiffRequest) => {
        const olds = revealProps(toProps(req.getOldInputs() ?? req.getOlds())).plain;
        const news = revealProps(toProps(req.getNews())).plain;
        return diffResponse(def.config.diff(olds, news));
      }),
      configure: this.unary((req: provproto.ConfigureRequest) => {
        let props: Props;
        const args = req.getArgs();
        if (args) {
          props = revealProps(toProps(args)).plain;
        } else {
          // Older engines send only `<pkg>:config:<key>` variables, values JSON-encoded where not strings.
          props = {};
          req.getVariablesMap().forEach((v, k) => {
            const key = k.replace(/^[^:]+:config:/, "");
            props[key] = v;
          });
        }
        this.config = def.config.parse(props);
        const resp = new provproto.ConfigureResponse();
        resp.setAcceptsecrets(def.acceptSecrets);
        resp.setSupportspreview(def.supportsPreview);
        resp.setAcceptresources(false);
        resp.setAcceptoutputs(false);
        return resp;
      }),

      check: this.unary((req: provproto.CheckRequest) => {
        const urn = req.getUrn();
        const { type, name } = parseUrn(urn);
        const r = this.resource(req.getType() || type);
        const newsRaw = toProps(req.getNews());
        const oldsRaw = req.getOlds() ? toProps(req.getOlds()) : undefined;
        const { plain, conceal } = this.reveal(r, [newsRaw]);
        const autonaming = req.getAutonaming();
        const modes = ["propose", "enforce", "disable"] as const;
        const result = r.check(plain[0]!, oldsRaw && Object.keys(oldsRaw).length ? revealProps(oldsRaw).plain : undefined, {
          urn,
          name: req.getName() || name,
          type: req.getType() || type,
          randomSeed: Buffer.from(req.getRandomseed_asU8()),
          autonaming: autonaming ? { proposedName: autonaming.getProposedName(), mode: modes[autonaming.getMode()] ?? "propose" } : undefined,
        });
        return checkResponse({ inputs: conceal(result.inputs), failures: result.failures });
      }),
      diff: this.unary((req: provproto.DiffRequest) => {
        const urn = req.getUrn();
        const r = this.resource(req.getType() || parseUrn(urn).type);
        const { plain } = this.reveal(r, [toProps(req.getOlds()), toProps(req.getNews()), toProps(req.getOldInputs())]);
        const [olds, news, oldInputs] = plain as [Props, Props, Props];
        return diffResponse(r.diff({ id: req.getId(), olds, news, oldInputs }, this.context(urn, true)));
      }),
      create: this.unary(async (req: provproto.CreateRequest) => {
        const urn = req.getUrn();
        const r = this.resource(req.getType() || parseUrn(urn).type);
        const { plain, conceal } = this.reveal(r, [toProps(req.getProperties())]);
        try {
          const { id, outputs } = await r.create(plain[0]!, this.context(urn, req.getPreview()));
          const resp = new provproto.CreateResponse();
          resp.setId(req.getPreview() ? "" : id);
          resp.setProperties(toStruct(conceal(outputs)));
          return resp;
        } catch (e) {
          if (e instanceof InitFailedError) throw new InitFailedError(e.message, e.id, conceal(e.properties), e.reasons);
          throw e;
        }
      }),
      read: this.unary(async (req: provproto.ReadRequest) => {
        const urn = req.getUrn();
        const r = this.resource(req.getType() || parseUrn(urn).type);
        const { plain, conceal } = this.reveal(r, [toProps(req.getProperties()), toProps(req.getInputs())], [0, 1]);
        const [state, inputs] = plain as [Props, Props];
        const got = await r.read({ id: req.getId(), state, inputs }, this.context(urn, false));
        const resp = new provproto.ReadResponse();
        if (!got) return resp; // an empty ID: the engine drops the resource from state
        resp.setId(got.id);
        resp.setProperties(toStruct(conceal(got.outputs)));
        resp.setInputs(toStruct(conceal(got.inputs)));
        return resp;
      }),
      update: this.unary(async (req: provproto.UpdateRequest) => {
        const urn = req.getUrn();
        const r = this.resource(req.getType() || parseUrn(urn).type);
        const { plain, conceal } = this.reveal(r, [toProps(req.getOlds()), toProps(req.getNews()), toProps(req.getOldInputs())], [1]);
        const [olds, news, oldInputs] = plain as [Props, Props, Props];
        const outputs = await r.update({ id: req.getId(), olds, news, oldInputs }, this.context(urn, req.getPreview()));
        const resp = new provproto.UpdateResponse();
        resp.setProperties(toStruct(conceal(outputs)));
        return resp;
      }),
      delete: this.unary(async (req: provproto.DeleteRequest) => {
        const urn = req.getUrn();
        const r = this.resource(req.getType() || parseUrn(urn).type);
        const { plain } = this.reveal(r, [toProps(req.getProperties()), toProps(req.getOldInputs())]);
        const [state, oldInputs] = plain as [Props, Props];
        await r.delete({ id: req.getId(), state, oldInputs }, this.context(urn, false));
        return new emptyproto.Empty();
      }),
    };
  }
}

/**
 * Starts the plugin: `pulumi-resource-<name> [flags] <engine address>`. Prints the port, which is
 * how the engine finds the server, and keeps running until the engine kills it.
 */
export async function serve<C>(def: ProviderDefinition<C>, argv: string[] = process.argv.slice(2)): Promise<void> {
  const engineAddress = argv.filter((a) => !a.startsWith("-")).pop();
  const server = new grpc.Server({ "grpc.max_receive_message_length": 400 * 1024 * 1024 });
  server.addService(provrpc.ResourceProviderService, new StandInServer(def, engineAddress).implementation());
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  process.stdout.write(`${port}\n`);
}

/** For in-process tests: the same server, bound to a loopback port, with a stop function. */
export async function listen<C>(def: ProviderDefinition<C>, engineAddress?: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const server = new grpc.Server();
  server.addService(provrpc.ResourceProviderService, new StandInServer(def, engineAddress).implementation());
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, stop: () => new Promise((resolve) => server.tryShutdown(() => resolve())) };
}

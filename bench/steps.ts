/**
 * The steps of a berth deploy, timed from the engine's event stream (Automation API `onEvent`):
 * each resource step starts with a `resourcePreEvent` and ends with a `resOutputsEvent`, both
 * naming the resource's URN. A step of the deploy is the span from the first start to the last end
 * of the resources that make it, by the names berth's components give them.
 *
 * The engine stamps its events in whole seconds, too coarse for steps that take a second or two;
 * each event is stamped with `Date.now()` when it arrives instead. The Automation API reads the
 * engine's event log every 200 ms, so a span is good to about ±0.2 s.
 */
import type { EngineEvent, OpType } from "@pulumi/pulumi/automation";

export const STEPS = ["backup", "release", "create", "gate", "switch", "cleanup"] as const;
export type Step = (typeof STEPS)[number];

/** Ops that leave a resource as it is: they cost the engine nothing worth timing. */
const NO_WORK: OpType[] = ["same", "read", "refresh"];
const REMOVALS: OpType[] = ["delete", "delete-replaced", "discard", "discard-replaced"];

function nameOf(urn: string): string {
  return urn.slice(urn.lastIndexOf("::") + 2);
}

/**
 * Which deploy step a resource step belongs to: deletions are the cleanup (berth deletes the old
 * release last, after the switch); the rest by the resource names of components/.
 */
export function stepOf(urn: string, type: string, op: OpType): Step | undefined {
  if (REMOVALS.includes(op)) return "cleanup";
  const name = nameOf(urn);
  if (name.endsWith("-pre-deploy")) return "backup";
  if (name.endsWith("-app-release")) return "release";
  // The release's port reservation and its containers: web and workers.
  if (name.includes("-app-port-") || type === "docker:index/container:Container") return "create";
  if (name.endsWith("-gate-poll")) return "gate";
  if (name.endsWith("-vhost-site")) return "switch";
  return undefined;
}

interface Timed {
  at: number;
  event: EngineEvent;
}

export interface StepTimes {
  /** Seconds per step, for the steps this deploy had. */
  seconds: Partial<Record<Step, number>>;
  /** Seconds during which at least one resource step of the deploy's steps was under way. */
  stepsBusy: number;
  /** Seconds during which at least one resource step of any kind was under way. */
  busy: number;
  /** Resource steps that did work, in order, with their seconds: what the spans are made of. */
  resources: Array<{ name: string; op: OpType; step?: Step; seconds: number }>;
}

/** Collects a deploy's engine events as they arrive; pass `onEvent` to `stack.up`. */
export class StepRecorder {
  private readonly events: Timed[] = [];

  /** @param onStep called as each resource step starts (e.g. to read a container's log before it is deleted). */
  constructor(private readonly onStep?: (meta: { op: OpType; urn: string; type: string; id?: string }) => void) {}

  readonly onEvent = (event: EngineEvent) => {
    this.events.push({ at: Date.now(), event });
    const pre = event.resourcePreEvent?.metadata;
    if (pre && this.onStep) this.onStep({ op: pre.op, urn: pre.urn, type: pre.type, id: pre.old?.id });
  };

  times(): StepTimes {
    const open = new Map<string, { at: number; op: OpType; type: string }>();
    const spans = new Map<Step, { from: number; to: number }>();
    const resources: StepTimes["resources"] = [];
    const intervals: Array<{ from: number; to: number; step?: Step }> = [];
    for (const { at, event } of this.events) {
      const pre = event.resourcePreEvent?.metadata;
      const post = event.resOutputsEvent?.metadata;
      const meta = pre ?? post;
      if (!meta || NO_WORK.includes(meta.op) || meta.op === "replace") continue;
      const key = `${meta.op} ${meta.urn}`;
      if (pre) {
        open.set(key, { at, op: meta.op, type: meta.type });
        continue;
      }
      const started = open.get(key);
      if (!started) continue;
      open.delete(key);
      const step = stepOf(meta.urn, meta.type, meta.op);
      resources.push({ name: nameOf(meta.urn), op: meta.op, step, seconds: (at - started.at) / 1000 });
      intervals.push({ from: started.at, to: at, step });
      if (!step) continue;
      const span = spans.get(step);
      spans.set(step, { from: Math.min(span?.from ?? started.at, started.at), to: Math.max(span?.to ?? at, at) });
    }
    const seconds: StepTimes["seconds"] = {};
    for (const [step, span] of spans) seconds[step] = (span.to - span.from) / 1000;
    return { seconds, resources, stepsBusy: covered(intervals.filter((i) => i.step)), busy: covered(intervals) };
  }
}

/** Seconds covered by the union of the intervals (steps that overlap count once). */
function covered(intervals: Array<{ from: number; to: number }>): number {
  let total = 0;
  let end = -Infinity;
  for (const i of [...intervals].sort((a, b) => a.from - b.from)) {
    if (i.to <= end) continue;
    total += i.to - Math.max(i.from, end);
    end = i.to;
  }
  return total / 1000;
}

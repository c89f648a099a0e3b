// What the rest of rar imports from src/trace/ for traces themselves (the
// session, the internals entry, tests). The rooms, each with one job:
//
//   events.ts   the table of event kinds and their fields; event types,
//               canonical encoding, one-line descriptions
//   chain.ts    the hash chain: links, heads, checking recorded links
//   store.ts    the Trace as recorded: events in order, int calls compact,
//               the chain sealed lazily
//   decode.ts   reading an untrusted trace slot, within bounds
//
// Beside them: recorder.ts (puts a run's inputs into a Trace), replay.ts and
// audit.ts (re-execute and check a recorded run).

export { TraceError } from "./chain.js";
export { describeEvent, promptBefore } from "./events.js";
export { traceFromWire } from "./decode.js";
export type { AnswerEvent, CapErrorEvent, CapEvent, HostCap, InterruptEvent, NarrowEvent, PromptEvent, RefuelEvent, ResumeEvent, StartEvent, TraceEvent } from "./events.js";
export { Trace, callCounts, traceToWire } from "./store.js";

// A Session is what a host holds: one process tree with its machine. It runs
// the root under budgets, refuels and resumes it, and drives async capability
// calls. The CLI and the embedding API both use it.

import { CapRegistry, canonicalCap, type CapHandler, type CapSignature, type CapValue } from "./caps/registry.js";
import { rootArgsMemory, textArgsWords, type Process, type StatusName } from "./process/process.js";
import { describeFault } from "./process/report.js";
import { LIMIT_MAX, Machine, interruptRoot, raiseLimits, type CapCallEvent, type RunStop } from "./process/scheduler.js";

export { LIMIT_MAX };
import { RarError } from "./vm/errors.js";
import type { Module } from "./vm/module.js";
import type { TieringOptions } from "./vm/tiering.js";
import { StatusCode } from "./vm/opcodes.js";
import { decodeFor, imageCodec, resolverOf } from "./image/codec.js";
import { policyDigest as grantsDigest, stateDigest } from "./image/digest.js";
import { hex } from "./vm/sha256.js";
import { encodeImage } from "./image/encode.js";
import { ImageHistory } from "./image/history.js";
import { CallCounters, HOST_EFFECTS, VIRTUAL_TIME, builtinRegistry, fdLines, mockHandler, type MockSpec } from "./caps/builtins.js";
import { KvStore } from "./caps/kv.js";
import type { Mount } from "./caps/fs.js";
import { KIND } from "./caps/filetree.js";
import { applyGrants, checkDenials, negotiate, negotiateImage, policyFromJson, policyToJson, recordedPrompts, type Policy } from "./caps/policy.js";
import { TRACE_LIMITS } from "./trace/decode.js";
import { MAX_CAP_ARGS } from "./vm/verify.js";
import { Recorder } from "./trace/recorder.js";
import { hostTable } from "./trace/events.js";
import { Trace, callCounts, traceFromWire, traceToWire } from "./trace/trace.js";
import { capFamily, codePointCount, codePointsToText, sameSig, textToCodePoints } from "./caps/registry.js";
import { promptGate } from "./caps/prompt.js";
import { BUILTIN_SIGNATURES } from "./caps/signatures.js";
import type { LifecycleName, LogEvent } from "./caps/log.js";

/** Default root budgets (CLI.md): bounded unless the user asks for more. */
export const DEFAULT_GAS = 10_000_000;
export const DEFAULT_MEM = 1_048_576;
/** Largest maximum tree depth a host may configure. */
export const DEPTH_MAX = 1 << 20;
/**
 * Gas per slice when a run can be interrupted (RunOptions): between slices
 * the session looks at the signal and the clock. A slice is the same
 * refusal as a spent budget, so slicing changes nothing the guest observes.
 */
const SLICE_GAS = 1 << 20;

export interface SessionOptions {
  /** Root gas limit. Default 10_000_000. */
  gas?: number;
  /** Root memory limit in words. Default 1_048_576. */
  mem?: number;
  /** Entry function name. Default `main`, else the module's first function. */
  entry?: string;
  /**
   * Arguments for main(args), placed in the root's memory at address 0:
   * integers as [n, a0, ..., an-1]; when any is a string, every one is a
   * text (an integer as its decimal text) for a `main(args: [[int]])`
   * (spec/language.md "Program arguments"). At most ARGS_WORDS_MAX words.
   */
  args?: readonly (number | string)[];
  /** Capabilities granted to the root. Default: io.print. */
  caps?: readonly string[];
  /** Where io.print writes. Default: process.stdout. */
  stdout?: (text: string) => void;
  /** Where io.eprint writes (the guest's stderr). Default: process.stderr. */
  stderr?: (text: string) => void;
  /**
   * Receives the guest's log.write records and the root's lifecycle events
   * (started, suspended, resumed, finished: caps/log.ts). Default: none.
   */
  onLog?: (event: LogEvent) => void;
  /** Extra host capabilities by name (checked and copied at the start: spec/capabilities.md). */
  handlers?: Readonly<Record<string, CapHandler>>;
  /** Maximum process tree depth. Default 4096. */
  maxDepth?: number;
  /** Called for every capability call answered by the host. */
  onCapCall?: (event: CapCallEvent) => void;
  /** Modules the entry module links (untrusted imports). */
  linked?: readonly Module[];
  /**
   * Whether hot modules are compiled to JavaScript (`enabled`, default true)
   * and after how much gas run interpreted (`warmGas`, default 200,000; 0:
   * at once). Results, gas, faults and images are the same either way; off,
   * hot guest loops run several times slower. Off is also what happens by
   * itself where generating code from strings is forbidden.
   */
  tiering?: Partial<TieringOptions>;
  /**
   * The root's policy (caps/policy.ts loadPolicy): its grants replace `caps`,
   * its mocks and seed configure the built-ins, and negotiation runs first:
   * a capability of the module's manifest that is not granted throws
   * RarError("policy") before anything runs. Restored from the trace on fromImage.
   */
  policy?: Policy;
  /** Where io.read reads lines from. Default: the process's stdin. */
  stdin?: () => string | null;
  /** Record the trace (DESIGN §5). Default true. */
  record?: boolean;
  /**
   * Who runs the tree here (a cluster worker's name): recorded with each
   * host resume, so an audit names who ran each leg of the run.
   */
  hostName?: string;
  /**
   * Awaited before each call of a built-in capability that changes something
   * outside the process tree (HOST_EFFECTS: fs.write, fs.mkdir, fs.remove,
   * fs.rename on host directories; kv.put when the policy names a kv file).
   * The call waits for it (the VM suspends as on any async call: use
   * runAsync). A cluster worker notes there that the effect may be repeated
   * should it die before it stores its next image.
   */
  beforeEffect?: (cap: string, path: string) => Promise<void>;
  /** Deadline of one net.fetch call in milliseconds (headers and body). Default 30,000. */
  netTimeout?: number;
  /**
   * Answers the policy's prompts (Policy.prompts, caps/prompt.ts): called at
   * the first call exercising a prompted grant (`cap` as `net.fetch:ORIGIN`,
   * `env.get:KEY`, `clock.now:real` or a family) by the process at `path`.
   * true allows it for the rest of the session, false (or a throw, or a
   * rejected promise) refuses it: the call faults cap_failed. A promise makes
   * the call async (use runAsync). The answer is recorded in the trace.
   * Default: every prompt is refused.
   */
  onPrompt?: (cap: string, path: string) => boolean | Promise<boolean>;
}

/** How long a run may go on (both optional; a run without them runs until the root stops). */
export interface RunOptions {
  /** Aborting it stops the run at the next instruction boundary: the root is out_of_gas there, resumable. */
  signal?: AbortSignal;
  /** Wall-clock budget in milliseconds, the same kind of stop when it is spent. */
  timeout?: number;
  /**
   * Checkpoints for the time-travel debugger: the run also stops where the
   * root's gasUsed would pass `next(gasUsed)` (an instruction boundary, the
   * same refusal as a spent budget: invisible to the guest and to the trace),
   * calls `take()` there and goes on.
   */
  checkpoints?: { next(gasUsed: number): number; take(): void };
}

/** What a run ended with. */
export interface RunResult {
  status: StatusName;
  /** done(value) or yielded(value). */
  value?: number;
  /** One line describing a fault: kind, process path, function, source line, callers. */
  fault?: string;
  gasUsed: number;
  gasLimit: number;
  memUsed: number;
  memLimit: number;
}

// --- the API boundary: every number a host passes is checked here ---------

/** A budget, refuel amount or count: a non-negative safe integer (undefined gives `fallback`). */
export function checkCount(name: string, v: unknown, fallback: number, max = LIMIT_MAX): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || v > max)
    throw new RarError("usage.bad_number", `${name} must be an integer from 0 to ${max}, not ${typeof v === "number" ? String(v) : typeof v}`);
  return v;
}

/** Most words the program arguments may take in the root's memory (integers or texts). */
export const ARGS_WORDS_MAX = 1 << 20;

/** Program arguments as the root receives them: integers, or texts when any argument is a string. */
export interface ProgramArgs {
  readonly ints: readonly number[];
  readonly texts?: readonly Int32Array[];
}

/** Program arguments: each a signed 32-bit integer or a string; at most ARGS_WORDS_MAX words in all. */
export function checkArgs(args: unknown): ProgramArgs {
  if (args === undefined) return { ints: [] };
  if (!Array.isArray(args)) throw new RarError("usage.bad_args");
  if (args.length >= ARGS_WORDS_MAX) throw new RarError("usage.bad_args", `${args.length} program arguments: at most ${ARGS_WORDS_MAX - 1}`);
  let text = false;
  args.forEach((a, i) => {
    if (typeof a === "string") text = true;
    else if (typeof a !== "number" || !Number.isInteger(a) || a < -0x80000000 || a > 0x7fffffff)
      throw new RarError("usage.bad_args", `args[${i}] must be a signed 32-bit integer or a string, not ${typeof a === "number" ? String(a) : typeof a}`);
  });
  if (!text) return { ints: args as number[] };
  // Counted before converting: a string's code points are at most its length.
  let words = 1 + 2 * args.length;
  for (const a of args) words += typeof a === "string" ? a.length : 11;
  if (words > ARGS_WORDS_MAX) {
    const exact = textArgsWords((args as (number | string)[]).map((a) => ({ length: codePointCount(String(a)) })));
    if (exact > ARGS_WORDS_MAX) throw new RarError("usage.bad_args", `the program arguments take ${exact} words: at most ${ARGS_WORDS_MAX}`);
  }
  return { ints: [], texts: (args as (number | string)[]).map((a) => textToCodePoints(String(a))) };
}

/** Checks the options; returns the host's handlers as the session keeps them (checkedHandlers). */
function checkOptions(opts: SessionOptions): Record<string, CapHandler> | undefined {
  if (typeof opts !== "object" || opts === null) throw new RarError("usage.bad_options");
  checkCount("gas", opts.gas, 0);
  checkCount("mem", opts.mem, 0);
  checkArgs(opts.args);
  checkCount("maxDepth", opts.maxDepth, 0, DEPTH_MAX);
  if (opts.caps !== undefined && (!Array.isArray(opts.caps) || !opts.caps.every((c) => typeof c === "string")))
    throw new RarError("usage.bad_caps");
  if (opts.entry !== undefined && typeof opts.entry !== "string") throw new RarError("usage.bad_entry");
  const t: unknown = opts.tiering;
  if (t !== undefined && (typeof t !== "object" || t === null || !["undefined", "boolean"].includes(typeof (t as TieringOptions).enabled)))
    throw new RarError("usage.bad_options", "tiering must be an object { enabled?: boolean, warmGas?: number }");
  checkCount("tiering.warmGas", opts.tiering?.warmGas, 0);
  if (opts.hostName !== undefined && !(typeof opts.hostName === "string" && opts.hostName.length <= HOST_NAME_MAX))
    throw new RarError("usage.bad_host_name", `hostName must be a string of at most ${HOST_NAME_MAX} characters`);
  if (opts.beforeEffect !== undefined && typeof opts.beforeEffect !== "function") throw new RarError("usage.bad_options", "beforeEffect must be a function");
  checkCount("netTimeout", opts.netTimeout, 0, 2 ** 31 - 1);
  if (opts.onPrompt !== undefined && typeof opts.onPrompt !== "function") throw new RarError("usage.bad_options", "onPrompt must be a function");
  if (opts.policy !== undefined && opts.policy !== null && !policyShaped(opts.policy))
    throw new RarError("usage.bad_options", "policy must be a Policy { grants: string[], denials: string[], prompts?: string[], mocks: { FAMILY: { sig, results } }, seed, mounts? } (loadPolicy makes one)");
  return checkedHandlers(opts.handlers);
}

/** A value type of a capability signature. */
const isValueType = (t: unknown): boolean => t === "int" || t === "array";

/** Compares names by UTF-16 code units, as Array#sort does. */
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The host's handlers, checked and copied by canonical name: each property
 * (the object's keys, a handler's `sig`, its `args` and `result`) is read
 * once, so what is checked is what the session keeps whatever a getter or
 * a Proxy returns next; each copy calls the host's own `call`. A name and
 * its `@1` alias are one capability: the later in sorted order wins, as when
 * they are registered. A name longer than a module may name a capability,
 * or a signature taking more arguments than CAP passes, could never be
 * called and would make a trace no image can hold: refused.
 */
function checkedHandlers(handlers: unknown): Record<string, CapHandler> | undefined {
  if (handlers === undefined) return undefined;
  if (typeof handlers !== "object" || handlers === null) throw new RarError("usage.bad_options", "handlers must be an object of handlers by capability name");
  const entries = Object.entries(handlers);
  if (entries.length > TRACE_LIMITS.hostCaps - BUILTIN_FAMILIES.size)
    throw new RarError("usage.bad_options", `${entries.length} host handlers: at most ${TRACE_LIMITS.hostCaps - BUILTIN_FAMILIES.size}`);
  const out: Record<string, CapHandler> = Object.create(null) as Record<string, CapHandler>;
  for (const [name, h] of entries.sort(([a], [b]) => byName(a, b))) {
    const bad = (): RarError =>
      new RarError("usage.bad_options", `handler '${name.slice(0, 100)}' must be { sig: { args: ("int" | "array")[] (at most ${MAX_CAP_ARGS}), result: "int" | "array" }, call }`);
    if (name.length > TRACE_LIMITS.name) throw new RarError("usage.bad_options", `handler name '${name.slice(0, 100)}...' is longer than ${TRACE_LIMITS.name} characters`);
    if (typeof h !== "object" || h === null) throw bad();
    const handler = h as CapHandler;
    const sig: unknown = handler.sig;
    if (typeof handler.call !== "function" || typeof sig !== "object" || sig === null) throw bad();
    const list: unknown = (sig as CapSignature).args;
    const result: unknown = (sig as CapSignature).result;
    if (!Array.isArray(list)) throw bad();
    const n: unknown = list.length;
    if (typeof n !== "number" || n > MAX_CAP_ARGS) throw bad();
    const args: unknown[] = [];
    for (let i = 0; i < n; i++) args.push((list as unknown[])[i]);
    if (!args.every(isValueType) || !isValueType(result)) throw bad();
    out[canonicalCap(name)] = { sig: { args, result } as CapSignature, call: (a, ctx) => handler.call(a, ctx) };
  }
  return out;
}

/** The policy's mocks, copied (signature and results) by canonical name, the later in sorted order winning as when registered. */
function copiedMocks(mocks: Policy["mocks"]): Policy["mocks"] {
  const out: Record<string, MockSpec> = Object.create(null) as Record<string, MockSpec>;
  for (const family of Object.keys(mocks).sort(byName)) {
    const { sig, results } = mocks[family];
    out[canonicalCap(family)] = { sig: { args: [...sig.args], result: sig.result }, results: results.map((r) => (typeof r === "number" ? r : r.slice())) };
  }
  return out;
}

/** What an image without recorded mocks has mocked. */
const NOTHING_MOCKED: ReadonlySet<string> = new Set();

/** The built-in capability families (what a host offers before its own handlers). */
const BUILTIN_FAMILIES: ReadonlySet<string> = new Set(Object.keys(BUILTIN_SIGNATURES));

/** Longest host name a resume event records (a capability name's bound). */
const HOST_NAME_MAX = 256;

/** Whether two offers list the same names with the same signatures. */
function sameOffer(a: readonly Offered[], b: readonly Offered[]): boolean {
  return a.length === b.length && a.every((x, i) => x.name === b[i].name && sameSig(x.sig, b[i].sig));
}

/** A capability a host offers, with its signature. */
type Offered = { readonly name: string; readonly sig: CapSignature };

/** What a host without mocks or handlers offers: the built-ins, sorted (one list for every such session). */
const BUILTIN_OFFER: readonly Offered[] = Object.freeze(Object.keys(BUILTIN_SIGNATURES).sort().map((name) => Object.freeze({ name, sig: BUILTIN_SIGNATURES[name] })));

/** `inner`, called only once `before` has settled (a host effect announced before it happens). */
function announced(name: string, inner: CapHandler, before: (cap: string, path: string) => Promise<void>): CapHandler {
  return { sig: inner.sig, call: (args, ctx) => before(name, ctx.path).then(() => inner.call(args, ctx)) };
}

function checkRunOptions(opts: RunOptions): void {
  if (typeof opts !== "object" || opts === null) throw new RarError("usage.bad_options", "run options must be an object");
  if (opts.timeout !== undefined && !(typeof opts.timeout === "number" && opts.timeout >= 0 && opts.timeout <= 2 ** 31))
    throw new RarError("usage.bad_number", `timeout must be a number of milliseconds from 0 to ${2 ** 31}`);
  if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw new RarError("usage.bad_signal");
}

/**
 * The text of the host's policy ("" for none), read back as its images'
 * readers will read it (policyFromJson): a mock of a built-in with another
 * signature, or a prompt in a form no call is asked about, is refused now
 * rather than in an image nothing can restore, or while the call it names
 * runs unasked. Its prompts as read back: what the start event records is
 * what the session asks about, whatever the host changes later.
 */
function checkedPolicy(policy: Policy | undefined, handlers: Record<string, CapHandler> | undefined): { text: string; prompts: readonly string[] } {
  if (!policy) return { text: "", prompts: [] };
  const text = policyToJson(policy);
  const read = policyFromJson(text, "policy");
  checkDenials(read, "policy");
  return { text, prompts: checkedPrompts(read.prompts ?? [], handlers) }; // policyFromJson checked their forms
}

/**
 * The host's prompts, already in the form a call is asked about (policy.ts
 * recordedPrompts), checked against its handlers. A prompt for env.get or net.fetch names
 * the key or origin the built-in's first argument (an array) gives
 * (caps/prompt.ts): one for a family the host's own handler takes with
 * another signature would never be asked about.
 */
function checkedPrompts(prompts: readonly string[], handlers: Record<string, CapHandler> | undefined): readonly string[] {
  for (const p of prompts) {
    const family = capFamily(p);
    const own = handlers?.[family]?.sig;
    const builtin = BUILTIN_SIGNATURES[family];
    if (own === undefined || builtin === undefined || (builtin.scope !== "key" && builtin.scope !== "origin")) continue;
    if (!sameSig(own, builtin))
      throw new RarError(
        "policy.bad_prompt",
        `cannot prompt for '${p}': the host's own ${family} takes (${own.args.join(", ")}), not the built-in's (${builtin.args.join(", ")}), so no call names a ${builtin.scope} to ask about`,
        "policy",
      );
  }
  return prompts;
}

/** Whether `p` has a Policy's shape (policyFromJson checks the rest: names, signatures, seed), so that reading it throws nothing but a RarError. */
function policyShaped(p: unknown): boolean {
  if (typeof p !== "object" || p === null) return false;
  const { grants, denials, prompts, mocks, mounts } = p as Record<string, unknown>;
  const names = (x: unknown): boolean => Array.isArray(x) && x.every((n) => typeof n === "string");
  if (!names(grants) || !names(denials) || (prompts !== undefined && !names(prompts)) || typeof mocks !== "object" || mocks === null) return false;
  for (const m of Object.values(mocks)) {
    const { sig, results } = (m ?? {}) as Partial<MockSpec>;
    if (typeof sig !== "object" || sig === null || !Array.isArray(sig.args) || !Array.isArray(results)) return false;
    if (!results.every((r: unknown) => typeof r === "number" || r instanceof Int32Array)) return false;
  }
  const mount = (m: unknown): boolean => typeof m === "object" && m !== null && typeof (m as Mount).guest === "string" && typeof (m as Mount).host === "string";
  return mounts === undefined || (Array.isArray(mounts) && mounts.every(mount));
}

/** The root's grants from the host's options: the policy's, else `caps`, else io.print (as `rar run`). */
function hostGrants(opts: SessionOptions): string[] {
  return opts.policy ? [...opts.policy.grants] : [...(opts.caps ?? ["io.print"])];
}

/** One entry of a root's file tree, as Session.files() gives it. */
export type FileEntry =
  | { readonly path: string; readonly kind: "file"; readonly mode: number; readonly bytes: Uint8Array }
  | { readonly path: string; readonly kind: "dir"; readonly mode: number }
  | { readonly path: string; readonly kind: "link"; readonly mode: number; readonly target: string };

/** The guest mount points of a policy's mounts, sorted. */
function mountPoints(mounts: readonly Mount[] | undefined): string[] {
  return (mounts ?? []).map((m) => m.guest).sort();
}

/**
 * The mount points an image's run was started with must each be mounted by
 * the resuming host (a directory of its choosing: the image names none), and
 * the host mounts nothing the run did not start with: where a path leads in
 * the file tree is the run's state.
 */
function matchMounts(recorded: readonly Mount[] | undefined, host: readonly Mount[] | undefined, where: string): string[] {
  const want = mountPoints(recorded);
  const have = mountPoints(host);
  for (const g of want)
    if (!have.includes(g)) throw new RarError("policy.mount", `the image's file tree has a mount at ${g}: pass --mount ${g}=DIR`, where);
  for (const g of have)
    if (!want.includes(g)) throw new RarError("policy.mount", `the image's run was started without a mount at ${g}; mounts are fixed when a run starts`, where);
  return want;
}

/** Hex digest of a policy as an image started under it records it (its grants and canonical text; audit checks it). */
export function policyDigest(p: Policy): string {
  return hex(grantsDigest(p.grants, policyToJson(p)));
}

export function entryIndex(module: Module, entry?: string): number {
  const name = entry ?? "main";
  const i = module.functions.findIndex((f) => f.name === name);
  if (i >= 0) return i;
  if (entry !== undefined) throw new RarError("usage.entry", `no function named '${entry}'`);
  return 0;
}

/** Where a run's slices end and whether the host wants it stopped (Session.run's options). */
interface Until {
  next(): number;
  stop(): boolean;
  /** The run stopped where next() said: a checkpoint is taken if that was one's place. */
  sliced(): void;
}

/** Fills an in-memory kv store with the puts a trace recorded, in order (the store's state at the trace's end). */
function replayPuts(kv: KvStore, trace: Trace): void {
  for (const e of trace.events())
    if (e.kind === "cap" && e.cap === "kv.put") {
      const [key, value] = e.args;
      // A recorded put (key and value arrays) answered 0; anything else in a forged trace is not one.
      if (e.result === 0 && e.args.length === 2 && typeof key !== "number" && typeof value !== "number") kv.put(codePointsToText(key), value);
    }
}

/**
 * The machine's capability registry, filled when first read: building the
 * handlers (and, when a trace is kept, wrapping each for the recorder) is
 * most of what setting up a restored session costs, and a run that makes no
 * capability call never reads them. Everything they are built from (options,
 * policy, counters continued from the trace, kv store) is fixed when the
 * session is made, so filling later gives the same handlers.
 */
class LazyCaps extends CapRegistry {
  private fill: (() => void) | null = null;
  /** What the registry will offer once filled (the trace's start event reads it first). */
  private table: (() => readonly Offered[]) | null = null;

  /** What fills the registry, run before its first read or write, and what it will then offer. */
  defer(fill: () => void, table: () => readonly Offered[]): void {
    this.fill = fill;
    this.table = table;
  }

  private filled(): void {
    const f = this.fill;
    if (f === null) return;
    this.fill = null;
    f();
  }

  override register(name: string, handler: CapHandler): this {
    this.filled();
    return super.register(name, handler);
  }

  override get(name: string): CapHandler | undefined {
    if (this.fill !== null) this.filled();
    return super.get(name);
  }

  override names(): string[] {
    this.filled();
    return super.names();
  }

  override offered(): { name: string; sig: CapSignature }[] {
    if (this.fill !== null && this.table !== null) return [...this.table()];
    return super.offered();
  }
}

export class Session {
  readonly machine: Machine;
  readonly root: Process;
  /** Initial state, policy and trace: what images of this tree carry besides the tree. */
  readonly history: ImageHistory;
  /** The run's trace (null when recording is off). */
  trace: Trace | null = null;
  /** The policy the root was started under, if the host gave one. */
  policy: Policy | null = null;
  private recorder: Recorder | null = null;
  /** The kv store behind kv.get / kv.put (the host's file, or in memory). */
  private kv: KvStore | null = null;
  /** Recorded with each host resume (SessionOptions.hostName). */
  private hostName: string | undefined;
  private onLog: ((event: LogEvent) => void) | undefined;

  constructor(machine: Machine, root: Process, history: ImageHistory = ImageHistory.start(root)) {
    this.machine = machine;
    this.root = root;
    this.history = history;
  }

  private static machine(opts: SessionOptions): Machine {
    const machine = new Machine({
      // Filled by attachHost (built-ins, policy, host handlers, recorder) when first read.
      caps: new LazyCaps(),
      maxDepth: opts.maxDepth,
      onCapCall: opts.onCapCall,
      images: imageCodec,
      tiering: opts.tiering,
    });
    for (const m of opts.linked ?? []) machine.intern(m);
    return machine;
  }

  /** Starts a new tree running the module's entry function. Nothing runs until run(). */
  static start(module: Module, opts: SessionOptions = {}): Session {
    const handlers = checkOptions(opts);
    const machine = Session.machine(opts);
    const entry = entryIndex(module, opts.entry);
    if (module.nparams[entry] !== 0)
      throw new RarError("usage.entry", `entry function '${module.functions[entry].name}' must take no parameters`);
    const grants = hostGrants(opts);
    const args = checkArgs(opts.args);
    if (opts.policy) negotiate(module, grants);
    const root = machine.createRoot(
      module,
      entry,
      [],
      { gas: opts.gas ?? DEFAULT_GAS, mem: opts.mem ?? DEFAULT_MEM },
      grants,
      rootArgsMemory(args.ints, args.texts),
    );
    machine.mounts = mountPoints(opts.policy?.mounts);
    const { text: policyJson, prompts } = checkedPolicy(opts.policy, handlers);
    const s = new Session(machine, root, ImageHistory.start(root, policyJson));
    s.attachHost(opts, handlers, opts.policy ?? null, opts.record === false ? null : new Trace(), prompts);
    s.recordStart(args, opts.linked ?? [], policyJson);
    return s;
  }

  /** The trace's start event (host-given arguments and conditions), then the initial limits as the host's first refuel. */
  private recordStart(args: ProgramArgs, linked: readonly Module[], policyJson: string): void {
    const rec = this.recorder;
    if (!rec) return;
    const { machine, root } = this;
    const host = machine.caps.offered();
    // More than a trace holds (the policy's mocks of new families besides the host's handlers): an image could not be restored.
    if (host.length > TRACE_LIMITS.hostCaps) throw new RarError("usage.bad_options", `the host offers ${host.length} capabilities: a recorded run holds at most ${TRACE_LIMITS.hostCaps}`);
    rec.start({
      module: root.module.digest,
      linked: [...new Set(linked.map((m) => m.digest))].sort(),
      entry: root.entryFn,
      args: Int32Array.from(args.ints),
      grants: root.caps,
      host: hostTable(host),
      policy: policyJson,
      maxDepth: machine.maxDepth,
      memMax: machine.cpu.memMax,
      ...(args.texts ? { texts: args.texts } : {}),
    });
    // Limits are the host's (from zero): left out of the execution-state digest.
    rec.refuel(root.gasLimit, root.memLimit);
  }

  /**
   * Fills the machine's capability registry: the built-ins (configured by the
   * seed and mocks of `data`, the deterministic data of the run, and by the
   * kv store the host names), then the host's own handlers, each wrapped by
   * the recorder when a trace is kept. Counters of the virtual clock,
   * generator and mocks continue from the trace, and so does an in-memory kv
   * store (its contents are the recorded puts: state that travels with the
   * image, never a host file the image names).
   */
  private attachHost(opts: SessionOptions, handlers: Record<string, CapHandler> | undefined, data: Policy | null, trace: Trace | null, prompts: readonly string[]): void {
    this.policy = data;
    this.trace = trace;
    const counters = new CallCounters();
    if (trace) for (const [family, n] of callCounts(trace)) counters.set(family, n);
    // A mocked clock.sleep advances nothing. (Counters start at 0.)
    const time = trace ? virtualTime(trace, data?.mocks["clock.sleep"] === undefined) : 0;
    if (time !== 0) counters.set(VIRTUAL_TIME, time);
    const stdout = opts.stdout ?? ((t: string) => void process.stdout.write(t));
    let stdin = opts.stdin;
    if (!stdin) {
      let lines: ((max?: number) => string | null) | null = null;
      stdin = (max?: number) => (lines ??= fdLines(0))(max);
    }
    const kv = new KvStore(opts.policy?.kv);
    if (opts.policy?.kv === undefined && trace) replayPuts(kv, trace);
    this.kv = kv;
    const stderr = opts.stderr ?? ((t: string) => void process.stderr.write(t));
    const onLog = opts.onLog;
    this.onLog = onLog;
    this.hostName = opts.hostName;
    const target = this.machine.caps;
    if (trace) {
      this.recorder = new Recorder(trace);
      this.history.trace = traceToWire(trace);
    }
    const recorder = this.recorder;
    // The handlers are built when the registry is first read (LazyCaps), from what is fixed here:
    // the options, the host's handlers' signatures and the mocks as they are now (copies), not as
    // the host may change them later (what the start event says is offered stays what is).
    // The options fill() reads, read now.
    const { netTimeout, beforeEffect: before, onPrompt } = opts;
    const mocks: Policy["mocks"] = data === null ? {} : copiedMocks(data.mocks);
    // Read now, as the start event records them, not when the handlers are built.
    const seed = data?.seed ?? 0;
    const mounts = opts.policy?.mounts?.map((m) => ({ ...m }));
    // What fill() registers, by name: the built-ins, the mocks over them, the host's handlers over both
    // (every wrapper keeps its handler's signature). Known without building a handler, so a session
    // that records but never calls a capability never builds them; fill() checks it made the same.
    let offer: readonly Offered[] | null = null;
    const table = (): readonly Offered[] => {
      if (offer !== null) return offer;
      if (handlers === undefined && Object.keys(mocks).length === 0) return (offer = BUILTIN_OFFER);
      // By canonical name already (copiedMocks, checkedHandlers), in the order fill() registers them: the
      // host's own over the built-ins (a few), merged into the built-ins' sorted list.
      const own = new Map<string, CapSignature>();
      for (const family of Object.keys(mocks)) own.set(family, mocks[family].sig);
      for (const name of Object.keys(handlers ?? {})) own.set(name, (handlers as Record<string, CapHandler>)[name].sig);
      const added = [...own.keys()].filter((name) => !BUILTIN_FAMILIES.has(name)).sort();
      const out: Offered[] = [];
      let k = 0;
      for (const b of BUILTIN_OFFER) {
        while (k < added.length && added[k] < b.name) out.push({ name: added[k], sig: own.get(added[k++]) as CapSignature });
        const sig = own.get(b.name);
        out.push(sig === undefined ? b : { name: b.name, sig });
      }
      while (k < added.length) out.push({ name: added[k], sig: own.get(added[k++]) as CapSignature });
      return (offer = out);
    };
    const fill = (): void => {
      const source = builtinRegistry({ io: { stdout, stderr, stdin, log: onLog }, seed, counters, kv, mounts, netTimeout });
      if (before)
        for (const name of source.names())
          if (HOST_EFFECTS.has(name) && (name !== "kv.put" || kv.file !== undefined)) source.register(name, announced(name, source.get(name) as CapHandler, before));
      for (const family of Object.keys(mocks).sort()) source.register(family, mockHandler(family, mocks[family], counters));
      for (const name of Object.keys(handlers ?? {}).sort()) source.register(name, (handlers as Record<string, CapHandler>)[name]);
      if (recorder) recorder.install(source, target);
      else for (const name of source.names()) target.register(name, source.get(name) as CapHandler);
      this.gatePrompts(prompts, onPrompt);
      if (recorder && !sameOffer(target.offered(), table())) throw new Error("internal: the capabilities recorded as offered are not the ones registered");
    };
    if (target instanceof LazyCaps) target.defer(fill, table);
    else fill();
  }

  /**
   * Puts the host's prompts (its own policy's, never the recorded one: an
   * answer is authority, which never travels) in front of the recorded
   * handlers: a prompt's event then precedes the recorded call it decides.
   */
  private gatePrompts(prompts: readonly string[], onPrompt: SessionOptions["onPrompt"]): void {
    if (prompts.length === 0) return;
    const prompted = new Set(prompts);
    const decided = new Map<string, boolean>();
    const ask = onPrompt ?? (() => false);
    const rec = this.recorder;
    const record = rec ? { verdict: rec.prompt.bind(rec), refused: rec.refused.bind(rec) } : null;
    const target = this.machine.caps;
    // A family of the host's own (a Policy object names any; a policy file only built-ins) is asked about unscoped.
    for (const family of [...new Set(prompts.map(capFamily))].sort()) {
      const inner = target.get(family);
      if (inner) target.register(family, promptGate(family, BUILTIN_SIGNATURES[family]?.scope ?? "none", inner, prompted, decided, ask, record));
    }
  }

  /**
   * Narrows the root's grants: `grants` replace them and every descendant
   * keeps only what its parent still holds. The caller checks `grants` never
   * widen. Recorded.
   */
  narrow(grants: readonly string[]): void {
    this.recorder?.narrow(grants);
    applyGrants(this.root, grants);
  }

  /** Records a host resume if the root can run (ready or stopped resumably). */
  private recordResume(): void {
    const st = this.root.status;
    if (st !== StatusCode.DONE && st !== StatusCode.FAULT && !this.machine.pending) this.recorder?.resume(this.hostName);
  }

  /**
   * Continues a tree from image bytes (untrusted: fully verified first; a bad
   * image throws a RarError naming what and where). The budgets, entry and
   * arguments come from the image; the other options are as for start().
   *
   * Authority never travels (DESIGN §4): the grants the image's processes
   * hold are requests, negotiated before anything runs against this host's
   * own grants (`policy`, else `caps`, else io.print, as for start()) and
   * handlers. One not covered throws RarError("policy") naming it. What
   * travels is deterministic data: the recorded mocks and seed (never the
   * recorded kv file, which names a host resource).
   */
  static fromImage(bytes: Uint8Array, opts: SessionOptions & { where?: string } = {}): Session {
    const handlers = checkOptions(opts);
    if (!(bytes instanceof Uint8Array)) throw new RarError("usage.bad_image");
    const machine = Session.machine(opts);
    // A recorded session reads the trace slot here and keeps only what it read (attachHost replaces the slot).
    const img = decodeFor(bytes, machine, opts.where, true, opts.record !== false);
    const where = `${opts.where ?? "image"}: trace`;
    const trace = opts.record === false ? null : traceFromWire(img.meta.trace, where);
    const first = trace && trace.length > 0 ? trace.at(0) : null;
    const recorded = first?.kind === "start" && first.policy !== "" ? policyFromJson(first.policy, where) : null;
    const data: Policy | null = recorded ? { ...recorded, kv: undefined } : null;
    const offered = (family: string): boolean => BUILTIN_FAMILIES.has(family) || (handlers !== undefined && Object.hasOwn(handlers, family));
    // The host's own prompts, checked as start() checks them (the rest of its policy is not recorded here).
    if (opts.policy) checkDenials(opts.policy, "policy");
    const prompts = opts.policy ? checkedPrompts(recordedPrompts([...(opts.policy.prompts ?? [])], "policy"), handlers) : [];
    const host = hostGrants(opts);
    machine.mounts = matchMounts(recorded?.mounts, opts.policy?.mounts, opts.where ?? "image");
    // A travelled mock answers for its family (data, no authority) unless the host's own handler takes the
    // family over (fill() registers handlers over mocks): then a call runs the host's handler, which the host must grant.
    const mocks = data === null ? [] : Object.keys(data.mocks);
    const mocked = mocks.length === 0 ? NOTHING_MOCKED : new Set(mocks.filter((family) => !(handlers !== undefined && Object.hasOwn(handlers, family))));
    negotiateImage(img.root.caps, host, offered, mocked, opts.where ?? "image");
    machine.hostGrants = host;
    const s = new Session(machine, img.root, ImageHistory.of(img.meta));
    s.attachHost(opts, handlers, data, trace, prompts);
    // An image without a history (a guest snapshot) starts one here; it cannot be replayed from before.
    // (Without a history there is no recorded policy either: its text is "".)
    if (trace && trace.length === 0) s.recordStart({ ints: [] }, [], "");
    return s;
  }

  /** The canonical image of the whole tree (the root stopped or not started yet). */
  snapshot(): Uint8Array {
    if (this.machine.pending) throw new RarError("usage.pending", "cannot snapshot while an async capability call is pending");
    if (!this.trace && this.kv && this.kv.file === undefined && this.kv.keys().length > 0)
      throw new RarError("usage.kv_lost");
    const resolve = resolverOf(this.machine);
    return encodeImage(this.root, this.history.meta(resolve), resolve);
  }

  /**
   * The root's file tree as it stands (spec/capabilities.md §4b), parents
   * first, names sorted: copies, so changing them changes nothing in the run.
   */
  files(): FileEntry[] {
    const out: FileEntry[] = [];
    for (const [path, n] of this.root.files?.walk() ?? [])
      out.push(
        n.kind === KIND.file
          ? { path, kind: "file", mode: n.mode, bytes: n.data.slice() }
          : n.kind === KIND.dir
            ? { path, kind: "dir", mode: n.mode }
            : { path, kind: "link", mode: n.mode, target: n.target },
      );
    return out;
  }

  /** Hex execution-state digest: the tree and trace without limits or host refuel/resume events (DESIGN §6). */
  digest(): string {
    return hex(stateDigest(this.root, this.history.trace, resolverOf(this.machine)));
  }

  /**
   * Runs (or continues) the root until it stops, or until `opts` stops it at
   * an instruction boundary (out_of_gas there, recorded as a host interrupt:
   * resuming continues exactly as if nothing happened). Only the timeout can
   * stop a synchronous run (nothing else runs meanwhile to abort a signal).
   * An async capability call throws RarError("usage"): continue with runAsync().
   */
  run(opts: RunOptions = {}): RunResult {
    checkRunOptions(opts);
    if (this.machine.pending) throw new RarError("usage.async");
    this.recordResume();
    const live = this.began();
    const until = this.deadline(opts);
    let r = this.start(until);
    while (r === "sliced") {
      until.sliced();
      r = until.stop() ? this.interrupt() : this.machine.run(this.root, until.next());
    }
    if (r === "pending") throw new RarError("usage.async");
    return this.ended(live);
  }

  /** Emits started or resumed when the root can run; whether it could. */
  private began(): boolean {
    const st = this.root.status;
    const live = st !== StatusCode.DONE && st !== StatusCode.FAULT;
    if (live) this.lifecycle(st === StatusCode.READY && this.root.gasUsed === 0 ? "started" : "resumed");
    return live;
  }

  /** The run's result, after emitting finished or suspended for a run that began. */
  private ended(live: boolean): RunResult {
    const st = this.root.status;
    if (live) this.lifecycle(st === StatusCode.DONE || st === StatusCode.FAULT ? "finished" : "suspended");
    return this.result();
  }

  private lifecycle(event: LifecycleName): void {
    this.onLog?.({ type: "lifecycle", event, status: this.root.statusName, gasUsed: this.root.gasUsed });
  }

  /** Like run(), but awaits async capability calls (and, with `opts`, yields between slices) without blocking the event loop. */
  async runAsync(opts: RunOptions = {}): Promise<RunResult> {
    checkRunOptions(opts);
    const until = this.deadline(opts);
    this.machine.signal = opts.signal;
    try {
      return await this.runSlices(until);
    } finally {
      this.machine.signal = undefined;
    }
  }

  /** runAsync's loop: slices, and the async capability calls it awaits. */
  private async runSlices(until: Until): Promise<RunResult> {
    let r: RunStop;
    const live = this.began();
    if (this.machine.pending) r = "pending";
    else {
      this.recordResume();
      r = this.start(until);
    }
    for (;;) {
      if (r === "sliced") {
        until.sliced();
        await new Promise<void>((done) => setImmediate(done));
        r = until.stop() ? this.interrupt() : this.machine.run(this.root, until.next());
        continue;
      }
      const pend = this.machine.pending;
      if (r !== "pending" || !pend) break;
      let value: CapValue | Error;
      try {
        value = await pend.promise;
      } catch (e) {
        value = e instanceof Error ? e : new Error(String(e));
      }
      if (until.stop()) {
        // Stopped while the call was out (Ctrl-C during a real sleep): its answer is delivered, nothing more runs.
        r = this.machine.settlePending(this.root, value, this.root.gasUsed);
        if (r === "sliced") r = this.interrupt();
        continue;
      }
      r = this.machine.settlePending(this.root, value, until.next());
    }
    return this.ended(live);
  }

  /** Starts or continues the root's run (the first slice when `until` slices). */
  private start(until: Until): RunStop {
    const root = this.root;
    if (root.status === StatusCode.DONE || root.status === StatusCode.FAULT) return "stopped";
    return root.status === StatusCode.READY ? this.machine.run(root, until.next()) : this.machine.resume(root, until.next());
  }

  /** The host stops a sliced run: recorded, then the root is out_of_gas where it stands. */
  private interrupt(): RunStop {
    this.recorder?.interrupt(this.root.gasUsed);
    interruptRoot(this.root);
    return "stopped";
  }

  /** When a run with `opts` must stop, and where its next slice ends. */
  private deadline(opts: RunOptions): Until {
    const root = this.root;
    const { signal, timeout, checkpoints } = opts;
    const timed = signal !== undefined || timeout !== undefined;
    if (!timed && !checkpoints) return { next: () => Infinity, stop: () => false, sliced: () => undefined };
    const end = timeout === undefined ? Infinity : performance.now() + timeout;
    let place = Infinity;
    let stopAt = Infinity;
    return {
      next: () => {
        place = checkpoints ? checkpoints.next(root.gasUsed) : Infinity;
        // At least room for the instruction the last slice refused (Machine.slicedNeed): one that costs
        // more than a slice (MGROW of millions of words) runs, or stops on a real limit, instead of slicing for ever.
        stopAt = Math.max(Math.min(timed ? root.gasUsed + SLICE_GAS : Infinity, place), root.gasUsed + this.machine.slicedNeed);
        return stopAt;
      },
      stop: () => timed && (signal?.aborted === true || performance.now() >= end),
      sliced: () => {
        if (checkpoints && stopAt === place) checkpoints.take();
      },
    };
  }

  /** Raises the root's limits (a host refuel). */
  refuel(gas: number, mem = 0): void {
    checkCount("refuel gas", gas, 0);
    checkCount("refuel mem", mem, 0);
    if (this.machine.pending) throw new RarError("usage.pending", "cannot refuel while an async capability call is pending");
    this.recorder?.refuel(gas, mem);
    raiseLimits(this.root, gas, mem);
  }

  /** Sets the value a trapped capability call of the root returns when resumed. */
  answer(value: number): void {
    if (typeof value !== "number" || !Number.isInteger(value) || value < -0x80000000 || value > 0xffffffff)
      throw new RarError("usage.bad_number", `an answer must be a 32-bit integer, not ${String(value)}`);
    if (this.root.status !== StatusCode.CAP_CALL) throw new RarError("usage.not_cap_call", `the root is ${this.root.statusName}, not waiting for an answer`);
    this.recorder?.answer(value);
    this.root.answer = value | 0;
  }

  result(): RunResult {
    const p = this.root;
    const st = p.status;
    return {
      status: p.statusName,
      value: st === StatusCode.DONE || st === StatusCode.YIELDED ? p.value : undefined,
      fault: st === StatusCode.FAULT ? describeFault(p) : undefined,
      gasUsed: p.gasUsed,
      gasLimit: p.gasLimit,
      memUsed: p.memUsed,
      memLimit: p.memLimit,
    };
  }
}

/** The virtual monotonic clock after a trace: one ms per clock.mono read plus (unless mocked) every clock.sleep's ms. */
function virtualTime(trace: Trace, sleeps: boolean): number {
  let t = 0;
  for (const e of trace.events()) {
    if (e.kind !== "cap") continue;
    if (e.cap === "clock.mono") t += 1;
    else if (sleeps && e.cap === "clock.sleep" && typeof e.args[0] === "number") t += e.args[0];
  }
  return t;
}

// Trace events (DESIGN §5): every nondeterministic input of a run, one event
// each. EVENTS below is the one table of event kinds and their fields, in
// encoding order; everything else derives from it: the event types, the arity
// and field checks of the decoder (decode.ts), the canonical encoding the
// chain hashes (chain.ts) and, through the compiler's exhaustiveness checks,
// describeEvent. spec/trace-format.md §1-2 describes the same table in prose.
//
// Which kinds are host actions (refuel, resume, interrupt: left out of the
// execution chain and the execution-state digest) is stated once, as
// HOST_EVENT_KINDS in image/format.ts: the image's digest needs it, and images
// sit below traces. isHostEvent reads it from there.
//
// Canonical encoding: enc(e) is the canonical msgpack (image/wire.ts) of
// [kind, ...fields]; an int is a msgpack integer, an array of words is a
// binary of little-endian int32s.

import { codePointsToText, sameSig, type CapSignature, type CapValue, type ValueType } from "../caps/registry.js";
import { HOST_EVENT_KINDS, type WireValue } from "../image/format.js";
import { WireWriter, join } from "../image/wire.js";
import { int32ToBytes } from "../vm/module.js";

export interface HostCap {
  readonly name: string;
  readonly sig: CapSignature;
}

/**
 * The capabilities a host offered, sorted by name and distinct. `base`, when
 * set, is the number of a table of HOST_BASES that every entry of which is in
 * this one with the same signature: the start event then names that table and
 * lists only the rest (spec/trace-format.md). A table read from an image keeps
 * the form it was written in, so its event encodes to the same bytes.
 */
export type HostTable = readonly HostCap[] & { readonly base?: number };

/** The letter that stands for each value type in a recorded signature. */
export const TYPE_LETTER: Readonly<Record<ValueType, string>> = { int: "i", array: "a" };
/** The value type each signature letter stands for (TYPE_LETTER read backwards). */
export const LETTER_TYPE: ReadonlyMap<string, ValueType> = new Map(Object.entries(TYPE_LETTER).map(([t, l]) => [l, t as ValueType]));

/** Signature letters of one row: [name, argument types, result type]. */
type Row = readonly [string, string, string];

/**
 * Tables of built-in capabilities a start event names by number instead of
 * listing them. Images name them, so a table is never changed once released:
 * when the built-ins change, a new table is added. 1: the 29 built-ins of
 * rar 0.1.0.
 */
const BASE_ROWS: readonly (readonly Row[])[] = [
  [],
  [
    ["clock.mono", "", "i"], ["clock.now", "", "i"], ["clock.sleep", "i", "i"], ["env.get", "a", "a"],
    ["fs.chmod", "ai", "i"], ["fs.exists", "a", "i"], ["fs.info", "a", "a"], ["fs.list", "a", "a"],
    ["fs.lstat", "a", "a"], ["fs.mkdir", "a", "i"], ["fs.read", "a", "a"], ["fs.readdir", "a", "a"],
    ["fs.readlink", "a", "a"], ["fs.remove", "a", "i"], ["fs.rename", "aa", "i"], ["fs.stat", "a", "i"],
    ["fs.symlink", "aa", "i"], ["fs.truncate", "ai", "i"], ["fs.write", "aa", "i"], ["fs.write_at", "aia", "i"],
    ["io.eprint", "a", "i"], ["io.print", "a", "i"], ["io.read", "", "a"], ["kv.get", "a", "a"],
    ["kv.put", "aa", "i"], ["log.write", "ia", "i"], ["net.fetch", "a", "a"], ["random.bytes", "i", "a"],
    ["random.u32", "", "i"],
  ],
];

const typesOf = (letters: string): ValueType[] => [...letters].map((l) => LETTER_TYPE.get(l) as ValueType);

/** HOST_BASES[n]: table n, as host capabilities (sorted by name). */
export const HOST_BASES: readonly (readonly HostCap[])[] = BASE_ROWS.map((rows) =>
  Object.freeze(rows.map(([name, args, result]) => Object.freeze({ name, sig: Object.freeze({ args: typesOf(args), result: typesOf(result)[0] }) }))),
);

/** Whether every entry of HOST_BASES[base] is in `caps` (sorted) with the same signature. */
function covers(caps: readonly HostCap[], base: number): boolean {
  let k = 0;
  for (const b of HOST_BASES[base]) {
    while (k < caps.length && caps[k].name < b.name) k++;
    if (k === caps.length || caps[k].name !== b.name || !sameSig(caps[k].sig, b.sig)) return false;
  }
  return true;
}

/** `caps` written with base table `base`: the mark is not enumerable, so the table still equals its list. */
function based(caps: HostCap[], base: number): HostTable {
  return Object.defineProperty(caps, "base", { value: base, enumerable: false });
}

/** A recorded host's table: with the newest base table it covers, if any (what a new start event records). */
export function hostTable(caps: readonly HostCap[]): HostTable {
  for (let base = HOST_BASES.length - 1; base > 0; base--) if (covers(caps, base)) return based([...caps], base);
  return caps;
}

/** The entries of `table` that its base table does not hold (all of them without a base). */
export function hostExtras(table: HostTable): readonly HostCap[] {
  if (table.base === undefined) return table;
  const names = new Set(HOST_BASES[table.base].map((h) => h.name));
  return table.filter((h) => !names.has(h.name));
}

/** A table from its base and the rest (sorted, none named in the base), merged by name. */
export function withBase(base: number, extras: readonly HostCap[]): HostTable {
  return based([...HOST_BASES[base], ...extras].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)), base);
}

/** What a field of each type holds (the decoder bounds each type: decode.ts). */
export interface FieldValue {
  /** Hex digest of a module. */
  digest: string;
  /** Module digests, sorted and distinct. */
  digests: readonly string[];
  /** Grants, sorted and distinct. */
  grants: readonly string[];
  /** A capability family. */
  name: string;
  /** A process path ("0", "0.2.1"). */
  path: string;
  /** Free text: a policy, an error message. */
  text: string;
  /** A function index. */
  entry: number;
  /** A machine limit (a non-negative i32). */
  limit: number;
  /** Gas or memory words (a non-negative safe integer). */
  amount: number;
  /** One word. */
  word: number;
  /** Words. */
  words: Int32Array;
  /** What crosses a capability call: an int or an array of words. */
  value: CapValue;
  values: readonly CapValue[];
  /** Texts: arrays of code points. */
  texts: readonly Int32Array[];
  /** Capabilities with their signatures, sorted by name and distinct (a base table named, HostTable). */
  hostCaps: HostTable;
}

export type FieldType = keyof FieldValue;

/**
 * One field of an event: its name in the event object, its type, what
 * messages call it, and whether it may be left out. Optional fields come last
 * in their row: an event without one is encoded without it, so traces written
 * before the field existed keep their bytes and links.
 */
export interface Field<N extends string = string, T extends FieldType = FieldType, O extends boolean = boolean> {
  readonly name: N;
  readonly type: T;
  readonly what: string;
  readonly optional: O;
}

function field<N extends string, T extends FieldType>(name: N, type: T, what: string = name): Field<N, T, false> {
  return { name, type, what, optional: false };
}

function optional<N extends string, T extends FieldType>(name: N, type: T, what: string = name): Field<N, T, true> {
  return { name, type, what, optional: true };
}

/** Every event kind with its fields, in encoding order (the kind itself comes first, the link last). */
export const EVENTS = {
  /**
   * The host-given arguments and conditions of the run: the entry module and
   * the linked ones, the entry function, the program arguments (the root's
   * memory is [n, a0, ...]; with `texts`, args is empty and the memory holds
   * the texts: process.ts textArgsMemory), the root's grants, the host capabilities the
   * machine offered, the canonical policy text (caps/policy.ts policyToJson,
   * "" when the host gave none), and the machine limits that decide faults.
   */
  start: [
    field("module", "digest", "module digest"),
    field("linked", "digests", "linked modules"),
    field("entry", "entry"),
    field("args", "words", "program arguments"),
    field("grants", "grants"),
    field("host", "hostCaps", "host capabilities"),
    field("policy", "text"),
    field("maxDepth", "limit"),
    field("memMax", "limit"),
    optional("texts", "texts", "text arguments"),
  ],
  /** A capability call the host answered. */
  cap: [
    field("path", "path", "process path"),
    field("cap", "name", "capability"),
    field("args", "values", "arguments"),
    field("result", "value"),
  ],
  /** A call the host refused (the caller faulted cap_failed with this message). */
  cap_error: [
    field("path", "path", "process path"),
    field("cap", "name", "capability"),
    field("args", "values", "arguments"),
    field("error", "text", "error message"),
  ],
  /** The host raised the root's limits (the first refuel sets the initial limits). */
  refuel: [field("gas", "amount"), field("mem", "amount")],
  /** The host ran (or continued) the root; `by` names the host when it named itself (a cluster worker). */
  resume: [optional("by", "name", "host name")],
  /**
   * The host stopped the root at an instruction boundary when its gasUsed
   * was `gas` (Machine.run's stopAt) and marked it out_of_gas. A replay stops
   * its run at the same gas, so the interrupt is as transparent as a refuel.
   */
  interrupt: [field("gas", "amount")],
  /** The host answered the root's trapped call. */
  answer: [field("value", "word")],
  /** The host narrowed the root's grants on resume. */
  narrow: [field("grants", "grants")],
  /**
   * The host replaced the root's file tree while it was stopped (`rar fs
   * import`): the tree's canonical encoding (image/files.ts), `length` bytes
   * packed into words, little-endian, the last one padded with zeros.
   */
  fs_import: [field("length", "amount", "byte length"), field("files", "words", "imported files")],
  /**
   * The host's answer to a prompt (caps/prompt.ts): whether the grant `cap`
   * (`net.fetch:http://h:1`, `env.get:HOME`) may be used, asked at the first
   * call of the process at `path` that exercises it; `allowed` is 1 or 0.
   * The call it decided follows (a `cap`, or a `cap_error` when refused).
   */
  prompt: [field("path", "path", "process path"), field("cap", "text", "prompted grant"), field("allowed", "word", "verdict")],
} as const satisfies Readonly<Record<string, readonly Field[]>>;

export type EventKind = keyof typeof EVENTS;

type FieldsOf<K extends EventKind> = (typeof EVENTS)[K][number];

/** The event of kind K: its kind and, for each field of its row, a value of the field's type. */
export type EventOf<K extends EventKind> = { readonly kind: K } & {
  readonly [F in FieldsOf<K> as F["optional"] extends true ? never : F["name"]]: FieldValue[F["type"]];
} & { readonly [F in FieldsOf<K> as F["optional"] extends true ? F["name"] : never]?: FieldValue[F["type"]] };

export type StartEvent = EventOf<"start">;
export type CapEvent = EventOf<"cap">;
export type CapErrorEvent = EventOf<"cap_error">;
export type RefuelEvent = EventOf<"refuel">;
export type ResumeEvent = EventOf<"resume">;
export type InterruptEvent = EventOf<"interrupt">;
export type AnswerEvent = EventOf<"answer">;
export type NarrowEvent = EventOf<"narrow">;
export type PromptEvent = EventOf<"prompt">;
export type FsImportEvent = EventOf<"fs_import">;
export type TraceEvent = { [K in EventKind]: EventOf<K> }[EventKind];

/** Whether `kind` names an event kind (own keys only: "constructor" is not one). */
export function isEventKind(kind: string): kind is EventKind {
  return Object.hasOwn(EVENTS, kind);
}

/** Whether an event is a host action (left out of the execution chain and the execution-state digest). */
export function isHostEvent(e: TraceEvent): boolean {
  return HOST_EVENT_KINDS.has(e.kind);
}

/** Whether an event is a capability call (answered or refused), as opposed to something the host did. */
export function isCallEvent(e: TraceEvent): e is CapEvent | CapErrorEvent {
  return e.kind === "cap" || e.kind === "cap_error";
}

// --- canonical encoding ---------------------------------------------------

function valueWire(v: CapValue): WireValue {
  return typeof v === "number" ? v | 0 : int32ToBytes(v);
}

function letters(types: readonly ValueType[]): string {
  let s = "";
  for (const t of types) s += TYPE_LETTER[t];
  return s;
}

/** How each field type is written. */
const ENCODE: { readonly [T in FieldType]: (v: FieldValue[T]) => WireValue } = {
  digest: (v) => v,
  digests: (v) => [...v],
  grants: (v) => [...v],
  name: (v) => v,
  path: (v) => v,
  text: (v) => v,
  entry: (v) => v,
  limit: (v) => v,
  amount: (v) => v,
  word: (v) => v | 0,
  words: (v) => int32ToBytes(v),
  value: valueWire,
  values: (v) => v.map(valueWire),
  texts: (v) => v.map((t) => int32ToBytes(t)),
  hostCaps: (v) => {
    const rows: WireValue[] = hostExtras(v).map((h) => [h.name, letters(h.sig.args), letters([h.sig.result])]);
    return v.base === undefined ? rows : [v.base, ...rows];
  },
};

/** The event's fields [kind, ...fields] as wire values (what enc(e) encodes). */
export function eventFields(e: TraceEvent): WireValue[] {
  const out: WireValue[] = [e.kind];
  // Sound: an event has exactly its row's fields, each of its type (EventOf derives the one from the other).
  const values = e as unknown as Readonly<Record<string, unknown>>;
  for (const f of EVENTS[e.kind] as readonly Field[]) {
    if (f.optional && values[f.name] === undefined) break;
    out.push((ENCODE[f.type] as (v: unknown) => WireValue)(values[f.name]));
  }
  return out;
}

/** enc(e): the canonical bytes of one event. */
export function encodeEvent(e: TraceEvent): Uint8Array {
  const w = new WireWriter().value(eventFields(e));
  return join(w.parts(), w.length());
}

// --- description ----------------------------------------------------------

/** One line for an event, for messages and audit listings. */
export function describeEvent(e: TraceEvent): string {
  const v = (x: CapValue): string => (typeof x === "number" ? String(x) : `[${x.length} words]`);
  switch (e.kind) {
    case "start":
      return `start module ${e.module.slice(0, 12)} entry #${e.entry} args (${e.texts ? e.texts.map((t) => JSON.stringify(codePointsToText(t).slice(0, 40))).join(", ") : Array.from(e.args).join(", ")}) grants [${e.grants.join(", ")}]`;
    case "cap":
      return `${e.path} ${e.cap}(${e.args.map(v).join(", ")}) -> ${v(e.result)}`;
    case "cap_error":
      return `${e.path} ${e.cap}(${e.args.map(v).join(", ")}) refused: ${e.error}`;
    case "refuel":
      return `host refuel +${e.gas} gas +${e.mem} words`;
    case "resume":
      return e.by === undefined ? "host resume" : `host resume by ${e.by}`;
    case "interrupt":
      return `host interrupt at ${e.gas} gas`;
    case "answer":
      return `host answer ${e.value}`;
    case "narrow":
      return `host narrow grants to [${e.grants.join(", ")}]`;
    case "prompt":
      return `${e.path} prompt ${e.cap}: ${e.allowed === 1 ? "allowed" : "refused"}`;
    case "fs_import":
      return `host import of files (${e.length} bytes)`;
  }
}

/**
 * Whether `e` is the prompt answered for the next call of `family` by the
 * process at `path`: a replayer passes over it to reach that call, whose own
 * event reproduces the answer (its result, or its refusal).
 */
export function promptBefore(e: TraceEvent | undefined, family: string, path: string): boolean {
  return e !== undefined && e.kind === "prompt" && e.path === path && (e.cap === family || e.cap.startsWith(family + ":"));
}

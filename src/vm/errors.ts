// Every error and fault kind is declared once here. Host errors (bad input,
// bad code, bad images, misuse of the API) are RarError values: a kind from
// the catalogue ERRORS, grouped by the phase it arises in, a message and a
// location. Guest faults (FAULTS) are process statuses, never exceptions.

import { STATUSES, STATUS_NAMES, StatusCode } from "./status.js";

/**
 * The host error catalogue (like wasm3's d_m3ErrorConst): every kind of
 * RarError, declared once, grouped by phase, with its message: the text of
 * an error raised without detail, and what a detail (naming the values at
 * hand) specialises. spec/errors.md is generated from it.
 */
export const ERRORS = {
  usage: {
    about: "the host API or the command line was used wrongly",
    kinds: {
      args: "an image carries its arguments; none may be given",
      arity: "the entry function takes another number of arguments",
      async: "an async capability call is pending; use runAsync() to continue",
      bad_args: "args must be an array of 32-bit integers",
      bad_caps: "caps must be an array of capability names",
      bad_entry: "entry must be a function name",
      bad_image: "image bytes must be a Uint8Array",
      bad_number: "a count, budget or answer is not an integer in its range",
      bad_options: "options must be an object (of the documented fields: a host handler, for one, is `{ sig: { args, result }, call }`)",
      bad_signal: "signal must be an AbortSignal",
      cases: "the GP cases file is malformed",
      checkpoint: "the GP checkpoint is malformed",
      cli: "bad command line: a flag value, an argument, or a file of the wrong kind for the command",
      entry: "no such entry function",
      kv_lost: "the in-memory kv store travels in the trace: record the trace (record: true) or give the policy a kv file",
      no_pending: "no capability call is pending",
      not_cap_call: "the root is not waiting for an answer",
      not_fresh: "the process has already started",
      not_ready: "the process is not ready to run",
      not_resumable: "the process cannot be resumed in its state",
      pending: "not possible while an async capability call is pending",
      problem: "no such GP problem",
      bad_address: "a memory address or range is outside the process's memory",
      bad_host_name: "hostName must be a short string",
      bad_path: "a process path is malformed",
      bad_word: "a word is not a 32-bit integer",
      debug_arg: "a debugger command's argument is malformed",
      debug_command: "no such debugger command",
      gp_batch: "a GP batch job is malformed or asks for more than this worker runs",
      job_id: "a job id is malformed",
      no_history: "the image holds no run to step through",
      no_job: "no such job",
      no_location: "no such source line or function",
      no_process: "no process at that path",
      queue: "a queue name is malformed",
      redis_url: "a Redis URL is malformed",
      slice: "the image cannot be sliced",
      slice_range: "the slice's step range is empty or outside the run",
    },
  },
  decode: {
    about: "module bytes (.rmod, SPAWNC code) are not a module",
    kinds: {
      magic: "not a module (bad magic)",
      msgpack: "not valid msgpack, or a msgpack type rar's formats do not use",
      nesting: "values nested too deep",
      shape: "not a module: a field has the wrong shape",
      trailing: "bytes after the end of the value",
      truncated: "truncated: a value needs more bytes than remain",
      version: "unsupported .rmod version",
    },
  },
  verify: {
    about: "a decoded module is not safe to run",
    kinds: {
      bad_cap: "capability index not in the manifest",
      bad_count: "argument count out of range",
      bad_func: "function index out of range",
      bad_jump: "jump target outside the function or not an instruction start",
      bad_link: "link index not in the module's links",
      bad_local: "local index out of range",
      bad_manifest: "a trap-only capability is not in the manifest",
      bad_opcode: "unknown opcode",
      bad_source_map: "source map entry out of order or range",
      duplicate: "duplicate capability in manifest",
      falls_off: "execution falls off the end of the function",
      layout: "a function's entry, end, parameter or local count is out of place",
      no_functions: "module has no functions",
      stack_mismatch: "stack heights differ where control flow meets",
      stack_overflow: "stack height exceeds the limit",
      stack_underflow: "an instruction needs more operands than the stack holds",
      too_big: "too many code words",
      too_many: "too many functions or capabilities",
      truncated: "an instruction runs past the end of the function",
      unresolved_link: "a linked module is not in the bundle",
    },
  },
  compile: {
    about: "source text (Ent, assembly) does not compile",
    kinds: {
      asm: "the assembly text does not assemble",
      ent: "the Ent source does not compile",
      module_limit: "the module exceeds a module limit",
    },
  },
  image: {
    about: "image bytes are not a well-formed, consistent image",
    kinds: {
      budget: "gas or memory used does not agree with the limits or the footprint",
      caps: "a process holds a capability its parent does not",
      code: "a module of the image does not decode or verify",
      depth: "the tree is deeper than the limit",
      digest: "content digest mismatch (corrupted)",
      frames: "the call frames do not agree with the code",
      handle: "child handles out of order or never given out",
      magic: "not a rar image (bad magic)",
      memory: "memory exceeds the runtime's limit",
      msgpack: "not valid msgpack, or a msgpack type rar's formats do not use",
      noncanonical: "a value is not in the one form the writer gives it (shortest int or length header, valid UTF-8)",
      nesting: "values nested too deep",
      origin: "the initial state is not one unstarted process matching its digest",
      pc: "the pc is not where the process's status puts it",
      shape: "a field has the wrong shape",
      stack: "the stack height does not agree with the code",
      status: "a status does not agree with the process's state",
      too_large: "running this tree needs more stack and frame words than allowed",
      trailing: "bytes after the end of the value",
      tree: "the process records do not form the tree they declare",
      truncated: "truncated: a value needs more bytes than remain",
      version: "unsupported image format version",
      slice: "a slice is inspection-only: it cannot be replayed, audited or resumed",
    },
  },
  policy: {
    about: "a policy is malformed, or a program or image asks for authority the host does not give",
    kinds: {
      bad_field: "a field of the policy is unknown or has the wrong type",
      bad_json: "not valid JSON",
      bad_mock: "a mock is malformed",
      bad_mount: "a mount is not GUEST=HOST[:ro] with an absolute guest path, or two mount points overlap",
      mount: "an image's file tree and this host's mounts differ: mounts are fixed when a run starts",
      bad_name: "not a capability name (like io.print or fs.read:DIR)",
      bad_prompt: "a policy prompts for a capability it cannot ask about once (a directory or prefix scope, or not a built-in)",
      bad_policy: "not a policy",
      bad_scope: "a capability has a scope it does not take",
      bad_version: "only version 1 of a capability exists",
      carve: "a denial cannot cut a grant into pieces; grant a narrower scope",
      denied: "a Policy object grants what one of its own denials covers (denials win: the grant would never hold)",
      kv_file: "the kv store file is unreadable or malformed",
      needs_scope: "the capability needs a scope: a directory (fs.read:DIR), a variable (env.get:KEY) or an origin (net.fetch:ORIGIN)",
      no_dir: "the capability's directory does not exist",
      not_granted: "a capability the program or image needs is not granted",
      not_offered: "the image asks for a capability this host has no handler for",
      read: "cannot read the policy file",
      unknown_cap: "unknown capability",
    },
  },
  trace: {
    about: "a trace does not check: an event is malformed or out of place, or a link is broken",
    kinds: {
      bad_event: "a trace event is malformed",
      broken_head: "the trace head does not match its events: events are missing at the end",
      broken_link: "a trace event does not match its link",
      order: "a trace starts with exactly one start event",
      too_long: "too many trace events",
      divergence: "replaying the trace did not reach the recorded state",
    },
  },
  io: {
    about: "a file the host named cannot be read or written",
    kinds: {
      read: "cannot read the file",
      write: "cannot write the file",
      module_altered: "a stored module does not match its digest",
      module_missing: "a module an image names is not in the store",
      redis: "the Redis server cannot be reached",
    },
  },
} as const satisfies Record<string, { about: string; kinds: Record<string, string> }>;

type Catalogue = typeof ERRORS;

/** Phases in which host errors arise; the CLI maps each to an exit code. */
export type Phase = keyof Catalogue;

/** An error kind declared in phase P (by default in any phase). */
export type ErrorKind<P extends Phase = Phase> = { [Q in P]: keyof Catalogue[Q]["kinds"] & string }[P];

/** An error's key in the catalogue, "phase.kind": what RarError is constructed from. */
export type ErrorKey<P extends Phase = Phase> = { [Q in P]: `${Q}.${ErrorKind<Q>}` }[P];

/** The phases that declare every kind in K (a phase passed on to code that raises those kinds). */
export type PhaseOf<K extends string> = { [P in Phase]: [K] extends [ErrorKind<P>] ? P : never }[Phase];

const has = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Whether s is a key of the catalogue. */
export function isErrorKey(s: string): s is ErrorKey {
  const dot = s.indexOf(".");
  if (dot < 0) return false;
  const phase = s.slice(0, dot);
  return has(ERRORS, phase) && has(ERRORS[phase as Phase].kinds, s.slice(dot + 1));
}

/** Every key of the catalogue, phase by phase in declaration order. */
export function errorKeys(): ErrorKey[] {
  return (Object.keys(ERRORS) as Phase[]).flatMap((p) => Object.keys(ERRORS[p].kinds).map((k) => `${p}.${k}` as ErrorKey));
}

/** The catalogue's message of a key. */
export function errorText(key: ErrorKey): string {
  const dot = key.indexOf(".");
  return (ERRORS[key.slice(0, dot) as Phase].kinds as Readonly<Record<string, string>>)[key.slice(dot + 1)];
}

/** A host error: bad input named by what and where. Never a guest fault. */
export class RarError extends Error {
  readonly phase: Phase;
  readonly kind: ErrorKind;

  /**
   * `detail` is the message when the catalogue's text for `key` is not
   * specific enough (it names the values at hand); `where` locates the
   * error: "function f at pc 12", "image: process 0.3 stack", "prog.ent:3:7".
   */
  constructor(
    readonly key: ErrorKey,
    detail?: string,
    readonly where?: string,
  ) {
    const text = detail ?? errorText(key);
    super(where ? `${where}: ${text}` : text);
    this.name = "RarError";
    const dot = key.indexOf(".");
    this.phase = key.slice(0, dot) as Phase;
    this.kind = key.slice(dot + 1) as ErrorKind;
  }
}

/** Guest fault kinds with their human messages. A fault stops the faulting process only. */
export const FAULTS = {
  div_by_zero: "division by zero",
  overflow: "integer overflow (INT_MIN / -1)",
  mem_bounds: "memory access out of bounds",
  index_bounds: "array index out of bounds",
  bad_handle: "no such child handle",
  bad_arg: "invalid operand",
  not_resumable: "child cannot be resumed in its state",
  no_result: "child has no result in its state",
  cap_denied: "capability not granted",
  cap_failed: "capability call failed",
  depth_limit: "process tree depth limit reached",
  bad_code: "code bytes failed verification",
  bad_image: "image bytes failed verification",
  mem_limit: "memory size limit of the runtime reached",
  trap: "explicit trap",
  child_failed: "sandboxed call did not finish",
} as const;

export type FaultKind = keyof typeof FAULTS;

export function isFaultKind(s: string): s is FaultKind {
  return Object.prototype.hasOwnProperty.call(FAULTS, s);
}

/**
 * Codes of the TRAP instruction that compiled code raises, with their
 * messages (the Ent compiler emits these; see spec/language.md).
 */
export const TRAP_CODES = {
  /** a[i] with i < 0 or i >= len(a). */
  INDEX: 1,
  /** array(n) with n < 0. */
  NEGATIVE_LENGTH: 2,
  /** A child's array result or yield was not a well-formed serialized value. */
  BAD_RESULT: 3,
  /** main(args) takes [int] but the host gave text arguments. */
  TEXT_ARGS: 4,
  /** A sandboxed call without `else` whose child stopped with status s: code 10 + s. */
  UNFINISHED_BASE: 10,
} as const;

/** Statuses after which a sandboxed call did not finish, each with a trap code UNFINISHED_BASE + status: every status but ready and done. */
export const UNFINISHED_STATUSES: readonly number[] = STATUSES.filter((s) => s.code !== StatusCode.READY && s.code !== StatusCode.DONE).map(
  (s) => s.code,
);

/** The message of a TRAP code, if it is one of TRAP_CODES. */
export function trapMessage(code: number): string | undefined {
  switch (code) {
    case TRAP_CODES.INDEX:
      return "array index out of bounds";
    case TRAP_CODES.NEGATIVE_LENGTH:
      return "array length is negative";
    case TRAP_CODES.BAD_RESULT:
      return "malformed value from a child process";
    case TRAP_CODES.TEXT_ARGS:
      return "main(args) takes integers but was given text arguments (declare args: [[int]])";
  }
  const status = code - TRAP_CODES.UNFINISHED_BASE;
  return UNFINISHED_STATUSES.includes(status) ? `${FAULTS.child_failed}: ${STATUS_NAMES[status]}` : undefined;
}

/**
 * How the interpreter describes a fault: a format and up to three numbers,
 * turned into text only when someone reads it (a GP run faults millions of
 * candidates and reads none of the texts).
 */
export const enum Detail {
  /** Already text. */
  Text = 0,
  /** "a / 0" */
  DivZero,
  /** "a % 0" */
  RemZero,
  /** "load at a, memory size b" */
  Load,
  /** "store at a, memory size b" */
  Store,
  /** "index a, length b" */
  Index,
  /** "array at a, memory size b" */
  Array,
  /** "grow by a" */
  Grow,
  /** "memory of a words exceeds the runtime's b" */
  MemLimit,
  /** "copy of a words at b, memory size c" */
  Copy,
  /** "fill of a words at b, memory size c" */
  Fill,
  /** the message of trap code a */
  Trap,
}

/** The text of a fault detail given by format and numbers. */
export function detailText(f: Detail, a: number, b: number, c: number): string {
  switch (f) {
    case Detail.DivZero:
      return `${a} / 0`;
    case Detail.RemZero:
      return `${a} % 0`;
    case Detail.Load:
      return `load at ${a}, memory size ${b}`;
    case Detail.Store:
      return `store at ${a}, memory size ${b}`;
    case Detail.Index:
      return `index ${a}, length ${b}`;
    case Detail.Array:
      return `array at ${a}, memory size ${b}`;
    case Detail.Grow:
      return `grow by ${a}`;
    case Detail.MemLimit:
      return `memory of ${a} words exceeds the runtime's ${b}`;
    case Detail.Copy:
      return `copy of ${a} words at ${b}, memory size ${c}`;
    case Detail.Fill:
      return `fill of ${a} words at ${b}, memory size ${c}`;
    case Detail.Trap:
      return trapMessage(a) ?? `trap ${a}`;
    default:
      return "";
  }
}

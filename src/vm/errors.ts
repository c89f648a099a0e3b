// Every error and fault kind is declared once here, grouped by phase. Host-side
// errors (bad input, bad code, bad images) are RarError values carrying a kind,
// a message and a location; guest faults are process statuses, never exceptions.

/** Phases in which host-side errors arise; the CLI maps each to an exit code. */
export type Phase = "usage" | "decode" | "verify" | "compile" | "image" | "policy" | "trace" | "io";

/** A host-side error: bad input named by what and where. Never a guest fault. */
export class RarError extends Error {
  constructor(
    readonly phase: Phase,
    readonly kind: string,
    message: string,
    /** Where: "function f at pc 12", "image: process 0.3 stack", "prog.ent:3:7". */
    readonly where?: string,
  ) {
    super(where ? `${where}: ${message}` : message);
    this.name = "RarError";
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
  /** A sandboxed call without `else` whose child stopped with status s: code 10 + s. */
  UNFINISHED_BASE: 10,
} as const;

const UNFINISHED: Readonly<Record<number, string>> = { 2: "fault", 3: "out_of_gas", 4: "out_of_mem", 5: "yielded", 6: "cap_call" };

/** The message of a TRAP code, if it is one of TRAP_CODES. */
export function trapMessage(code: number): string | undefined {
  switch (code) {
    case TRAP_CODES.INDEX:
      return "array index out of bounds";
    case TRAP_CODES.NEGATIVE_LENGTH:
      return "array length is negative";
    case TRAP_CODES.BAD_RESULT:
      return "malformed value from a child process";
  }
  const status = UNFINISHED[code - TRAP_CODES.UNFINISHED_BASE];
  return status ? `sandboxed call did not finish: ${status}` : undefined;
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

// Trap codes raised by compiled Ent code (TRAP imm), each declared once with
// its message. A fault of kind `trap` with detail `trap N` means the entry N
// below; spec/language.md lists them.

import { StatusCode } from "../../src/vm/opcodes.js";

export const TRAP = {
  /** a[i] with i < 0 or i >= len(a). */
  INDEX: 1,
  /** array(n) with n < 0. */
  NEGATIVE_LENGTH: 2,
  /** A child's array result or yield was not a well-formed serialized value. */
  BAD_RESULT: 3,
  /** f<gas, mem>(..) without else, child stopped with status s: code 10 + s. */
  UNFINISHED_BASE: 10,
} as const;

const STATUS_TEXT: Readonly<Record<number, string>> = {
  [StatusCode.FAULT]: "fault",
  [StatusCode.OUT_OF_GAS]: "out_of_gas",
  [StatusCode.OUT_OF_MEM]: "out_of_mem",
  [StatusCode.YIELDED]: "yielded",
  [StatusCode.CAP_CALL]: "cap_call",
};

/** Every trap code Ent emits, with its message. */
export const TRAP_MESSAGES: ReadonlyMap<number, string> = new Map<number, string>([
  [TRAP.INDEX, "array index out of bounds"],
  [TRAP.NEGATIVE_LENGTH, "array length is negative"],
  [TRAP.BAD_RESULT, "malformed value from a child process"],
  ...Object.entries(STATUS_TEXT).map(
    ([s, text]) => [TRAP.UNFINISHED_BASE + Number(s), `sandboxed call did not finish: ${text}`] as [number, string],
  ),
]);

/** Statuses after which a sandboxed call did not finish (each has a trap code). */
export const UNFINISHED_STATUSES: readonly number[] = Object.keys(STATUS_TEXT).map(Number);

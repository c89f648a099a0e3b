// Trap codes raised by compiled Ent code (TRAP imm). The codes and their
// messages are defined once, in src/vm/errors.ts (the runtime's fault line
// shows the message); this file re-exports them under the compiler's names.
// spec/language.md lists them. Array indexing does not trap: ALOAD/ASTORE
// fault `index_bounds` themselves, so TRAP.INDEX is never emitted.

import { TRAP_CODES, UNFINISHED_STATUSES, trapMessage } from "../../src/vm/errors.js";

export { TRAP_CODES, UNFINISHED_STATUSES, trapMessage };

/** The trap codes, as the compiler names them. */
export const TRAP = TRAP_CODES;

/** Every trap code Ent emits, with its message (derived from trapMessage). */
export const TRAP_MESSAGES: ReadonlyMap<number, string> = new Map<number, string>(
  [TRAP.NEGATIVE_LENGTH, TRAP.BAD_RESULT, TRAP.TEXT_ARGS, ...UNFINISHED_STATUSES.map((s) => TRAP.UNFINISHED_BASE + s)].map((code) => {
    const message = trapMessage(code);
    if (message === undefined) throw new Error(`internal: trap code ${code} has no message in src/vm/errors.ts`);
    return [code, message] as [number, string];
  }),
);

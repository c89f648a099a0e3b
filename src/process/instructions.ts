// The slow instructions by opcode: every room's handlers in one table, which
// the scheduler indexes with the opcode the hot loop stopped at. Its keys
// are exactly the opcodes whose `runs` is "scheduler" in the opcode table
// (checked when the table is built, as this module loads), so an instruction
// the loop hands over always has a handler and a handler never waits for an
// opcode the loop runs itself.

import { OPS } from "../vm/opcodes.js";
import { AUTHORITY_OPS } from "./authority.js";
import { CHILD_OPS } from "./children.js";
import { DISPATCH_OPS } from "./dispatch.js";
import { INBOX_OPS } from "./inbox.js";
import type { SlowOp } from "./slow.js";

/** One room's handlers, by opcode. */
export type Room = Readonly<Record<number, SlowOp>>;

const name = (op: number): string => OPS[op]?.name ?? `#${op}`;

const unreachable: SlowOp = (_m, _d, op) => {
  throw new Error(`internal: opcode ${op} reached the slow path`);
};

/**
 * The table of `rooms`' handlers, indexed by opcode: dense (every slot a
 * function, so the lookup stays one indexed load), the opcodes without a
 * handler throwing. Throws unless every "scheduler" opcode has exactly one
 * handler and no other opcode has any.
 */
export function slowTable(rooms: readonly Room[]): readonly SlowOp[] {
  const table: SlowOp[] = OPS.map(() => unreachable);
  for (const room of rooms)
    for (const [key, handler] of Object.entries(room)) {
      const op = Number(key);
      if (OPS[op]?.runs !== "scheduler") throw new Error(`internal: a slow instruction handler for ${name(op)}, which the scheduler does not run`);
      if (table[op] !== unreachable) throw new Error(`internal: two slow instruction handlers for ${name(op)}`);
      table[op] = handler;
    }
  const missing = OPS.flatMap((o, op) => (o.runs === "scheduler" && table[op] === unreachable ? [o.name] : []));
  if (missing.length > 0) throw new Error(`internal: no slow instruction handler for ${missing.join(" ")}`);
  return table;
}

/** Handler of each opcode the scheduler runs, indexed by opcode. */
export const SLOW: readonly SlowOp[] = slowTable([CHILD_OPS, INBOX_OPS, DISPATCH_OPS, AUTHORITY_OPS]);

// The process statuses, one row each: the code (what RESUME and STATUS push,
// what an image stores), the name (what hosts, the CLI summary, inspect and
// JSON print) and what it means (spec/isa.md is generated from it). StatusCode,
// StatusName and STATUS_NAMES derive from this table; nothing else spells a
// status out.

/** Every status, in code order (a row's code is its index). */
export const STATUSES = [
  { code: 0, name: "ready", meaning: "can run: not started yet, running, waiting in RESUME for a child, or woken by a resume" },
  { code: 1, name: "done", meaning: "the bottom frame returned; RESULT gives the value" },
  { code: 2, name: "fault", meaning: "stopped by a fault; the whole state is kept" },
  {
    code: 3,
    name: "out_of_gas",
    meaning:
      "an instruction of this process or of a descendant needed more gas than this process had left, and no ancestor lacked it too; resumable after a refuel",
  },
  {
    code: 4,
    name: "out_of_mem",
    meaning:
      "an instruction of this process or of a descendant needed more memory than this process had left, and no ancestor lacked it too; resumable after a refuel",
  },
  { code: 5, name: "yielded", meaning: "stopped by YIELD; RESULT gives the value; resumable" },
  { code: 6, name: "cap_call", meaning: "stopped by a trapped capability call, waiting for its parent to answer; resumable" },
] as const;

type Row = (typeof STATUSES)[number];

/** A status as a name: "ready", "done", "fault", "out_of_gas", "out_of_mem", "yielded", "cap_call". */
export type StatusName = Row["name"];

/** Status codes by upper-case name, as guests see them (RESUME, STATUS) and Ent names them. */
export const StatusCode = Object.freeze(Object.fromEntries(STATUSES.map((s) => [s.name.toUpperCase(), s.code]))) as {
  readonly [R in Row as Uppercase<R["name"]>]: R["code"];
};

/** Status names by code. */
export const STATUS_NAMES: readonly StatusName[] = STATUSES.map((s) => s.name);

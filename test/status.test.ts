// The status table (src/vm/status.ts): one row per status, from which the
// codes guests see, the names hosts see, Ent's constants and the messages of
// a sandboxed call that did not finish all derive.

import { describe, expect, it } from "vitest";
import { STATUS_CONSTANTS } from "../lang/ent/builtins.js";
import { TRAP_MESSAGES } from "../lang/ent/traps.js";
import { FAULTS, TRAP_CODES, UNFINISHED_STATUSES, trapMessage } from "../src/vm/errors.js";
import { StatusCode as OpcodesStatusCode } from "../src/vm/opcodes.js";
import { STATUSES, STATUS_NAMES, StatusCode } from "../src/vm/status.js";

describe("the status table", () => {
  it("numbers its rows from 0 in order, with distinct lower-case names", () => {
    STATUSES.forEach((s, i) => expect(s.code).toBe(i));
    expect(new Set(STATUS_NAMES).size).toBe(STATUSES.length);
    for (const s of STATUSES) {
      expect(s.name).toMatch(/^[a-z_]+$/);
      expect(s.meaning.length).toBeGreaterThan(0);
    }
  });

  it("gives each status its code under its upper-case name, as guests and Ent name them", () => {
    expect(Object.keys(StatusCode)).toEqual(STATUSES.map((s) => s.name.toUpperCase()));
    for (const s of STATUSES) {
      expect(StatusCode[s.name.toUpperCase() as keyof typeof StatusCode]).toBe(s.code);
      expect(STATUS_NAMES[s.code]).toBe(s.name);
    }
    expect(OpcodesStatusCode).toBe(StatusCode);
    expect(STATUS_CONSTANTS).toEqual(StatusCode);
  });

  it("gives every status but ready and done a trap code whose message names the status", () => {
    expect(UNFINISHED_STATUSES).toEqual(STATUSES.filter((s) => s.name !== "ready" && s.name !== "done").map((s) => s.code));
    for (const s of UNFINISHED_STATUSES) {
      const message = `${FAULTS.child_failed}: ${STATUS_NAMES[s]}`;
      expect(trapMessage(TRAP_CODES.UNFINISHED_BASE + s)).toBe(message);
      expect(TRAP_MESSAGES.get(TRAP_CODES.UNFINISHED_BASE + s)).toBe(message);
    }
    expect(trapMessage(TRAP_CODES.UNFINISHED_BASE + StatusCode.DONE)).toBeUndefined();
    expect(trapMessage(TRAP_CODES.UNFINISHED_BASE + StatusCode.READY)).toBeUndefined();
    expect(trapMessage(TRAP_CODES.UNFINISHED_BASE + StatusCode.OUT_OF_GAS)).toBe("sandboxed call did not finish: out_of_gas");
  });
});

// The property suites again, with every module compiled before its first
// instruction (warm-up gas 0): exhaustion at instruction boundaries, refuel
// equivalence, snapshot transparency at every instruction and the Ent
// differential tests, and the GP evaluator recording every candidate exactly
// as it runs alone, must all hold in the compiled tier too.

import { vi } from "vitest";

// This file's machines (those the suites start through sessions, and the GP
// evaluator's own) compile every module at once: the defaults are replaced for
// this file's copy of the modules only.
vi.mock("../src/vm/tiering.js", () => ({ DEFAULT_TIERING: Object.freeze({ enabled: true, warmGas: 0 }) }));

await import("./properties.test.js");
await import("./image-transparency.test.js");
await import("./ent-differential.test.js");
await import("./instructions.test.js");
await import("./budgets.test.js");
await import("./gp-evaluator.test.js");
await import("./gp-sandbox.test.js");

const { describe, expect, it } = await import("vitest");
const { Session } = await import("../src/session.js");
const { tierOf } = await import("../src/vm/execute.js");
const { assemble } = await import("../lang/asm.js");
const { verify } = await import("../src/vm/verify.js");

describe("the suites above", () => {
  it("ran with every module compiled before its first instruction", () => {
    const m = verify(assemble(".func main 0 0\n  PUSH 7\n  RET\n"));
    expect(Session.start(m, { record: false }).run().value).toBe(7);
    expect(tierOf(m).compiled).not.toBeNull();
  });
});

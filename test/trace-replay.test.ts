// Replay (DESIGN §5): random programs making random capability calls (ints,
// arrays, refusals, calls from children) with random host results, run under
// random gas budgets with host refuels, replay from their trace to the same
// execution-state digest without calling the host. A tampered recording
// diverges, and the divergence names the event.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CapHandler, CapValue } from "../src/caps/registry.js";
import { replay } from "../src/trace/replay.js";
import type { Trace } from "../src/trace/trace.js";
import type { Session } from "../src/session.js";
import { load, start } from "./helpers/asm.js";

type Step =
  | { op: "int"; arg: number }
  | { op: "arr"; len: number }
  | { op: "fail"; arg: number }
  | { op: "child"; arg: number }
  | { op: "math"; k: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant("int" as const), arg: fc.integer({ min: -1000, max: 1000 }) }),
  fc.record({ op: fc.constant("arr" as const), len: fc.integer({ min: 0, max: 6 }) }),
  fc.record({ op: fc.constant("fail" as const), arg: fc.integer({ min: 0, max: 9 }) }),
  fc.record({ op: fc.constant("child" as const), arg: fc.integer({ min: 0, max: 100 }) }),
  fc.record({ op: fc.constant("math" as const), k: fc.integer({ min: 1, max: 20 }) }),
);

/** main accumulates into local 0; memory: [args][16 words scratch]. Manifest: t.int t.arr t.fail. */
function program(steps: Step[]): string {
  const body: string[] = ["  PUSH 32", "  MGROW", "  POP"];
  for (const s of steps) {
    switch (s.op) {
      case "int":
        body.push(`  PUSH ${s.arg}`, "  CAP t.int 1", "  LGET 0", "  ADD", "  LSET 0");
        break;
      case "arr":
        body.push("  PUSH 1", `  PUSH ${s.len}`, "  CAP t.arr 2", "  LGET 0", "  ADD", "  LSET 0", "  PUSH 1", "  INBOX");
        break;
      case "fail":
        // t.fail refuses odd arguments (the host throws): the caller faults cap_failed.
        body.push(`  PUSH ${s.arg}`, "  CAP t.fail 1", "  LGET 0", "  XOR", "  LSET 0");
        break;
      case "child":
        body.push(
          `  PUSH ${s.arg}`,
          "  PUSH 0",
          "  PUSH 0",
          "  PUSH 100000",
          "  PUSH 1000",
          "  PUSH 1", // grant t.int
          "  PUSH 0",
          "  SPAWN child",
          "  DUP",
          "  RESUME",
          "  POP",
          "  RESULT",
          "  LGET 0",
          "  ADD",
          "  LSET 0",
        );
        break;
      case "math":
        body.push(`  PUSH ${s.k}`, "  LSET 1", "loop" + steps.indexOf(s) + ":", "  LGET 0", "  PUSH 31", "  MUL", "  LSET 0", "  LINC 1 -1", "  LGET 1", `  JNZ loop${steps.indexOf(s)}`);
        break;
    }
  }
  body.push("  LGET 0", "  RET");
  return [
    ".cap t.int",
    ".cap t.arr",
    ".cap t.fail",
    ".func main 0 2",
    ...body,
    ".func child 1 1",
    "  LGET 0",
    "  CAP t.int 1",
    "  LGET 0",
    "  CAP t.int 1",
    "  ADD",
    "  RET",
  ].join("\n");
}

/** Host capabilities whose results come from random streams. */
function hostCaps(ints: number[], arrays: number[][], async: boolean): Record<string, CapHandler> {
  let i = 0;
  let a = 0;
  const wrap = (v: CapValue): CapValue | Promise<CapValue> => (async ? Promise.resolve(v) : v);
  return {
    "t.int": { sig: { args: ["int"], result: "int" }, call: () => wrap(ints[i++ % ints.length]) },
    "t.arr": { sig: { args: ["array"], result: "array" }, call: () => wrap(Int32Array.from(arrays[a++ % arrays.length])) },
    "t.fail": {
      sig: { args: ["int"], result: "int" },
      call: (args) => {
        if ((args[0] as number) % 2 === 1) throw new Error(`odd ${args[0]}`);
        return wrap(args[0] as number);
      },
    },
  };
}

async function runRefueling(session: Session, step: number, async: boolean): Promise<void> {
  let r = async ? await session.runAsync() : session.run();
  while (r.status === "out_of_gas") {
    session.refuel(step);
    r = async ? await session.runAsync() : session.run();
  }
}

function replayOf(session: Session): ReturnType<typeof replay> {
  return replay({ trace: session.trace as Trace, module: (d) => session.machine.modules.get(d) });
}

const GRANTS = ["t.int", "t.arr", "t.fail"];

describe("replay reproduces random runs", () => {
  it("random calls with random results, refusals, children, refuels and async handlers replay to the same digest", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer(), { minLength: 1, maxLength: 8 }),
        fc.array(fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 8 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 60, max: 800 }),
        fc.boolean(),
        async (steps, ints, arrays, gas, async) => {
          const s = start(program(steps), { caps: GRANTS, gas, handlers: hostCaps(ints, arrays, async) });
          await runRefueling(s.session, gas, async);
          const r = replayOf(s.session);
          expect(r.divergence).toBeNull();
          expect(r.digest()).toBe(s.session.digest());
          expect(r.root?.gasUsed).toBe(s.root.gasUsed);
          expect(r.root?.statusName).toBe(s.root.statusName);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("a run suspended and refueled any number of times ends with the digest of an uninterrupted one", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 10 }), fc.integer({ min: 60, max: 2000 }), async (steps, gas) => {
        const one = start(program(steps), { caps: GRANTS, handlers: hostCaps([3, 5], [[1, 2]], false) });
        one.run();
        const many = start(program(steps), { caps: GRANTS, gas, handlers: hostCaps([3, 5], [[1, 2]], false) });
        await runRefueling(many.session, gas, false);
        expect(many.session.digest()).toBe(one.session.digest());
      }),
      { numRuns: 80 },
    );
  });

  it("replay never calls the host", () => {
    let calls = 0;
    const counting: CapHandler = {
      sig: { args: ["int"], result: "int" },
      call: () => ++calls,
    };
    const s = start(program([{ op: "int", arg: 1 }, { op: "child", arg: 2 }]), { caps: GRANTS, handlers: { ...hostCaps([1], [[]], false), "t.int": counting } });
    s.run();
    const before = calls;
    expect(replayOf(s.session).divergence).toBeNull();
    expect(calls).toBe(before);
  });
});

describe("divergence", () => {
  const steps: Step[] = [
    { op: "int", arg: 7 },
    { op: "arr", len: 2 },
    { op: "int", arg: 8 },
  ];

  function recorded(): Session {
    const s = start(program(steps), { caps: GRANTS, handlers: hostCaps([10, 20], [[1, 2, 3]], false) });
    s.run();
    return s.session;
  }

  it("replaying a different program names the first event whose call differs, and the state before it", () => {
    const original = recorded();
    const trace = original.trace as Trace;
    const first = trace.events().findIndex((e) => e.kind === "cap");
    const changed = load(program([{ op: "int", arg: 7 }, { op: "int", arg: 9 }, { op: "int", arg: 8 }]));
    const r = replay({ trace, module: () => changed });
    expect(r.divergence?.index).toBe(first + 1);
    expect(r.divergence?.message).toMatch(/recorded t.arr.* by process 0; the replay calls t.int\(9\) by process 0/);
    expect(r.divergence?.before).toBe(trace.digestBefore(first + 1));
    expect(r.divergence?.state).toMatch(/process 0 in main \(test.rasm:\d+:\d+\)/);
  });

  it("different arguments are a divergence at that event", () => {
    const original = recorded();
    const trace = original.trace as Trace;
    const changed = load(program([{ op: "int", arg: 6 }, ...steps.slice(1)]));
    const r = replay({ trace, module: () => changed });
    expect(r.divergence?.index).toBe(trace.events().findIndex((e) => e.kind === "cap"));
    expect(r.divergence?.message).toMatch(/recorded t.int\(7\).*the replay passes \(6\)/);
  });

  it("a run that stops before a recorded call names that event", () => {
    const original = recorded();
    const trace = original.trace as Trace;
    const shorter = load(program(steps.slice(0, 2)));
    const r = replay({ trace, module: () => shorter });
    const last = trace.events().length - 1;
    expect(r.divergence?.index).toBe(last);
    expect(r.divergence?.message).toMatch(/stopped before making it/);
  });
});

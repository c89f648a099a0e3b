// Random programs for the image tests (and scripts/fuzz-images.ts): a root
// and up to three levels of worker processes that compute, grow memory,
// print, yield, fault, spawn and drive their own children (refueling them
// when they run out), and snapshot a running child, restore it and drive both
// copies. Every program terminates; what it does depends only on itself, not
// on the root's limits (the root never reads its own headroom).

import fc from "fast-check";
import { BODY_LOCALS, blockArb, renderBody, type Tok } from "./helpers/asm.js";

export type Stmt =
  | { k: "chunk"; i: number }
  | { k: "spawn"; gas: number; mem: number; grant: boolean; kill: boolean }
  | { k: "snap"; gas: number }
  | { k: "grow"; n: number }
  | { k: "print" }
  | { k: "yield" }
  | { k: "fault"; p: number }
  | { k: "gasleft" };

export interface Prog {
  /** Worker levels below the root (1..3). */
  levels: number;
  /** Statements of main (index 0) and of each worker level. */
  bodies: Stmt[][];
  chunks: Tok[][];
  /** Gas and words a parent adds each time its child runs out. */
  refuelGas: number;
  refuelMem: number;
}

const stmtArb = (level: number, chunks: number): fc.Arbitrary<Stmt> =>
  fc.oneof(
    fc.record({ k: fc.constant("chunk" as const), i: fc.integer({ min: 0, max: chunks - 1 }) }),
    fc.record({
      k: fc.constant("spawn" as const),
      gas: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.constant(100_000)),
      mem: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constant(100_000)),
      grant: fc.boolean(),
      kill: fc.boolean(),
    }),
    ...(level <= 1 ? [fc.record({ k: fc.constant("snap" as const), gas: fc.integer({ min: 0, max: 80 }) })] : []),
    fc.record({ k: fc.constant("grow" as const), n: fc.integer({ min: 0, max: 40 }) }),
    fc.record({ k: fc.constant("print" as const) }),
    ...(level > 0
      ? [
          fc.record({ k: fc.constant("yield" as const) }),
          fc.record({ k: fc.constant("fault" as const), p: fc.integer({ min: 2, max: 5 }) }),
          fc.record({ k: fc.constant("gasleft" as const) }),
        ]
      : []),
  );

export const progArb: fc.Arbitrary<Prog> = fc
  .record({ levels: fc.integer({ min: 1, max: 3 }), nchunks: fc.integer({ min: 1, max: 3 }) })
  .chain(({ levels, nchunks }) =>
    fc.record({
      levels: fc.constant(levels),
      bodies: fc.tuple(
        ...Array.from({ length: levels + 1 }, (_, l) => fc.array(stmtArb(l, nchunks), { minLength: 1, maxLength: l === 0 ? 5 : 4 })),
      ),
      chunks: fc.array(blockArb, { minLength: nchunks, maxLength: nchunks }),
      refuelGas: fc.integer({ min: 1, max: 300 }),
      refuelMem: fc.constantFrom(64, 4096),
    }),
  );

// Locals of main and workers: 0 acc, 1 child, 2 second child / pointer, 3 status, 4 pointer / length.
const LOCALS = 5;

function render(p: Prog): string {
  let label = 0;
  const fresh = (): string => `L${label++}`;
  const fnName = (level: number): string => (level === 0 ? "main" : `w${level}`);

  /** Drives the child in local `h` until it is done or faulted; folds its status and result into acc. */
  const drive = (h: number): string[] => {
    const again = fresh();
    const notFuel = fresh();
    const notYield = fresh();
    const end = fresh();
    return [
      `${again}:`,
      `  LGET ${h}`,
      "  RESUME",
      "  LTEE 3",
      "  PUSH 3",
      "  EQ",
      "  LGET 3",
      "  PUSH 4",
      "  EQ",
      "  OR",
      `  JZ ${notFuel}`,
      `  LGET ${h}`,
      `  PUSH ${p.refuelGas}`,
      `  PUSH ${p.refuelMem}`,
      "  REFUEL",
      `  JMP ${again}`,
      `${notFuel}:`,
      "  LGET 3",
      "  PUSH 5",
      "  EQ",
      `  JZ ${notYield}`,
      `  LGET ${h}`,
      "  RESULT",
      "  LGET 0",
      "  XOR",
      "  LSET 0",
      `  JMP ${again}`,
      `${notYield}:`,
      "  LGET 3",
      "  PUSH 1",
      "  EQ",
      `  JZ ${end}`,
      `  LGET ${h}`,
      "  RESULT",
      "  LGET 0",
      "  ADD",
      "  LSET 0",
      `${end}:`,
      "  LGET 0",
      "  PUSH 31",
      "  MUL",
      "  LGET 3",
      "  ADD",
      "  LSET 0",
    ];
  };

  const spawn = (level: number, gas: number, mem: number, grant: boolean, into: number): string[] => [
    "  PUSH 0",
    "  PUSH 0",
    `  PUSH ${gas}`,
    `  PUSH ${mem}`,
    `  PUSH ${grant ? 1 : 0}`,
    "  PUSH 0",
    `  SPAWN ${fnName(level + 1)}`,
    `  LSET ${into}`,
  ];

  const stmt = (s: Stmt, level: number): string[] => {
    const last = level === p.levels;
    switch (s.k) {
      case "chunk":
        return [`  CALL chunk${s.i}`, "  LGET 0", "  ADD", "  LSET 0"];
      case "spawn":
        if (last) return [];
        return [...spawn(level, s.gas, s.mem, s.grant, 1), ...drive(1), ...(s.kill ? ["  LGET 1", "  KILL"] : [])];
      case "snap":
        if (last) return [];
        return [
          ...spawn(level, s.gas, 100_000, false, 1),
          "  LGET 1",
          "  RESUME",
          "  POP",
          "  LGET 1",
          "  SNAPSHOT",
          "  LTEE 4",
          "  MGROW",
          "  LTEE 2",
          "  INBOX",
          "  LGET 2",
          "  LGET 4",
          "  RESTORE",
          "  LSET 2",
          ...drive(1),
          ...drive(2),
        ];
      case "grow":
        return [`  PUSH ${s.n + 1}`, "  MGROW", "  LTEE 4", "  LGET 0", "  STORE 0", "  LGET 4", "  LOAD 0", "  PUSH 7", "  MUL", "  LGET 0", "  ADD", "  LSET 0"];
      case "print":
        return [
          "  PUSH 1",
          "  MGROW",
          "  LTEE 4",
          "  LGET 0",
          "  PUSH 63",
          "  AND",
          "  PUSH 48",
          "  ADD",
          "  STORE 0",
          "  LGET 4",
          "  PUSH 1",
          "  CAP io.print 2",
          "  POP",
        ];
      case "yield":
        return ["  LGET 0", "  YIELD", "  LINC 0 1"];
      case "fault": {
        const skip = fresh();
        return ["  LGET 0", `  PUSH ${s.p}`, "  REM", `  JNZ ${skip}`, "  PUSH 1", "  PUSH 0", "  DIV", "  POP", `${skip}:`];
      }
      case "gasleft":
        return ["  GASLEFT", "  LGET 0", "  XOR", "  LSET 0"];
    }
  };

  const out = [".module prog", ".cap io.print"];
  for (let l = 0; l <= p.levels; l++) {
    out.push(`.func ${fnName(l)} 0 ${LOCALS}`, `  PUSH ${l + 1}`, "  LSET 0");
    for (const s of p.bodies[l]) out.push(...stmt(s, l));
    out.push("  LGET 0", "  RET");
  }
  p.chunks.forEach((toks, i) => out.push(`.func chunk${i} 0 ${BODY_LOCALS}`, renderBody(toks, `c${i}_`)));
  return out.join("\n") + "\n";
}

export { render as renderProg };

/** A fixed program with three levels, prints, yields, a guest snapshot and a fault: the CLI and fuzz tests use it. */
export const SAMPLE: Prog = {
  levels: 3,
  bodies: [
    [{ k: "print" }, { k: "spawn", gas: 40, mem: 30, grant: true, kill: false }, { k: "snap", gas: 25 }, { k: "print" }],
    [{ k: "grow", n: 8 }, { k: "print" }, { k: "spawn", gas: 30, mem: 100_000, grant: true, kill: true }, { k: "yield" }],
    [{ k: "chunk", i: 0 }, { k: "spawn", gas: 20, mem: 50, grant: false, kill: false }, { k: "yield" }],
    [{ k: "chunk", i: 0 }, { k: "fault", p: 2 }, { k: "gasleft" }],
  ],
  chunks: [
    [
      { t: "op", name: "PUSH", a: 5, b: 0 },
      { t: "loop", n: 4, body: [{ t: "op", name: "LINC", a: 3, b: 1 }, { t: "op", name: "LGET", a: 0, b: 1 }, { t: "op", name: "ADD", a: 0, b: 0 }] },
    ],
  ],
  refuelGas: 37,
  refuelMem: 64,
};

/** A smaller nested program (a few hundred instructions): suspended before every instruction in the tests. */
export const SMALL: Prog = {
  levels: 2,
  bodies: [
    [{ k: "spawn", gas: 30, mem: 30, grant: true, kill: false }, { k: "snap", gas: 12 }, { k: "print" }],
    [{ k: "print" }, { k: "spawn", gas: 10, mem: 40, grant: false, kill: false }, { k: "yield" }],
    [{ k: "grow", n: 3 }, { k: "fault", p: 2 }, { k: "gasleft" }],
  ],
  chunks: [[{ t: "op", name: "PUSH", a: 1, b: 0 }]],
  refuelGas: 9,
  refuelMem: 64,
};

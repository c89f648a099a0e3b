// Every fused opcode (src/vm/quicken.ts) does what its parts do one at a
// time: for random operands, stack values, memory sizes and gas and memory
// limits, a run of the quickened code and a run in step mode (which runs one
// plain instruction per dispatch) end with the same status, value, gas used
// and image, including runs whose budget ends inside a fused sequence and
// parts that fault (a LOAD out of bounds, a division by zero).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assemble } from "../lang/asm.js";
import { Session } from "../src/session.js";
import { OPS } from "../src/vm/opcodes.js";
import { FUSED, FUSED_BASE, fusedName } from "../src/vm/quicken.js";
import { verify } from "../src/vm/verify.js";

const LOCALS = 4;
/** Values below the sequence: enough for any part's pops, small so that LOADs and STOREs mostly hit memory. */
const BELOW = 6;

/** The module: memory grown to `mem` words, locals and BELOW stack values set, the sequence, then RET of the top (or 0). */
function source(ops: readonly number[], operands: readonly number[], values: readonly number[], mem: number): string {
  const lines = [".func main 0 " + LOCALS, `  PUSH ${mem}`, "  MGROW", "  POP"];
  for (let i = 0; i < LOCALS; i++) lines.push(`  PUSH ${values[BELOW + i]}`, `  LSET ${i}`);
  for (let i = 0; i < BELOW; i++) lines.push(`  PUSH ${values[i]}`);
  let k = 0;
  let height = BELOW;
  for (const op of ops) {
    const info = OPS[op];
    const args = info.operands.map((kind) => {
      const v = operands[k++ % operands.length];
      if (kind === "local") return String(Math.abs(v) % LOCALS);
      if (kind === "label") return "out";
      if (kind === "func") return "f";
      return String(v);
    });
    lines.push(`  ${info.name} ${args.join(" ")}`.trimEnd());
    height += info.push - (info.pop < 0 ? 1 : info.pop);
  }
  lines.push("out:", "  RET", ".func f 1", "  LGET 0", "  RET");
  // A sequence that ends in RET or a jump leaves what it leaves; the fall-through RET returns the top.
  if (height < 1) lines.splice(lines.indexOf("out:"), 0, "  PUSH 0");
  return lines.join("\n");
}

function outcome(text: string, gas: number, mem: number, stepped: boolean) {
  const s = Session.start(verify(assemble(text)), { gas, mem, caps: [], record: false, tiering: { enabled: false } });
  if (stepped) s.machine.onStep = () => {};
  const r = s.run();
  return { status: r.status, value: r.value, gasUsed: r.gasUsed, image: Buffer.from(s.snapshot()).toString("base64") };
}

const word = fc.oneof(fc.integer({ min: -3, max: 12 }), fc.integer(), fc.constantFrom(0, 1, -1, 0x7fffffff, -0x80000000));

describe("fused opcodes do what their parts do, one at a time", () => {
  FUSED.forEach((ops, i) => {
    it(`${fusedName(FUSED_BASE + i)}: same status, value, gas and image as step mode, for any budget`, () => {
      fc.assert(
        fc.property(
          fc.array(word, { minLength: 4, maxLength: 4 }),
          fc.array(word, { minLength: BELOW + LOCALS, maxLength: BELOW + LOCALS }),
          fc.integer({ min: 0, max: 24 }),
          fc.integer({ min: 0, max: 60 }),
          fc.integer({ min: 0, max: 400 }),
          (operands, values, memWords, gas, memLimit) => {
            const text = source(ops, operands, values, memWords);
            // The whole run, then budgets that end anywhere in it (the prologue is about 2 + 2 x LOCALS + BELOW gas).
            for (const [g, m] of [
              [1e6, 1 << 20],
              [gas, 1 << 20],
              [1e6, memLimit],
            ])
              expect(outcome(text, g, m, false)).toEqual(outcome(text, g, m, true));
          },
        ),
        { numRuns: 60 },
      );
    });
  });
});

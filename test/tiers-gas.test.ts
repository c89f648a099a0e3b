// The bench's Ent workloads (bench/ent-workloads.ts) give the same value, gas
// and final image in both tiers, and what their plain-JS twins give: the
// ratios `npm run bench` reports compare equal work. Small sizes; the compiled
// tier is forced from the first instruction (warmGas 0), and also entered
// mid-run (a small warm-up), so both the switch between tiers and the
// compiled blocks are covered. A budget that runs out part-way must stop both
// tiers at the same instruction with the same state.

import { describe, expect, it } from "vitest";
import { ENT_WORKLOADS } from "../bench/ent-workloads.js";
import { compileSource } from "../lang/ent/compile.js";
import { Session, type SessionOptions } from "../src/session.js";
import { verifyBundle } from "../src/vm/verify.js";

const TIERS: Record<string, SessionOptions["tiering"]> = {
  interpreter: { enabled: false },
  compiled: { enabled: true, warmGas: 0 },
  "warmed mid-run": { enabled: true, warmGas: 5_000 },
};

function run(source: string, key: string, args: number[], tiering: SessionOptions["tiering"], gas = 1e10) {
  const [entry, ...linked] = verifyBundle(compileSource(source, `${key}.ent`).modules);
  const s = Session.start(entry, { gas, mem: 1 << 22, caps: [], linked, args, record: false, tiering });
  const r = s.run();
  return { status: r.status, value: r.value, gasUsed: r.gasUsed, image: Buffer.from(s.snapshot()).toString("base64") };
}

describe("bench workloads agree between tiers", () => {
  for (const w of ENT_WORKLOADS) {
    it(`${w.key}: value, gas used and final image are the same in every tier, and the value is the twin's`, () => {
      const args = w.args(0.002);
      const results = Object.entries(TIERS).map(([name, t]) => ({ name, ...run(w.source, w.key, args, t) }));
      const [first, ...rest] = results;
      expect(first.status).toBe("done");
      expect(first.value).toBe(w.native(...args));
      expect(first.gasUsed).toBeGreaterThan(1000);
      for (const r of rest) {
        expect({ tier: r.name, status: r.status, value: r.value, gasUsed: r.gasUsed }).toEqual({ tier: r.name, status: first.status, value: first.value, gasUsed: first.gasUsed });
        expect(r.image).toBe(first.image);
      }
    });

    it(`${w.key}: out of gas part-way, every tier stops at the same instruction with the same image`, () => {
      const args = w.args(0.002);
      const full = run(w.source, w.key, args, TIERS.interpreter).gasUsed;
      for (const cut of [Math.floor(full / 3), Math.floor((full * 2) / 3) + 7]) {
        const results = Object.values(TIERS).map((t) => run(w.source, w.key, args, t, cut));
        for (const r of results) {
          expect(r.status).toBe("out_of_gas");
          expect(r.image).toBe(results[0].image);
        }
      }
    });
  }
});

describe("a run refueled in slices (as an interruptible run is) agrees between tiers", () => {
  // Each slice stops wherever the gas runs out; the compiled tier is then entered at blocks it may
  // never have dispatched to, and steps the interpreter to one it has (execute.ts): nothing observable changes.
  function sliced(source: string, key: string, args: number[], tiering: SessionOptions["tiering"], slices: readonly number[]) {
    const [entry, ...linked] = verifyBundle(compileSource(source, `${key}.ent`).modules);
    const s = Session.start(entry, { gas: slices[0], mem: 1 << 22, caps: [], linked, args, record: false, tiering });
    let r = s.run();
    const stops: number[] = [];
    for (let i = 1; r.status === "out_of_gas"; i++) {
      stops.push(r.gasUsed);
      s.refuel(slices[i % slices.length]);
      r = s.run();
    }
    return { status: r.status, value: r.value, gasUsed: r.gasUsed, stops, image: Buffer.from(s.snapshot()).toString("base64") };
  }

  for (const w of ENT_WORKLOADS) {
    it(`${w.key}: the same stops, value, gas and image with slices of varied sizes`, () => {
      const args = w.args(0.002);
      const slices = [97, 1_000, 3, 1_234, 250];
      const plain = sliced(w.source, w.key, args, TIERS.interpreter, slices);
      expect(plain.status).toBe("done");
      expect(plain.value).toBe(w.native(...args));
      expect(plain.stops.length).toBeGreaterThan(5);
      for (const t of [TIERS.compiled, TIERS["warmed mid-run"]]) expect(sliced(w.source, w.key, args, t, slices)).toEqual(plain);
    });
  }
});

// The modules kind: `.rmod` bytes into decodeBundle and verifyBundle (the
// CLI's loader), and what verifies is disassembled and run with a small
// budget, then snapshotted and decoded again. Inputs are bundles of random
// Ent and assembly programs and mutations of them: raw bytes, the msgpack
// structure (with values outside the format: maps, floats, booleans), and
// the code itself — opcodes and operands changed word by word, the function
// table shifted — which is what the verifier has to stand against.

import { readFileSync, readdirSync } from "node:fs";
import fc from "fast-check";
import { disassemble } from "../../lang/disasm.js";
import { assemble } from "../../lang/asm.js";
import { compileProgram, compileSource } from "../../lang/ent/compile.js";
import { decodeImage } from "../../src/image/decode.js";
import { Session } from "../../src/session.js";
import { RarError } from "../../src/vm/errors.js";
import { decodeBundle, encodeBundle, packr, type ModuleDef } from "../../src/vm/module.js";
import { OPS, WIDTH } from "../../src/vm/opcodes.js";
import { verify, verifyBundle } from "../../src/vm/verify.js";
import { progArb, renderProg } from "../../test/image-programs.js";
import { entProgram } from "./ent-gen.js";
import { GUEST_GAS, startGuest } from "./guest.js";
import { concat, mutateBytes, mutateValue, nudge, type Value } from "./mutate.js";
import { Rng } from "./rng.js";
import { Anomaly, type Input, type Target } from "./target.js";

/** A bundle of a random Ent program, or null when it does not compile. */
function entBundle(rng: Rng): Uint8Array | null {
  const p = entProgram(rng);
  try {
    return encodeBundle(compileSource(p.main, "main.ent", p.files).modules);
  } catch (e) {
    if (e instanceof RarError) return null;
    throw e;
  }
}

function asmBundle(rng: Rng): Uint8Array {
  const [prog] = fc.sample(progArb, { numRuns: 1, seed: rng.u32() | 0 });
  return encodeBundle([assemble(renderProg(prog), "prog.rasm")]);
}

/** The examples, compiled (they import from their own directory). */
function exampleBundles(): Uint8Array[] {
  const dir = new URL("../../examples/", import.meta.url);
  const out: Uint8Array[] = [];
  const read = (p: string): string => readFileSync(new URL(p, dir), "utf8");
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith(".ent")) continue;
    try {
      out.push(encodeBundle(compileProgram(f, read).modules));
    } catch (e) {
      if (!(e instanceof RarError)) throw e;
    }
  }
  for (const f of readdirSync(new URL("asm/", dir)).sort())
    if (f.endsWith(".rasm")) out.push(encodeBundle([assemble(read(`asm/${f}`), f)]));
  return out;
}

function basePool(seed: number): Uint8Array[] {
  const rng = new Rng(seed, 0x0d01);
  const pool = exampleBundles();
  for (let i = 0; i < 10; i++) pool.push(asmBundle(rng));
  for (let made = 0; made < 30; ) {
    const b = entBundle(rng);
    if (b) {
      pool.push(b);
      made++;
    }
  }
  return pool;
}

/** Changes to one module's code words and function table; the result is re-encoded as it was written. */
function mutateCode(rng: Rng, base: Uint8Array): Uint8Array {
  const w = packr.unpack(base) as [string, number, unknown[][]];
  mutateModuleCode(rng, rng.pick(w[2]));
  return packr.pack(w);
}

/** Changes code words and the function table of a module's wire form, in place. */
function mutateModuleCode(rng: Rng, m: unknown[]): void {
  const bin = m[4] as Uint8Array;
  const code = new Int32Array(Uint8Array.from(bin).buffer);
  const fns = m[3] as [string, number, number, number, number][];
  const n = 1 + rng.size(3);
  let words = Array.from(code);
  for (let k = 0; k < n; k++) {
    if (words.length === 0) break;
    // An instruction start, mostly: operands of real instructions are what matters.
    let pc = rng.below(words.length);
    for (let s = 0; s < words.length && rng.chance(0.8); ) {
      const w = WIDTH[words[s]] ?? 1;
      if (s + w > pc) {
        pc = s;
        break;
      }
      s += w;
    }
    const op = words[pc];
    const width = WIDTH[op] ?? 1;
    switch (rng.below(8)) {
      case 0:
        words[pc] = rng.below(OPS.length);
        break;
      case 1:
        words[pc] = rng.chance(0.5) ? OPS.length + rng.below(3) : -1;
        break;
      case 2:
      case 3:
        if (width > 1) {
          const at = pc + 1 + rng.below(width - 1);
          words[at] = rng.chance(0.7) ? nudge(rng, words[at]) | 0 : rng.word();
        }
        break;
      case 4: {
        // An instruction replaced by another of the same width (the layout stays).
        const same = OPS.map((_, i) => i).filter((i) => WIDTH[i] === width);
        words[pc] = rng.pick(same);
        break;
      }
      case 5: {
        const f = rng.pick(fns);
        const field = 1 + rng.below(4);
        f[field] = Math.max(0, nudge(rng, f[field] as number));
        break;
      }
      case 6: {
        // A word removed or added; functions after it shift with it (so the table still tiles the code).
        const del = rng.chance(0.5) && words.length > 1;
        words = del ? [...words.slice(0, pc), ...words.slice(pc + 1)] : [...words.slice(0, pc), rng.word(), ...words.slice(pc)];
        const d = del ? -1 : 1;
        for (const f of fns) {
          if (f[3] > pc) f[3] += d;
          if (f[4] > pc || (f[4] === pc && !del)) f[4] += d;
        }
        break;
      }
      default: {
        // A jump or call retargeted to another instruction start.
        for (let s = 0; s < words.length; s += WIDTH[words[s]] ?? 1) {
          const info = OPS[words[s]];
          if (info && info.operands[0] && ["label", "func", "cap", "link", "local", "count"].includes(info.operands[0]) && rng.chance(0.1)) {
            words[s + 1] = rng.chance(0.5) ? rng.below(words.length) : words[s + 1] + rng.pick([1, -1, 2, -2]);
            break;
          }
        }
      }
    }
  }
  m[4] = new Uint8Array(Int32Array.from(words).buffer);
}

/** A guest starts the module from bytes in its memory (SPAWNC verifies them), runs the child a little and snapshots it. */
const SPAWNER = verify(
  assemble(
    `.module spawner
.func main 0 2
  PUSH 0
  PUSH 0
  PUSH ${GUEST_GAS}
  PUSH 4096
  PUSH 0
  PUSH 0
  PUSH 1
  PUSH 0
  LOAD 0
  SPAWNC
  LSET 0
again:
  LGET 0
  RESUME
  PUSH 3
  EQ
  JZ end
  LGET 0
  PUSH 1000
  PUSH 0
  REFUEL
  LINC 1 1
  LGET 1
  PUSH 4
  LT
  JNZ again
end:
  LGET 0
  SNAPSHOT
  RET`,
    "spawner.rasm",
  ),
);

function spawnInGuest(bytes: Uint8Array): string {
  const s = Session.start(SPAWNER, { stdout: () => {}, stdin: () => null, gas: 50 * bytes.length + 4 * GUEST_GAS, mem: 8 * bytes.length + (1 << 16), args: Array.from(bytes), record: false });
  return `guest ${s.run().status}`;
}

export function modulesTarget(seed: number): Target {
  const pool = basePool(seed);
  return {
    ext: "rmod",
    generate(rng: Rng): Input {
      const base = rng.pick(pool);
      switch (rng.weighted([3, 20, 27, 37, 8, 5])) {
        case 0:
          return { data: (rng.chance(0.7) ? entBundle(rng) : asmBundle(rng)) ?? base, how: "bundle of a random program" };
        case 1:
          return { data: mutateBytes(rng, base), how: "byte damage" };
        case 2:
          return { data: packr.pack(mutateValue(rng, packr.unpack(base) as Value, { loose: rng.chance(0.3) })), how: "structural damage" };
        case 3:
          return { data: mutateCode(rng, base), how: "code damage" };
        case 4: {
          // One module's bytes (damaged or not) for SPAWNC.
          const m = rng.pick((packr.unpack(base) as unknown[][][])[2]);
          if (rng.chance(0.5)) mutateModuleCode(rng, m);
          const v = rng.chance(0.6) ? mutateValue(rng, m as Value, { loose: rng.chance(0.2) }) : m;
          return { data: packr.pack(v), how: "module bytes started by a guest", guest: true };
        }
        default: {
          const other = rng.pick(pool);
          return { data: concat(base.subarray(0, rng.below(base.length)), other.subarray(rng.below(other.length))), how: "spliced bundles" };
        }
      }
    },
    check(input: Input): string {
      const bytes = input.data as Uint8Array;
      if (input.guest) return spawnInGuest(bytes);
      let defs: ModuleDef[];
      try {
        defs = decodeBundle(bytes, "fuzz.rmod");
      } catch (e) {
        if (e instanceof RarError) return `rejected ${e.phase}/${e.kind}`;
        throw e;
      }
      let mods;
      try {
        mods = verifyBundle(defs, "fuzz.rmod");
      } catch (e) {
        if (e instanceof RarError) return `rejected ${e.phase}/${e.kind}`;
        throw e;
      }
      for (const m of mods) disassemble(m);
      let s;
      try {
        s = startGuest(mods[0], mods.slice(1), true);
        s.run();
      } catch (e) {
        if (e instanceof RarError) return `verified, ${e.phase}/${e.kind}`;
        throw e;
      }
      const img = s.snapshot();
      try {
        decodeImage(img);
      } catch (e) {
        if (e instanceof RarError) throw new Anomaly(`the snapshot of a verified module's run does not decode: ${e.message}`);
        throw e;
      }
      return `verified, ${s.root.statusName}`;
    },
  };
}

// The images kind: `.rimg` bytes into Session.fromImage (the CLI's resume
// path, which decodes and verifies), sometimes inspect and audit, a short run,
// and a snapshot that must decode again. Inputs are valid images of random
// programs — resumed, they must go on exactly as the uninterrupted run did
// (snapshot transparency) — and mutations of them:
//
// - raw byte damage, with the content digest left stale (the first check
//   must catch it) or recomputed (so the body is parsed and verified);
// - structural damage to the body's msgpack (still valid msgpack, resealed);
// - state damage: a decoded tree's registers, stacks, frames, statuses,
//   children and budgets changed, footprints made to add up again, and the
//   tree encoded with the runtime's own encoder, so verification itself is
//   what has to catch it;
// - and a guest restoring the bytes with RESTORE (the in-VM decode path).

import { readFileSync, readdirSync } from "node:fs";
import fc from "fast-check";
import { assemble } from "../../lang/asm.js";
import { compileSource } from "../../lang/ent/compile.js";
import type { Process } from "../../src/process/process.js";
import { Session, type RunResult } from "../../src/session.js";
import { decodeImage } from "../../src/image/decode.js";
import { HEADER_BYTES, encodeImage, seal } from "../../src/image/encode.js";
import { B, type WireValue } from "../../src/image/format.js";
import { inspectImage } from "../../src/image/inspect.js";
import { auditDecoded } from "../../src/trace/audit.js";
import { preorder } from "../../src/image/records.js";
import { WireWriter } from "../../src/image/wire.js";
import { RarError } from "../../src/vm/errors.js";
import { packr, type Module } from "../../src/vm/module.js";
import { verify, verifyBundle } from "../../src/vm/verify.js";
import { validImages } from "../../test/image-fuzz.js";
import { progArb, renderProg } from "../../test/image-programs.js";
import { entProgram } from "./ent-gen.js";
import { GUEST_GAS, SAFE_CAPS, sessionOf, tame } from "./guest.js";
import { concat, mutateBytes, mutateValue, nudge, type Slot, type Value } from "./mutate.js";
import { Rng } from "./rng.js";
import { Anomaly, type Input, type Target } from "./target.js";

const quiet = { stdout: (): void => {}, stdin: (): null => null };

/** A random Ent program's modules (entry first), or null if it did not compile. */
function entModules(rng: Rng): Module[] | null {
  const p = entProgram(rng);
  try {
    return verifyBundle(compileSource(p.main, "main.ent", p.files).modules);
  } catch (e) {
    if (e instanceof RarError) return null;
    throw e;
  }
}

/** One of the image tests' random process-tree programs. */
function asmModules(rng: Rng): Module[] {
  const [prog] = fc.sample(progArb, { numRuns: 1, seed: rng.u32() | 0 });
  return [verify(assemble(renderProg(prog), "prog.rasm"))];
}

/**
 * A chain of calls where each caller holds a stack of its own across the call
 * and a deeper one after it, and locals: frames of every shape, for
 * suspensions in the middle of calls.
 */
function towerModules(rng: Rng): Module[] {
  const n = 1 + rng.below(5);
  const out: string[] = [];
  for (let f = 0; f < n; f++) {
    const locals = rng.below(4);
    out.push(`.func ${f === 0 ? "main" : `f${f}`} 0 ${locals}`);
    const before = rng.below(24);
    const after = rng.below(40);
    for (let i = 0; i < before; i++) out.push(`  PUSH ${rng.word()}`);
    if (locals > 0) out.push(`  LINC ${rng.below(locals)} 1`);
    if (f + 1 < n) out.push(`  CALL f${f + 1}`);
    else out.push("  PUSH 7", rng.chance(0.5) ? "  YIELD" : "  NOP", "  PUSH 9");
    for (let i = 0; i < after; i++) out.push(`  PUSH ${rng.word()}`);
    for (let i = 0; i < before + after; i++) out.push(rng.pick(["  ADD", "  XOR", "  SUB"]));
    out.push("  RET");
  }
  return [verify(assemble(out.join("\n"), "tower.rasm"))];
}

/** What the rest of an uninterrupted run gives, to compare a run resumed from its image with. */
interface Continuation {
  /** State digest at the snapshot. */
  at: string;
  /** Gas the host adds before resuming (0: the run had ended). */
  refuel: number;
  out: string;
  result: RunResult;
  digest: string;
}

/**
 * A run of a random program stopped after a random amount of gas (or ended):
 * its image and, when `continued`, how the same run goes on after a refuel.
 */
function programImage(rng: Rng, continued: boolean): { image: Uint8Array; then?: Continuation } | null {
  const which = rng.weighted([60, 25, 15]);
  const mods = which === 0 ? entModules(rng) : which === 1 ? asmModules(rng) : towerModules(rng);
  if (!mods) return null;
  let out = "";
  const s = Session.start(mods[0], {
    stdout: (t) => void (out += t),
    stdin: () => null,
    gas: rng.pick([1, 2, 5, 30, 200, 1000, 5000, 50_000]),
    mem: rng.pick([100, 1000, 1 << 16]),
    caps: SAFE_CAPS,
    linked: mods.slice(1),
    record: continued || rng.chance(0.7),
  });
  try {
    s.run();
  } catch (e) {
    if (e instanceof RarError) return null;
    throw e;
  }
  const image = s.snapshot();
  if (!continued) return { image };
  const at = s.digest();
  const st = s.root.status;
  const resumable = st === 0 || st === 3 || st === 4 || st === 5;
  const refuel = resumable ? rng.pick([10, 500, 20_000]) : 0;
  out = "";
  if (refuel > 0) {
    s.refuel(refuel, st === 4 ? 1 << 16 : 0);
    s.run();
  }
  return { image, then: { at, refuel, out, result: s.result(), digest: s.digest() } };
}

/** Resumes the image in a new session like the original went on; a difference is an anomaly (DESIGN §6, transparency). */
function checkContinuation(bytes: Uint8Array, then: Continuation): string {
  let out = "";
  const s = Session.fromImage(bytes, { caps: SAFE_CAPS, stdout: (t) => void (out += t), stdin: () => null });
  const differ = (what: string, a: unknown, b: unknown): never => {
    throw new Anomaly(`resumed from its image, the run differs from the uninterrupted one: ${what} ${JSON.stringify(b)}, expected ${JSON.stringify(a)}`);
  };
  if (s.digest() !== then.at) differ("decoded state digest", then.at, s.digest());
  if (then.refuel > 0) {
    s.refuel(then.refuel, s.root.status === 4 ? 1 << 16 : 0);
    s.run();
  }
  const r = s.result();
  if (out !== then.out) differ("output", then.out, out);
  for (const k of ["status", "value", "fault", "gasUsed", "memUsed"] as const) if (r[k] !== then.result[k]) differ(k, then.result[k], r[k]);
  if (s.digest() !== then.digest) differ("final state digest", then.digest, s.digest());
  return `resumed ${r.status}`;
}

/** The valid images mutations start from: fixed ones, golden files, and images of random programs. */
function basePool(seed: number): Uint8Array[] {
  const rng = new Rng(seed, 0x1a6e);
  const pool = [...validImages()];
  const dir = new URL("../../images/", import.meta.url);
  for (const f of readdirSync(dir).sort()) if (f.endsWith(".rimg")) pool.push(new Uint8Array(readFileSync(new URL(f, dir))));
  while (pool.length < 40) {
    const made = programImage(rng, false);
    if (made) pool.push(made.image);
  }
  // Smallest first: picks favour small images, which decode faster (more inputs per second).
  return pool.sort((a, b) => a.length - b.length);
}

function pickBase(rng: Rng, pool: readonly Uint8Array[]): Uint8Array {
  const u = rng.u32() / 0x100000000;
  return pool[Math.floor(u * u * pool.length)];
}

// --- state mutations --------------------------------------------------------------

/** Changes one register or field of a process. Capacity is kept so the encoder can write what it claims. */
function mutateProcess(rng: Rng, p: Process, all: Process[]): void {
  const grow = (a: Int32Array, n: number): Int32Array => {
    if (n <= a.length) return a;
    const b = new Int32Array(n);
    b.set(a);
    return b;
  };
  const f = p.module.functions;
  switch (rng.below(22)) {
    case 0:
      p.pc = rng.chance(0.5) ? nudge(rng, p.pc) : rng.below(p.module.code.length + 2);
      break;
    case 1:
      p.pc += rng.pick([1, 2, 3, -1, -2, -3]);
      break;
    case 2: {
      p.sp = Math.max(0, p.sp + rng.pick([1, -1, 2, -2, 3]));
      p.stack = grow(p.stack, p.sp);
      break;
    }
    case 3:
      if (p.sp > 0) p.stack[rng.below(p.sp)] = rng.word();
      break;
    case 4:
      p.bp = Math.max(0, p.bp + rng.pick([1, -1, 3, -3]));
      break;
    case 5: {
      p.fp = Math.max(0, p.fp + rng.pick([3, -3, 1, -1]));
      p.frames = grow(p.frames, p.fp);
      break;
    }
    case 6:
      if (p.fp > 0) p.frames[rng.below(p.fp)] = rng.chance(0.5) ? nudge(rng, p.frames[rng.below(p.fp)]) | 0 : rng.below(f.length + 1);
      break;
    case 7:
      p.status = rng.below(7);
      break;
    case 8:
      p.waiting = rng.chance(0.5) ? 0 : rng.pick([...p.children.keys(), 1, 2, p.nextHandle]);
      break;
    case 9:
      p.value = rng.word();
      p.answer = rng.word();
      break;
    case 10:
      p.faultKind = rng.pick([null, "div_by_zero", "trap", "cap_failed", "bad_image"]);
      p.faultDetail = rng.pick(["", "x"]);
      break;
    case 11:
      p.request = rng.chance(0.3) ? null : { cap: rng.pick(["clock.now", "io.print", "kv.get", "nope"]), args: rng.chance(0.5) ? [] : [Int32Array.of(rng.word())] };
      break;
    case 12:
      p.inbox = rng.chance(0.5) ? null : new Int32Array(rng.size(20));
      break;
    case 13: {
      const n = Math.max(0, p.memSize + rng.pick([1, -1, 16, -16, 100]));
      p.mem = grow(p.mem, n);
      if (n < p.memSize) p.mem.fill(0, n, p.memSize);
      p.memSize = n;
      break;
    }
    case 14:
      if (p.memSize > 0) p.mem[rng.below(p.memSize)] = rng.word();
      break;
    case 15:
      p.gasUsed = Math.max(0, nudge(rng, p.gasUsed));
      p.gasLimit = Math.max(0, rng.chance(0.5) ? p.gasUsed + rng.below(100) : nudge(rng, p.gasLimit));
      break;
    case 16:
      p.memLimit = Math.max(0, nudge(rng, p.memLimit));
      break;
    case 17:
      p.caps = rng.chance(0.5) ? [] : [...new Set([...p.caps, rng.pick(["io.print", "clock.now", "kv.get:a", "random.u32"])])].sort();
      break;
    case 18:
      p.traps = rng.chance(0.5) ? [] : [...new Set([...p.traps, rng.pick(["io.print", "clock.now", "kv.get"])])].sort();
      break;
    case 19:
      p.nextHandle = Math.max(1, p.nextHandle + rng.pick([1, -1, 5]));
      break;
    case 20: {
      // Drop a child, or adopt another process's child here.
      const ks = [...p.children.keys()];
      if (ks.length > 0 && rng.chance(0.5)) p.children.delete(rng.pick(ks));
      else {
        const other = rng.pick(all);
        const oks = [...other.children.keys()];
        if (other !== p && oks.length > 0) {
          const h = rng.pick(oks);
          const c = other.children.get(h) as Process;
          if (!isAncestor(c, p)) {
            other.children.delete(h);
            const nh = p.nextHandle++;
            c.parent = p;
            c.handle = nh;
            p.children.set(nh, c);
          }
        }
      }
      break;
    }
    default:
      p.entryFn = rng.below(f.length + 1);
  }
}

function isAncestor(a: Process, p: Process): boolean {
  for (let q: Process | null = p; q; q = q.parent) if (q === a) return true;
  return false;
}

/**
 * A decoded image with 1..n processes changed, then made consistent where the
 * change alone would be caught cheaply: footprints recomputed bottom-up, and
 * usually the limits raised to cover what is used.
 */
function stateMutation(rng: Rng, base: Uint8Array): Uint8Array {
  const img = decodeImage(base);
  const procs = preorder(img.root);
  const n = 1 + rng.size(3);
  for (let k = 0; k < n; k++) mutateProcess(rng, rng.pick(procs), procs);
  const live = preorder(img.root);
  const fix = rng.chance(0.9);
  for (let i = live.length - 1; i >= 0; i--) {
    const p = live[i];
    let words = p.ownFootprint();
    for (const c of p.children.values()) words += c.memUsed;
    p.memUsed = words;
    if (fix) {
      p.gasLimit = Math.max(p.gasLimit, p.gasUsed);
      p.memLimit = Math.max(p.memLimit, p.memUsed);
    }
  }
  const byDigest = new Map(img.modules.map((m) => [m.digest, m]));
  return encodeImage(img.root, img.meta, (d) => byDigest.get(d));
}

// --- msgpack mutations --------------------------------------------------------------

function bodyValue(image: Uint8Array): Value {
  return packr.unpack(image.subarray(HEADER_BYTES)) as Value;
}

function sealValue(v: Value): Uint8Array {
  const w = new WireWriter().value(v as WireValue);
  return seal(w.parts(), w.length());
}

/** Process records and their fields, most of the time; anything else otherwise. */
function recordsFirst(all: Slot[]): Slot[] {
  const root = all[0].value as Value[];
  const tree = Array.isArray(root) ? root[B.tree] : undefined;
  return all.filter((s) => Array.isArray(tree) && (s.parent === tree || (Array.isArray(s.parent) && tree.includes(s.parent as Value))));
}

function structural(rng: Rng, base: Uint8Array): Uint8Array {
  return sealValue(mutateValue(rng, bodyValue(base), { loose: false }, recordsFirst));
}

// --- RESTORE from a guest -------------------------------------------------------------

const RESTORER = verify(
  assemble(
    `.module restorer
.func main 0 2
  PUSH 1
  PUSH 0
  LOAD 0
  RESTORE
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
    "restorer.rasm",
  ),
);

/** A guest restores the bytes (from its memory), runs the copy a little and snapshots it. */
function restoreInGuest(bytes: Uint8Array): string {
  const s = Session.start(RESTORER, { ...quiet, gas: 50 * bytes.length + 4 * GUEST_GAS, mem: 8 * bytes.length + (1 << 16), args: Array.from(bytes), record: false });
  const r = s.run();
  return `guest ${r.status}`;
}

/** The other commands that read an image, for some inputs: inspect, audit. */
function alsoEntry(rng: Rng): string | undefined {
  const r = rng.below(100);
  return r < 20 ? "inspect" : r < 30 ? "audit" : undefined;
}

// --- the target -----------------------------------------------------------------------

export function imagesTarget(seed: number): Target {
  const pool = basePool(seed);
  return {
    ext: "rimg",
    generate(rng: Rng): Input {
      const base = pickBase(rng, pool);
      switch (rng.weighted([4, 5, 30, 30, 25, 2, 3, 3])) {
        case 0: {
          const made = programImage(rng, true);
          if (made) return { data: made.image, how: "valid image of a random program, resumed", then: made.then };
          return { data: base, how: "valid image" };
        }
        case 1:
          return { data: mutateBytes(rng, base), how: "byte damage, digest stale" };
        case 2:
        {
          const body = mutateBytes(rng, base.subarray(HEADER_BYTES));
          return { data: seal([body], body.length), how: "byte damage, resealed" };
        }
        case 3:
          return { data: structural(rng, base), how: "structural damage, resealed", entry: alsoEntry(rng) };
        case 4:
          return { data: stateMutation(rng, base), how: "state damage, re-encoded", entry: alsoEntry(rng) };
        case 5: {
          const cut = rng.below(base.length);
          return { data: rng.chance(0.5) ? base.subarray(0, cut) : seal([base.subarray(HEADER_BYTES, Math.max(HEADER_BYTES, cut))], Math.max(0, cut - HEADER_BYTES)), how: "truncation" };
        }
        case 6: {
          // Two images spliced: one's body start with another's end.
          const other = rng.pick(pool);
          const a = base.subarray(HEADER_BYTES, HEADER_BYTES + rng.below(base.length - HEADER_BYTES));
          const b = other.subarray(HEADER_BYTES + rng.below(other.length - HEADER_BYTES));
          const body = concat(a, b);
          return { data: seal([body], body.length), how: "spliced bodies, resealed" };
        }
        default:
          return { data: structural(rng, base), how: "restored by a guest", guest: true };
      }
    },
    check(input: Input): string {
      const bytes = input.data as Uint8Array;
      if (input.guest) return restoreInGuest(bytes);
      if (input.then) return checkContinuation(bytes, input.then as Continuation);
      let s: Session;
      try {
        s = sessionOf(bytes);
      } catch (e) {
        if (e instanceof RarError) return `rejected ${e.phase}/${e.kind}`;
        throw e;
      }
      // Decoding again (inspect, the snapshot) may take the modules verified the first time.
      const known = (d: string): Module | undefined => s.machine.modules.get(d);
      // `rar inspect` and `rar audit` (which replays the trace from the initial state) take the image too.
      if (input.entry === "inspect") inspectImage(decodeImage(bytes, { known }));
      if (input.entry === "audit") auditDecoded(decodeImage(bytes, { known }));
      tame(s);
      try {
        s.run();
      } catch (e) {
        if (!(e instanceof RarError)) throw e;
      }
      const again = s.snapshot();
      try {
        decodeImage(again, { known });
      } catch (e) {
        if (e instanceof RarError) throw new Anomaly(`the snapshot of a decoded image, run, does not decode: ${e.message}`);
        throw e;
      }
      return "decoded";
    },
  };
}

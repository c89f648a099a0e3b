// Images (issues 3 and 16): the host's snapshot and restore (encode the
// image; decode and verify it into a new session) of a suspended process
// holding 1M words of linear memory, of one holding 1k words, and of a tree of
// 1000 suspended processes, each against its floor: copying the same image
// bytes into fresh memory and hashing them with SHA-256, measured in the same
// rounds (fresh memory costs page faults that vary with the host and with what
// ran before, so a floor measured elsewhere is no yardstick), warmed up and
// timed in batches (vsFloor). Also the size of
// a suspended tiny loop's image and image bytes per byte of guest memory.

import { createHash } from "node:crypto";
import { Session } from "../src/index.js";
import { BENCH_MEM, type BenchContext, type BenchGroup, type GroupResult, collect, compile, fmt, median, pairedRatio, rounds, sink } from "./harness.js";

/** Words of linear memory the big process holds. */
const BIG_WORDS = 1 << 20;

/**
 * Grows memory to args[0] words in all, fills it with a hash of the address
 * (so nothing about the image depends on zeros), then spins until the gas
 * runs out: the root ends suspended (out_of_gas) mid-loop.
 */
const BIG_RASM = `
.module bench_image_1m
.func main 0 3
        PUSH 0
        LOAD 1           ; n = args[0]
        LTEE 2
        MSIZE
        SUB
        MGROW
        POP
        PUSH 2
        LSET 1
fill:   LGET 1
        LGET 1
        PUSH -1640531535
        MUL
        STORE 0
        LINC 1 1
        LGET 1
        LGET 2
        LT
        JNZ fill
spin:   LINC 0 1
        JMP spin
`;

/** A 10-instruction module: a loop that never ends, suspended when its gas runs out. */
const TINY_RASM = `
.module tiny
.func main 0 2
top:    LINC 0 1
        LGET 0
        ADDI 3
        LSET 1
        LGET 1
        PUSH 7
        AND
        POP
        JMP top
        RET
`;

/** Processes in the tree image: the root and TREE_CHILDREN children. */
const TREE_CHILDREN = 999;

/** TREE_CHILDREN children, each run until it yields (a suspended tree), then the root spins until its gas runs out. */
const TREE_RASM = `
.module bench_image_tree
.func main 0 2
loop:   PUSH 0
        PUSH 0
        PUSH 1000
        PUSH 1000
        PUSH 0
        PUSH 0
        SPAWN child
        RESUME
        POP
        LINC 1 1
        LGET 1
        PUSH ${TREE_CHILDREN}
        LT
        JNZ loop
spin:   LINC 0 1
        JMP spin

.func child 0
        PUSH 1
        YIELD
        PUSH 0
        RET
`;

const quiet = (): void => {};

/** The floor of an image operation: its bytes copied into fresh memory and hashed. */
function floor(image: Uint8Array): number {
  return createHash("sha256").update(image.slice()).digest()[0];
}

interface VsFloor {
  snapshotMs: number;
  restoreMs: number;
  floorMs: number;
  snapshotVsFloor: number;
  restoreVsFloor: number;
}

/** Untimed time spent on each image's operations first, so the JIT has compiled the image path (not what is measured). */
const WARM_MS = 150;
/** Each timed sample is a batch of calls lasting about this long, so a sample is not one timer tick or one scavenge. */
const BATCH_MS = 1;

/**
 * Snapshot and restore of a session, side by side with the floor of its
 * image: warmed up for WARM_MS (a few calls would time V8's tiering of the
 * image path, not the path), then `reps` interleaved rounds, each timing a
 * batch of calls of each (the same count for the three, so that a batch
 * of the three takes about BATCH_MS).
 */
function vsFloor(s: Session, reps: number): VsFloor {
  // What earlier measurements left (the 1M-word images: megabytes outside the heap) is collected first, not billed to this one.
  collect();
  const image = s.snapshot();
  const once = {
    snapshot: () => s.snapshot().length,
    restore: () => Session.fromImage(image, { stdout: quiet }).root.memSize,
    floor: () => floor(image),
  };
  const start = performance.now();
  let calls = 0;
  while (calls < 10 || performance.now() - start < WARM_MS) {
    sink(once.snapshot());
    sink(once.restore());
    sink(once.floor());
    calls++;
  }
  const perCall = (performance.now() - start) / calls;
  const batch = Math.max(1, Math.round(BATCH_MS / perCall));
  const batched = (f: () => number) => () => {
    let x = 0;
    for (let i = 0; i < batch; i++) x ^= f();
    return x;
  };
  const r = rounds({ snapshot: batched(once.snapshot), restore: batched(once.restore), floor: batched(once.floor) }, { reps, warmup: 1 });
  const per = (t: number[]): number[] => t.map((x) => x / batch);
  return {
    snapshotMs: median(per(r.snapshot)),
    restoreMs: median(per(r.restore)),
    floorMs: median(per(r.floor)),
    snapshotVsFloor: pairedRatio(r.snapshot, r.floor),
    restoreVsFloor: pairedRatio(r.restore, r.floor),
  };
}

/** Runs a module under `gas` and returns its session, which must end suspended (out of gas). */
function suspended(source: string, name: string, gas: number, args: readonly number[]): Session {
  const s = Session.start(compile(source, name), { gas, mem: BENCH_MEM, args, stdout: quiet });
  const r = s.run();
  if (r.status !== "out_of_gas") throw new Error(`bench images ${name}: ended ${r.status}, expected out_of_gas`);
  return s;
}

function sameWords(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function runImages(ctx: BenchContext): GroupResult {
  ctx.progress("images: suspend a process holding 1M words");
  // Filling costs about 10 gas per word; the rest is spent spinning.
  let big: Session | null = suspended(BIG_RASM, "image_1m", 12 * BIG_WORDS + 10_000, [BIG_WORDS]);
  const mem = big.root.mem.subarray(0, big.root.memSize);
  if (big.root.memSize !== BIG_WORDS || mem[BIG_WORDS - 1] !== Math.imul(BIG_WORDS - 1, -1640531535))
    throw new Error(`bench images: the process holds ${big.root.memSize} words, not the ${BIG_WORDS} filled ones`);
  const image = big.snapshot();

  // Correctness once, untimed: restoring gives the same memory, and re-encoding the same bytes.
  let back: Session | null = Session.fromImage(image, { stdout: quiet });
  if (!sameWords(back.root.mem.subarray(0, back.root.memSize), mem)) throw new Error("bench images: restored memory differs");
  const again = back.snapshot();
  if (again.length !== image.length || !again.every((b, i) => b === image[i])) throw new Error("bench images: re-encoding gives other bytes");

  ctx.progress("images: snapshot / restore 1M words");
  // Short operations: more rounds than usual for a steady median.
  const reps = Math.max(5, ctx.reps * 3);
  const m1 = vsFloor(big, reps);
  const perByte = image.length / (BIG_WORDS * 4);
  // Let go of the 1M-word sessions before the next measurements (vsFloor collects).
  big = back = null;

  ctx.progress("images: snapshot / restore 1k words");
  const small = suspended(BIG_RASM, "image_1k", 12 * 1024 + 10_000, [1024]);
  const k1 = vsFloor(small, reps * 3);

  ctx.progress(`images: snapshot / restore a tree of ${TREE_CHILDREN + 1} processes`);
  const tree = suspended(TREE_RASM, "image_tree", 2_000_000, []);
  if (tree.root.children.size !== TREE_CHILDREN) throw new Error(`bench images: the tree has ${tree.root.children.size + 1} processes`);
  const treeImage = tree.snapshot();
  if (Session.fromImage(treeImage, { stdout: quiet }).root.children.size !== TREE_CHILDREN) throw new Error("bench images: the restored tree differs");
  const t1 = vsFloor(tree, reps);

  ctx.progress("images: tiny loop");
  const tiny = suspended(TINY_RASM, "image_tiny", 1000, []);
  const tinyBytes = tiny.snapshot().length;

  return {
    metrics: {
      snapshot_ms_1m_words: m1.snapshotMs,
      restore_ms_1m_words: m1.restoreMs,
      snapshot_1m_vs_floor: m1.snapshotVsFloor,
      restore_1m_vs_floor: m1.restoreVsFloor,
      small_snapshot_vs_floor: k1.snapshotVsFloor,
      small_restore_vs_floor: k1.restoreVsFloor,
      tree_snapshot_vs_floor: t1.snapshotVsFloor,
      tree_restore_vs_floor: t1.restoreVsFloor,
      tiny_image_bytes: tinyBytes,
      image_bytes_per_memory_byte: perByte,
    },
    rows: [
      { label: "snapshot_ms_1m_words", value: fmt(m1.snapshotMs), note: `Session.snapshot() of a suspended root with ${fmt(BIG_WORDS)} words of memory (target <= 10)` },
      { label: "restore_ms_1m_words", value: fmt(m1.restoreMs), note: "Session.fromImage(): decode and verify the same image (target <= 10)" },
      row("snapshot_1m_vs_floor", m1.snapshotVsFloor, `${fmt(m1.snapshotMs)} ms; floor (copy + SHA-256 of the ${fmt(image.length)} bytes) ${fmt(m1.floorMs)} ms`),
      row("restore_1m_vs_floor", m1.restoreVsFloor, `${fmt(m1.restoreMs)} ms`),
      row("small_snapshot_vs_floor", k1.snapshotVsFloor, `1k words: ${fmt(k1.snapshotMs * 1e3)} µs; floor ${fmt(k1.floorMs * 1e3)} µs (target <= 5)`),
      row("small_restore_vs_floor", k1.restoreVsFloor, `${fmt(k1.restoreMs * 1e3)} µs (target <= 5)`),
      row("tree_snapshot_vs_floor", t1.snapshotVsFloor, `${TREE_CHILDREN + 1} processes, ${fmt(treeImage.length)} bytes: ${fmt(t1.snapshotMs)} ms; floor ${fmt(t1.floorMs * 1e3)} µs (target <= 5)`),
      row("tree_restore_vs_floor", t1.restoreVsFloor, `${fmt(t1.restoreMs)} ms (target <= 5)`),
      { label: "tiny_image_bytes", value: fmt(tinyBytes), note: "a 10-instruction loop suspended out of gas, trace included (target <= 1024)" },
      {
        label: "image_bytes_per_memory_byte",
        value: fmt(perByte, 5),
        note: `${fmt(image.length)} image bytes for ${fmt(BIG_WORDS * 4)} bytes of memory (target <= 1.05)`,
      },
    ],
  };
}

function row(label: string, ratio: number, note: string): { label: string; value: string; note: string } {
  return { label, value: `${fmt(ratio)}x`, note };
}

export const imagesGroup: BenchGroup = { name: "images", title: "Images (host snapshot and restore)", run: runImages };

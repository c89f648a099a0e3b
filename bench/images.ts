// Images (issue 3): the host's snapshot and restore of a suspended process
// holding 1M words of linear memory (encode the image; decode and verify it
// into a new session), the size of a suspended tiny loop's image, and image
// bytes per byte of guest memory.

import { Session } from "../src/index.js";
import { BENCH_MEM, type BenchContext, type BenchGroup, type GroupResult, compile, fmt, median, rounds } from "./harness.js";

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

const quiet = (): void => {};

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
  const big = suspended(BIG_RASM, "image_1m", 12 * BIG_WORDS + 10_000, [BIG_WORDS]);
  const mem = big.root.mem.subarray(0, big.root.memSize);
  if (big.root.memSize !== BIG_WORDS || mem[BIG_WORDS - 1] !== Math.imul(BIG_WORDS - 1, -1640531535))
    throw new Error(`bench images: the process holds ${big.root.memSize} words, not the ${BIG_WORDS} filled ones`);
  const image = big.snapshot();

  // Correctness once, untimed: restoring gives the same memory, and re-encoding the same bytes.
  const back = Session.fromImage(image, { stdout: quiet });
  if (!sameWords(back.root.mem.subarray(0, back.root.memSize), mem)) throw new Error("bench images: restored memory differs");
  const again = back.snapshot();
  if (again.length !== image.length || !again.every((b, i) => b === image[i])) throw new Error("bench images: re-encoding gives other bytes");

  ctx.progress("images: snapshot / restore 1M words");
  // Short operations: more rounds than usual for a steady median.
  const r = rounds(
    {
      snapshot: () => big.snapshot().length,
      restore: () => Session.fromImage(image, { stdout: quiet }).root.memSize,
    },
    { reps: Math.max(5, ctx.reps * 3), warmup: 3 },
  );
  const snapshotMs = median(r.snapshot);
  const restoreMs = median(r.restore);
  const perByte = image.length / (BIG_WORDS * 4);

  ctx.progress("images: tiny loop");
  const tiny = suspended(TINY_RASM, "image_tiny", 1000, []);
  const tinyBytes = tiny.snapshot().length;

  return {
    metrics: {
      snapshot_ms_1m_words: snapshotMs,
      restore_ms_1m_words: restoreMs,
      tiny_image_bytes: tinyBytes,
      image_bytes_per_memory_byte: perByte,
    },
    rows: [
      { label: "snapshot_ms_1m_words", value: fmt(snapshotMs), note: `Session.snapshot() of a suspended root with ${fmt(BIG_WORDS)} words of memory (target <= 10)` },
      { label: "restore_ms_1m_words", value: fmt(restoreMs), note: "Session.fromImage(): decode and verify the same image (target <= 10)" },
      { label: "tiny_image_bytes", value: fmt(tinyBytes), note: "a 10-instruction loop suspended out of gas, trace included (target <= 1024)" },
      {
        label: "image_bytes_per_memory_byte",
        value: fmt(perByte, 5),
        note: `${fmt(image.length)} image bytes for ${fmt(BIG_WORDS * 4)} bytes of memory (target <= 1.05)`,
      },
    ],
  };
}

export const imagesGroup: BenchGroup = { name: "images", title: "Images (host snapshot and restore)", run: runImages };

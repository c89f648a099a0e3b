// Gas calibration (DESIGN §2: "costs should be proportional to the CPU time an
// instruction actually takes; a calibration benchmark shows how close they
// are").
//
// For every instruction group, a loop runs an unrolled body made of that
// group's instructions (fed by as few stack or local instructions as
// possible) and is timed side by side with the bare loop at the same
// iteration count. The differences in time and in gas (read from the run, so
// bulk and process costs are whatever the schedule charges) give ns per gas
// unit for that group's mix.
//
// If gas were exactly proportional to time, every group would show the same
// ns/gas; `gas_calibration_spread` is max / min over the groups. (Pricing the
// feeding instructions separately and subtracting them was tried: the
// difference of two noisy figures made the cheap groups unstable, and fused
// pairs in the interpreter make the parts not add up anyway.)

import type { SessionOptions } from "../src/session.js";
import type { Module } from "../src/vm/module.js";
import { type BenchContext, type BenchGroup, type GroupResult, type Row, I32_MAX, calibrateSize, compile, fmt, median, rounds, runGuest } from "./harness.js"; 

/** A time difference below this is not a measurement of the group (compiled code can make a group free). */
const MIN_MEASURABLE_MS = 1;

/** Copies of the body per loop iteration (amortizes the loop's own instructions). */
const UNROLL = 8;

/** Smallest gas of loop bodies a measurement is sized from (about 5 ms of cheap instructions). */
const MIN_GAS = 1_000_000;

interface CalCase {
  name: string;
  /** The instructions the group is about (for the table). */
  ops: string;
  /** One copy of the body; `k` makes labels unique. Must leave the stack as it found it. */
  body: (k: number) => string;
  /** Runs once before the loop (may leave words on the stack for the body to work on). */
  setup?: string;
  functions?: string;
  caps?: string;
}

/** A child that yields 1 forever; handle in local 6, resumed once so RESULT works. */
const YIELDER_SETUP = `
        PUSH 0
        PUSH 0
        PUSH ${I32_MAX}
        PUSH 4096
        PUSH 0
        PUSH 0
        SPAWN yielder
        LTEE 6
        RESUME
        POP`;
const YIELDER_FN = `
.func yielder 0
again:  PUSH 1
        YIELD
        JMP again`;

/** Two words on the stack for OVER-fed binary operations: a b -> a (b op a). */
const PAIR = "LGET 1\nLGET 2";

const CASES: readonly CalCase[] = [
  { name: "stack", ops: "PUSH DUP SWAP OVER POP", body: () => "PUSH 1\nDUP\nSWAP\nOVER\nPOP\nPOP\nPOP" },
  { name: "locals", ops: "LGET LTEE LSET LINC", body: () => "LGET 1\nLTEE 3\nLSET 4\nLINC 4 1" },
  { name: "arith", ops: "ADD SUB MUL ADDI NEG (+OVER)", body: () => "OVER\nADD\nOVER\nSUB\nOVER\nMUL\nADDI 3\nNEG", setup: PAIR },
  { name: "divide", ops: "DIV REM (+LGET LSET)", body: () => "LGET 1\nLGET 2\nDIV\nLSET 3\nLGET 1\nLGET 2\nREM\nLSET 3" },
  {
    name: "bitwise",
    ops: "AND OR XOR SHL SHR SHRU NOT (+OVER)",
    body: () => "OVER\nAND\nOVER\nOR\nOVER\nXOR\nOVER\nSHL\nOVER\nSHR\nOVER\nSHRU\nNOT",
    setup: PAIR,
  },
  {
    name: "compare",
    ops: "EQ NE LT LE GT GE EQZ (+OVER)",
    body: () => "OVER\nEQ\nOVER\nNE\nOVER\nLT\nOVER\nLE\nOVER\nGT\nOVER\nGE\nEQZ",
    setup: PAIR,
  },
  { name: "jumps", ops: "JMP JZ JNZ (+LGET)", body: (k) => `JMP a${k}\na${k}: LGET 1\nJZ b${k}\nb${k}: LGET 1\nJNZ c${k}\nc${k}:` },
  {
    name: "calls",
    ops: "CALL RET (+LGET LSET)",
    body: () => "LGET 1\nCALL ident\nLSET 3",
    functions: ".func ident 1\n        LGET 0\n        RET",
  },
  { name: "memory", ops: "LOAD STORE (+LGET)", body: () => "LGET 5\nLGET 5\nLOAD 0\nSTORE 1" },
  {
    name: "bulk",
    ops: "MFILL MCOPY of 256 words",
    body: () => "LGET 5\nPUSH 7\nPUSH 256\nMFILL\nLGET 5\nADDI 256\nLGET 5\nPUSH 256\nMCOPY",
  },
  { name: "budget", ops: "GASLEFT MEMLEFT (+POP)", body: () => "GASLEFT\nPOP\nMEMLEFT\nPOP" },
  {
    name: "child",
    ops: "STATUS REFUEL RESULT (+LGET PUSH POP)",
    body: () => "LGET 6\nSTATUS\nPOP\nLGET 6\nPUSH 0\nPUSH 0\nREFUEL\nLGET 6\nRESULT\nPOP",
    setup: YIELDER_SETUP,
    functions: YIELDER_FN,
  },
  {
    name: "switch",
    ops: "RESUME YIELD (+LGET POP; PUSH JMP in the child)",
    body: () => "LGET 6\nRESUME\nPOP",
    setup: YIELDER_SETUP,
    functions: YIELDER_FN,
  },
  {
    name: "spawn",
    ops: "SPAWN RESUME RESULT KILL (+PUSH LGET POP; child PUSH RET)",
    body: () =>
      "PUSH 0\nPUSH 0\nPUSH 1000\nPUSH 256\nPUSH 0\nPUSH 0\nSPAWN tiny\nLTEE 3\nRESUME\nPOP\nLGET 3\nRESULT\nPOP\nLGET 3\nKILL",
    functions: ".func tiny 0\n        PUSH 1\n        RET",
  },
  {
    name: "cap",
    ops: "CAP io.print of 0 words (+PUSH POP)",
    body: () => "PUSH 0\nPUSH 0\nCAP io.print 2\nPOP",
    caps: ".cap io.print",
  },
];

/** Locals: 0 i, 1 a, 2 b, 3-4 scratch, 5 memory scratch base, 6 child handle, 7 n. */
function program(c: CalCase | null): string {
  const body = c ? Array.from({ length: UNROLL }, (_, k) => c.body(k)).join("\n") : "";
  return `
.module cal_${c?.name ?? "bare"}
${c?.caps ?? ""}
.func main 0 8
        PUSH 0
        LOAD 1
        LSET 7
        PUSH 12345
        LSET 1
        PUSH 7
        LSET 2
        PUSH 600
        MGROW
        LSET 5
${c?.setup ?? ""}
top:
${body}
        LINC 0 1
        LGET 0
        LGET 7
        LT
        JNZ top
        PUSH 0
        RET
${c?.functions ?? ""}
`;
}

/** The interpreter only: what gas is priced against. */
const INTERPRETED: SessionOptions = { tiering: { enabled: false } };

/** ns per gas of one group in the tier `opts` choose: body loop minus bare loop, side by side. */
function nsPerGas(ctx: BenchContext, bare: Module, m: Module, n: number, opts: SessionOptions): { ns: number; dgas: number; dt: number } {
  const r = rounds({ bare: () => runGuest(bare, [n], opts), body: () => runGuest(m, [n], opts) }, { reps: ctx.reps, warmup: 1 });
  // Median over rounds of the difference of runs made back to back.
  const dt = median(r.body.map((x, i) => x - r.bare[i]));
  const dgas = runGuest(m, [n], opts).gasUsed - runGuest(bare, [n], opts).gasUsed;
  return { ns: (dt * 1e6) / dgas, dgas, dt };
}

function spreadOf(groups: readonly { name: string; ns: number }[]): { spread: number; max: { name: string; ns: number }; min: { name: string; ns: number } } {
  const valid = groups.filter((g) => g.ns > 0);
  const max = valid.reduce((a, b) => (b.ns > a.ns ? b : a));
  const min = valid.reduce((a, b) => (b.ns < a.ns ? b : a));
  return { spread: max.ns / min.ns, max, min };
}

/**
 * Prices are calibrated against the interpreter, the tier every instruction
 * can run in. The compiled tier (src/vm/jit.ts) runs the cheap instructions
 * many times faster and the process and host instructions no faster, so its
 * spread is wider: gas then over-charges cheap code, the safe direction.
 */
export function runCalibration(ctx: BenchContext): GroupResult {
  const bare = compile(program(null), "cal_bare");
  const rows: Row[] = [];
  const interpreted: { name: string; ns: number }[] = [];
  const compiled: { name: string; ns: number }[] = [];
  for (const c of CASES) {
    ctx.progress(`calibration: ${c.name}`);
    const m = compile(program(c), `cal_${c.name}`);
    // Start sizing at >= MIN_GAS of bodies, so a probe slowed by a busy machine cannot pick a tiny size.
    const perIteration = (runGuest(m, [1001]).gasUsed - runGuest(m, [1]).gasUsed) / 1000;
    const start = Math.max(64, Math.ceil((MIN_GAS * ctx.scale) / perIteration));
    const n = calibrateSize((k) => runGuest(m, [k], INTERPRETED), start, 40 * ctx.scale + 5);
    const i = nsPerGas(ctx, bare, m, n, INTERPRETED);
    const j = nsPerGas(ctx, bare, m, n, {});
    interpreted.push({ name: c.name, ns: i.ns });
    // A group the compiled code makes (nearly) free is left out of its spread: its time is noise.
    compiled.push({ name: c.name, ns: j.dt >= MIN_MEASURABLE_MS ? j.ns : 0 });
    const show = (ns: number): string => (ns > 0 ? fmt(ns) : "~0");
    rows.push({
      label: `ns_per_gas_${c.name}`,
      value: show(i.ns),
      note: `${c.ops}: ${fmt(i.dgas)} gas in ${fmt(i.dt)} ms; compiled ${show(j.ns)}`,
    });
  }
  const a = spreadOf(interpreted);
  const b = spreadOf(compiled);
  rows.push(
    { label: "gas_calibration_spread", value: `${fmt(a.spread)}x`, note: `interpreter, max/min ns per gas: ${a.max.name} ${fmt(a.max.ns)} / ${a.min.name} ${fmt(a.min.ns)}` },
    {
      label: "gas_calibration_spread_compiled",
      value: `${fmt(b.spread)}x`,
      note: `compiled tier: ${b.max.name} ${fmt(b.max.ns)} / ${b.min.name} ${fmt(b.min.ns)} (gas over-charges compiled code)`,
    },
  );
  const metrics: Record<string, number> = { gas_calibration_spread: a.spread, gas_calibration_spread_compiled: b.spread };
  for (const g of interpreted) if (g.ns > 0) metrics[`ns_per_gas_${g.name}`] = g.ns;
  return { metrics, rows };
}

export const calibrationGroup: BenchGroup = { name: "calibrate", title: "Gas calibration (ns per gas unit, by group)", run: runCalibration };

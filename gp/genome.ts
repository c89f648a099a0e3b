// Genomes: linear lists of genes over the VM's own instruction set. A gene is
// either one safe zero-operand VM instruction (ADD, DUP, LT, ...) or a small
// template that compiles to a fixed VM code shape (PUSH c, GET local, MIN,
// IF/ELSE/END blocks, bounded loops, printing). compile.ts turns a genome into
// a module that verifies by construction. The gene table below is the single
// source of truth for gene names, operands and families.

import { OPS, Op, newWords } from "../src/internals.js";
import type { Rng } from "./random.js";

/** Gene kinds. A genome stores (kind, arg) pairs. */
export const enum G {
  /** One zero-operand VM instruction; arg = opcode. */
  Op = 0,
  Push = 1,
  AddI = 2,
  Get = 3,
  Set = 4,
  Inc = 5,
  Min = 6,
  Max = 7,
  Nand = 8,
  Nor = 9,
  If = 10,
  Else = 11,
  End = 12,
  Loop = 13,
  Each = 14,
  While = 15,
  Index = 16,
  Elem = 17,
  Load = 18,
  Store = 19,
  Recurse = 20,
  PrintI = 21,
  PrintC = 22,
  PrintS = 23,
  Elem2 = 24,
  OutV = 25,
  OutNew = 26,
  Out = 27,
}

/** What a gene's argument means. */
export type ArgKind = "none" | "opcode" | "const" | "local" | "offset" | "string" | "output";

export interface GeneInfo {
  readonly name: string;
  readonly arg: ArgKind;
  readonly doc: string;
}

// prettier-ignore
const GENES: readonly GeneInfo[] = [
  { name: "OP",      arg: "opcode", doc: "one zero-operand VM instruction (shown by its own name)" },
  { name: "PUSH",    arg: "const",  doc: "PUSH c" },
  { name: "ADDI",    arg: "const",  doc: "ADDI c" },
  { name: "GET",     arg: "local",  doc: "LGET l (inputs are locals 0..k-1, scratch locals follow)" },
  { name: "SET",     arg: "local",  doc: "LSET l" },
  { name: "INC",     arg: "local",  doc: "LINC l 1" },
  { name: "MIN",     arg: "none",   doc: "a b -> min(a, b): OVER OVER GT JZ +1 SWAP POP" },
  { name: "MAX",     arg: "none",   doc: "a b -> max(a, b): OVER OVER LT JZ +1 SWAP POP" },
  { name: "NAND",    arg: "none",   doc: "AND EQZ" },
  { name: "NOR",     arg: "none",   doc: "OR EQZ" },
  { name: "IF",      arg: "none",   doc: "pop c; run the then-part if c != 0, else the else-part; both end at the same height (the lower one is padded with zeros)" },
  { name: "ELSE",    arg: "none",   doc: "starts the else-part of the innermost IF" },
  { name: "END",     arg: "none",   doc: "closes the innermost open block" },
  { name: "LOOP",    arg: "none",   doc: "pop n; run the body n times (INDEX counts n-1 down to 0)" },
  { name: "EACH",    arg: "none",   doc: "fold over the input vector: push an accumulator 0; for each element push it and run the body, whose top value is the new accumulator (INDEX is the position)" },
  { name: "WHILE",   arg: "none",   doc: "pop c; while c != 0 run the body, whose top value is the next c" },
  { name: "INDEX",   arg: "none",   doc: "push the innermost LOOP/EACH counter" },
  { name: "ELEM",    arg: "none",   doc: "i -> input vector element i (LOAD 1; out of range faults)" },
  { name: "LOAD",    arg: "offset", doc: "LOAD k" },
  { name: "STORE",   arg: "offset", doc: "STORE k" },
  { name: "RECURSE", arg: "none",   doc: "CALL main (a fresh activation of the whole program)" },
  { name: "PRINTI",  arg: "none",   doc: "pop v; append its decimal digits to the output string" },
  { name: "PRINTC",  arg: "none",   doc: "pop v; append the character with code v" },
  { name: "PRINTS",  arg: "string", doc: "append the problem's string constant s" },
  { name: "ELEM2",   arg: "none",   doc: "i -> second input vector's element i (LOAD at the second vector)" },
  { name: "OUTV",    arg: "none",   doc: "pop v; append v to the output vector (starting it empty if there was none)" },
  { name: "OUTNEW",  arg: "none",   doc: "make the output vector empty (a program that never writes one has no output)" },
  { name: "OUT",     arg: "output", doc: "pop v; integer output k := v" },
];

export const GENE_INFO: readonly GeneInfo[] = GENES;

/** Gene families a problem draws its genes from. */
export type Family =
  | "stack"
  | "arith"
  | "bits"
  | "cmp"
  | "minmax"
  | "logic"
  | "parity"
  | "const"
  | "locals"
  | "if"
  | "loop"
  | "each"
  | "while"
  | "memory"
  | "recurse"
  | "print"
  | "vecout"
  | "outs";

/** Zero-operand VM instructions a genome may hold, by family. Nothing touching processes, capabilities or the host. */
export const SAFE_OPS: Readonly<Record<string, readonly Op[]>> = {
  stack: [Op.POP, Op.DUP, Op.SWAP, Op.OVER],
  arith: [Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.REM, Op.NEG],
  bits: [Op.AND, Op.OR, Op.XOR, Op.NOT, Op.SHL, Op.SHR, Op.SHRU],
  cmp: [Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE, Op.EQZ],
  logic: [Op.AND, Op.OR],
  memory: [Op.MSIZE, Op.MGROW],
  recurse: [Op.RET],
};

/** 1 for each opcode in SAFE_OPS (a table: the genome compiler asks for every gene). */
const SAFE_TABLE = new Uint8Array(OPS.length);
for (const op of Object.values(SAFE_OPS).flat()) SAFE_TABLE[op] = 1;

export function isSafeOp(op: number): boolean {
  return op >= 0 && op < SAFE_TABLE.length && SAFE_TABLE[op] === 1;
}

/** A genome: (kind, arg) pairs. Immutable by convention once made. */
export type Genome = Int32Array;

export function geneCount(g: Genome): number {
  return g.length >> 1;
}

/** One entry of a problem's gene pool: a kind, an argument rule, a relative weight. */
export interface GeneTemplate {
  readonly kind: G;
  /** A fixed argument, or "erc": a fresh constant each time the gene is drawn. */
  readonly arg: number | "erc";
  readonly weight: number;
}

/** Everything needed to draw random genes for a problem. */
export interface GenePool {
  readonly templates: readonly GeneTemplate[];
  /** Constants an "erc" PUSH/ADDI may draw besides the uniform range. */
  readonly constants: readonly number[];
  /** Uniform range for ephemeral random constants. */
  readonly ercRange: readonly [number, number];
}

/** Cumulative weights, computed once per pool. */
export class GeneSampler {
  private readonly cumulative: Float64Array;
  private readonly total: number;

  constructor(readonly pool: GenePool) {
    this.cumulative = new Float64Array(pool.templates.length);
    let sum = 0;
    pool.templates.forEach((t, i) => {
      sum += t.weight;
      this.cumulative[i] = sum;
    });
    this.total = sum;
  }

  /** Draws one gene into out[at], out[at + 1]. */
  draw(rng: Rng, out: Int32Array, at: number): void {
    const x = rng.float() * this.total;
    const c = this.cumulative;
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (c[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    const t = this.pool.templates[lo];
    out[at] = t.kind;
    out[at + 1] = t.arg === "erc" ? this.constant(rng, t.kind === G.AddI) : t.arg;
  }

  /** A problem constant (negated half the time for ADDI, which has no SUBI) or a uniform one. */
  private constant(rng: Rng, signed: boolean): number {
    const { constants, ercRange } = this.pool;
    if (constants.length > 0 && rng.chance(0.5)) {
      const c = rng.pick(constants);
      return signed && rng.chance(0.5) ? -c | 0 : c;
    }
    return rng.range(ercRange[0], ercRange[1]);
  }

  /** A random genome of exactly n genes. */
  genome(rng: Rng, n: number): Genome {
    const g = newWords(2 * n);
    for (let i = 0; i < n; i++) this.draw(rng, g, 2 * i);
    return g;
  }
}

/** Text form of one gene: `ADD`, `PUSH 3`, `GET 0`, `PRINTS 1`. */
export function geneText(kind: number, arg: number): string {
  if (kind === G.Op) return OPS[arg]?.name ?? `OP?${arg}`;
  const info = GENES[kind];
  if (!info) return `?${kind}`;
  return info.arg === "none" ? info.name : `${info.name} ${arg}`;
}

/** Text form of a genome, one space-separated line. */
export function genomeText(g: Genome): string {
  const parts: string[] = [];
  for (let i = 0; i < g.length; i += 2) parts.push(geneText(g[i], g[i + 1]));
  return parts.join(" ");
}

const KIND_BY_NAME = new Map(GENES.map((g, i) => [g.name, i]));

/** Parses the text form back into a genome; throws an Error naming the bad token. */
export function parseGenome(text: string): Genome {
  const toks = text.trim().split(/\s+/).filter((t) => t.length > 0);
  const out: number[] = [];
  for (let i = 0; i < toks.length; i++) {
    const name = toks[i].toUpperCase();
    const kind = KIND_BY_NAME.get(name);
    if (kind !== undefined && kind !== G.Op) {
      if (GENES[kind].arg === "none") {
        out.push(kind, 0);
        continue;
      }
      const v = Number(toks[i + 1]);
      if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new Error(`gene ${name} needs an integer argument`);
      out.push(kind, v);
      i++;
      continue;
    }
    const op = OPS.findIndex((o) => o.name === name);
    if (op < 0 || !isSafeOp(op)) throw new Error(`unknown gene '${toks[i]}'`);
    out.push(G.Op, op);
  }
  return Int32Array.from(out);
}

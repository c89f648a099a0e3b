// Test helper: a guest program that builds a chain of processes, narrows the
// fs grants of each child on the way down, then has the deepest process call
// a host hook (the test's chance to change the disk after the narrowing) and
// make fs calls, each from a child of its own so that one refusal does not
// stop the others.

import type { CapHandler } from "../../src/caps/registry.js";
import type { Process } from "../../src/process/process.js";
import { StatusCode } from "../../src/vm/opcodes.js";
import { start } from "./asm.js";

export const FS_FAMILIES = ["fs.read", "fs.write", "fs.list", "fs.stat", "fs.mkdir", "fs.remove", "fs.rename"] as const;
export type FsFamily = (typeof FS_FAMILIES)[number];

/** One fs call: its family and its arguments (text, or words for fs.write's data). */
export interface FsCall {
  cap: FsFamily;
  args: (string | number[])[];
}

export interface ChainSpec {
  /** Narrowing of each level's child, root's child first: a relative path, or null for none. */
  narrows: (string | null)[];
  calls: FsCall[];
}

export interface CallOutcome {
  call: FsCall;
  status: "done" | "fault" | "not_run";
  /** The int result (fs.write, fs.stat, ...) or the array result's length. */
  value: number;
  /** An array result (fs.read, fs.list). */
  words: number[];
  fault: string;
}

export interface ChainRun {
  /** How the root ended (a refused NARROW below the root faults only the process that ran it). */
  status: string;
  fault?: string;
  /** Whether the deepest process was reached (the hook ran). */
  reached: boolean;
  /** Faults of the processes on the chain ("kind: detail"), root first; "" for those that did not fault. */
  faults: string[];
  /** Grants of each process on the chain, root first (as they were when the calls ran). */
  chain: string[][];
  outcomes: CallOutcome[];
}

const HOOK = "t.hook";
const GRANT_ALL = (1 << (FS_FAMILIES.length + 1)) - 1;

const words = (a: string | number[]): number[] => (typeof a === "string" ? [...a].map((c) => c.codePointAt(0) as number) : a);

/** The `.rasm` text of a chain program. Every string lives in the root's memory, copied to each child. */
export function chainProgram(spec: ChainSpec): string {
  const table: number[] = [];
  const place = (a: string | number[]): [number, number] => {
    const w = words(a);
    const at = 1 + table.length;
    table.push(...w);
    return [at, w.length];
  };
  const narrowAt = spec.narrows.map((n) => (n === null ? null : place(n)));
  const callArgs = spec.calls.map((c) => c.args.map(place));
  const size = 1 + table.length;
  const out: string[] = [...FS_FAMILIES.map((f) => `.cap ${f}`), `.cap ${HOOK}`];
  const spawn = (fn: string): string[] => ["PUSH 0", `PUSH ${size}`, "PUSH 100000000", "PUSH 1000000", `PUSH ${GRANT_ALL}`, "PUSH 0", `SPAWN ${fn}`];
  const depth = spec.narrows.length;
  for (let level = 0; level <= depth; level++) {
    out.push(`.func ${level === 0 ? "main" : `level${level}`} 0 1`);
    if (level === 0) {
      out.push(`  PUSH ${table.length}`, "  MGROW", "  POP");
      table.forEach((w, i) => out.push(`  PUSH ${i + 1}`, `  PUSH ${w}`, "  STORE 0"));
    }
    if (level < depth) {
      out.push(...spawn(`level${level + 1}`).map((l) => `  ${l}`), "  LSET 0");
      const at = narrowAt[level];
      if (at !== null) for (let c = 0; c < FS_FAMILIES.length; c++) out.push("  LGET 0", `  PUSH ${at[0]}`, `  PUSH ${at[1]}`, `  NARROW ${c}`);
      out.push("  LGET 0", "  RESUME", "  POP", "  PUSH 0", "  RET");
    } else {
      out.push(`  CAP ${HOOK} 0`, "  POP");
      spec.calls.forEach((_, j) => out.push(...spawn(`call${j}`).map((l) => `  ${l}`), "  RESUME", "  POP"));
      out.push("  PUSH 0", "  RET");
    }
  }
  spec.calls.forEach((c, j) => {
    out.push(`.func call${j} 0 0`);
    for (const [at, n] of callArgs[j]) out.push(`  PUSH ${at}`, `  PUSH ${n}`);
    out.push(`  CAP ${c.cap} ${2 * c.args.length}`, "  RET");
  });
  return out.join("\n");
}

/** Runs a chain program with the root holding every fs family on `scope`; `hook` runs on the disk before the calls. */
export function runChain(spec: ChainSpec, scope: string, hook: () => void = () => {}): ChainRun {
  let reached = false;
  const hookHandler: CapHandler = {
    sig: { args: [], result: "int" },
    call: () => {
      reached = true;
      hook();
      return 0;
    },
  };
  const s = start(chainProgram(spec), {
    caps: [...FS_FAMILIES.map((f) => `${f}:${scope}`), HOOK],
    handlers: { [HOOK]: hookHandler },
    gas: 1e9,
    mem: 1 << 20,
  });
  const r = s.run();
  const chain: string[][] = [];
  const faults: string[] = [];
  let p: Process | undefined = s.root;
  let leaf: Process | null = null;
  for (let level = 0; p !== undefined; level++) {
    chain.push([...p.caps]);
    faults.push(p.status === StatusCode.FAULT ? `${p.faultKind}: ${p.faultDetail}` : "");
    if (level === spec.narrows.length) leaf = p;
    p = level < spec.narrows.length ? p.children.get(1) : undefined;
  }
  const outcomes = spec.calls.map((call, j): CallOutcome => {
    const c = leaf?.children.get(j + 1);
    if (!c) return { call, status: "not_run", value: 0, words: [], fault: "" };
    const done = c.status === StatusCode.DONE;
    return {
      call,
      status: done ? "done" : "fault",
      value: c.value,
      words: Array.from(c.inbox ?? []),
      fault: done ? "" : `${c.faultKind}: ${c.faultDetail}`,
    };
  });
  return { status: r.status, fault: r.fault, reached, faults, chain, outcomes };
}

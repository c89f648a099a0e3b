// The disassembler: ModuleDef -> `.rasm` text that assembles back to the same
// code. With source texts it interleaves the source lines the code came from.
// `formatInstruction` is shared with the step tracer.

import type { ModuleDef } from "../src/vm/module.js";
import { sourceAt } from "../src/vm/module.js";
import { OPS, WIDTH } from "../src/vm/opcodes.js";

/** One instruction as text, e.g. `CALL fib` or `JZ L12`. */
export function formatInstruction(m: ModuleDef, pc: number): string {
  const op = m.code[pc];
  const info = OPS[op];
  if (!info) return `.word ${op}`;
  const parts = [info.name];
  info.operands.forEach((kind, i) => {
    const v = m.code[pc + 1 + i];
    if (kind === "label") parts.push(`L${v}`);
    else if (kind === "func") parts.push(m.functions[v]?.name ?? `#${v}`);
    else if (kind === "cap") parts.push(m.caps[v] ?? `#${v}`);
    else parts.push(String(v));
  });
  return parts.join(" ");
}

export interface DisasmOptions {
  /** Source texts by file name, to interleave source lines. */
  sources?: ReadonlyMap<string, string>;
  /** Prefix each instruction with its pc as a comment. */
  pcs?: boolean;
}

export function disassemble(m: ModuleDef, opts: DisasmOptions = {}): string {
  const out: string[] = [`.module ${m.name}`];
  for (const c of m.caps) out.push(`.cap ${c}`);
  const sourceLines = new Map<string, string[]>();
  for (const [f, text] of opts.sources ?? []) sourceLines.set(f, text.split(/\r?\n/));
  let lastSource = "";
  for (const f of m.functions) {
    out.push("", `.func ${f.name} ${f.nparams} ${f.nlocals}`);
    const targets = new Set<number>();
    for (let pc = f.entry; pc < f.end; pc += WIDTH[m.code[pc]] ?? 1) {
      const info = OPS[m.code[pc]];
      info?.operands.forEach((k, i) => {
        if (k === "label") targets.add(m.code[pc + 1 + i]);
      });
    }
    for (let pc = f.entry; pc < f.end; pc += WIDTH[m.code[pc]] ?? 1) {
      if (sourceLines.size > 0) {
        const src = sourceAt(m, pc);
        const key = src ? `${src.file}:${src.line}` : "";
        if (src && key !== lastSource) {
          const text = sourceLines.get(src.file)?.[src.line - 1];
          if (text !== undefined) out.push(`  ; ${src.file}:${src.line}: ${text.trim()}`);
          lastSource = key;
        }
      }
      if (targets.has(pc)) out.push(`L${pc}:`);
      const pcNote = opts.pcs ? `  ; ${pc}` : "";
      out.push(`  ${formatInstruction(m, pc)}${pcNote}`);
    }
  }
  return out.join("\n") + "\n";
}

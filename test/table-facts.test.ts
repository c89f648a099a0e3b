// Every per-opcode fact is written once, in src/vm/opcodes.ts (and what an
// instruction computes, once, in src/vm/semantics.ts). These checks fail when
// a fact the table owns is written again as a literal elsewhere: a gas
// formula, a set of opcodes given as a numeric range, an instruction width or
// the size of a call frame. (The interpreter's generated cases are exempt:
// they are written from the table by scripts/gen-interpreter.ts, and
// test/interpreter-gen.test.ts keeps them current.)

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BEGIN, END } from "../scripts/gen-interpreter.js";

const ROOT = new URL("..", import.meta.url).pathname;

/** Source files under the given folders (relative to the repository), as [path, text without generated code]. */
function sources(...dirs: string[]): [string, string][] {
  const out: [string, string][] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(path);
      else if (path.endsWith(".ts")) out.push([path, withoutGenerated(readFileSync(join(ROOT, path), "utf8"))]);
    }
  };
  for (const d of dirs) walk(d);
  return out;
}

function withoutGenerated(text: string): string {
  const b = text.indexOf(BEGIN);
  return b < 0 ? text : text.slice(0, b) + text.slice(text.indexOf(END));
}

/** Lines of the files matching `re`, as "path:line: text". */
function hits(files: [string, string][], re: RegExp): string[] {
  return files.flatMap(([path, text]) => text.split("\n").flatMap((l, i) => (re.test(l) ? [`${path}:${i + 1}: ${l.trim()}`] : [])));
}

describe("facts the opcode table owns are not restated", () => {
  const runtime = sources("src", "lang");

  it("dynamic gas is computed only by wordGas and byteGas (opcodes.ts)", () => {
    const formula = /Math\.ceil\([^)]*\/\s*(WORDS_PER_GAS|BYTES_PER_GAS|16|4)\b|\/\s*(16|WORDS_PER_GAS|BYTES_PER_GAS)\)/;
    expect(hits(runtime.filter(([p]) => p !== "src/vm/opcodes.ts"), formula)).toEqual([]);
  });

  it("no set of opcodes is given as a numeric range of opcode numbers", () => {
    expect(hits(runtime, /\bop\s*(<|<=|>|>=)\s*Op\.|Op\.\w+\s*(<|<=|>|>=)\s*op\b/)).toEqual([]);
  });

  it("the VM, the assembler and the disassembler step over instructions by WIDTH, not by literal widths", () => {
    const vm = [...sources("src/vm"), ...runtime.filter(([p]) => p === "lang/asm.ts" || p === "lang/disasm.ts")];
    expect(hits(vm, /\bpc\s*\+=\s*\d|\bpc\s*=\s*pc\s*\+\s*\d|\bpc \+ [2-9]\b/)).toEqual([]);
  });

  it("the VM names the call frame's size and fields (Frame, FRAME_WORDS) instead of writing 3", () => {
    expect(hits(sources("src/vm"), /\bfp\s*[-+]=?\s*\d|frames\[fp \+ \d\]|[-+]= 3;/)).toEqual([]);
  });

  it("the process tree, images and the debugger read frames by their named fields (Frame), not by offsets", () => {
    const above = [...sources("src/process"), ...sources("src/image"), ...sources("src/debug")];
    expect(hits(above, /\bfp\s*[-+]=?\s*\d|frames\[[^\]]*[-+]\s*\d\]|frames\[\d\]|[-+]=\s*3;|\/\s*3\b/)).toEqual([]);
  });
});

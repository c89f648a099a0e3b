// The assembler: `.rasm` text -> ModuleDef. One instruction per line; the
// format is documented in spec/assembly.md and is what `rar disasm` prints.
//
//   ; comment                      .module NAME
//   .cap io.print                  .func NAME NPARAMS [NLOCALS]
//   loop:  LGET 0                  CALL fib     CAP io.print 2     JZ done

import { RarError } from "../src/vm/errors.js";
import type { FunctionDef, ModuleDef } from "../src/vm/module.js";
import { OPS, opByName } from "../src/vm/opcodes.js";

interface Fixup {
  at: number;
  label: string;
  fn: number;
  line: number;
  col: number;
}

class AsmError extends RarError {
  constructor(file: string, line: number, col: number, message: string) {
    super("compile.asm", message, `${file}:${line}:${col}`);
  }
}

/** Parses an integer literal: decimal or 0x hex, optional sign, underscores allowed; must fit i32 (or u32 for hex). */
export function parseIntLiteral(text: string): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)$/.exec(text);
  if (!m) return undefined;
  const digits = m[2].replace(/_/g, "");
  const v = Number(digits.startsWith("0x") || digits.startsWith("0X") ? digits : digits);
  const signed = m[1] === "-" ? -v : v;
  if (!Number.isSafeInteger(signed) || signed < -0x80000000 || signed > 0xffffffff) return undefined;
  return signed | 0;
}

/** Whether an operand naming a function or capability would be read as an index instead (`12`, `#3`). */
function readsAsIndex(name: string): boolean {
  return parseIntLiteral(name.startsWith("#") ? name.slice(1) : name) !== undefined;
}

export function assemble(text: string, file = "<asm>"): ModuleDef {
  const code: number[] = [];
  const functions: FunctionDef[] = [];
  const caps: string[] = [];
  const map: number[] = [];
  let name = file.replace(/^.*[\\/]/, "").replace(/\.rasm$/, "");
  const fnIndex = new Map<string, number>();
  const pending: { name: string; nparams: number; nlocals: number; entry: number; line: number }[] = [];
  let labels = new Map<string, number>();
  let fixups: Fixup[] = [];
  const funcRefs: Fixup[] = [];

  const closeFunction = (): void => {
    const f = pending[pending.length - 1];
    if (!f) return;
    for (const fx of fixups) {
      const target = labels.get(fx.label);
      if (target === undefined) throw new AsmError(file, fx.line, fx.col, `unknown label '${fx.label}'`);
      code[fx.at] = target;
    }
    if (code.length === f.entry) throw new AsmError(file, f.line, 1, `function '${f.name}' has no instructions`);
    functions.push({ name: f.name, nparams: f.nparams, nlocals: f.nlocals, entry: f.entry, end: code.length });
    labels = new Map();
    fixups = [];
  };

  const lines = text.split(/\r?\n/);
  for (let li = 0; li < lines.length; li++) {
    const lineNo = li + 1;
    let line = lines[li];
    const semi = line.indexOf(";");
    if (semi >= 0) line = line.slice(0, semi);
    // Tokens with their columns.
    const toks: { t: string; col: number }[] = [];
    for (const m of line.matchAll(/\S+/g)) toks.push({ t: m[0], col: (m.index ?? 0) + 1 });
    let k = 0;
    while (k < toks.length && toks[k].t.endsWith(":") && toks[k].t.length > 1) {
      const label = toks[k].t.slice(0, -1);
      if (!/^[A-Za-z_.$][\w.$]*$/.test(label)) throw new AsmError(file, lineNo, toks[k].col, `bad label '${label}'`);
      if (pending.length === 0) throw new AsmError(file, lineNo, toks[k].col, "label outside a function");
      if (labels.has(label)) throw new AsmError(file, lineNo, toks[k].col, `label '${label}' defined twice`);
      labels.set(label, code.length);
      k++;
    }
    if (k >= toks.length) continue;
    const head = toks[k];
    const rest = toks.slice(k + 1);
    if (head.t.startsWith(".")) {
      switch (head.t) {
        case ".module":
          if (rest.length !== 1) throw new AsmError(file, lineNo, head.col, ".module takes one name");
          name = rest[0].t;
          break;
        case ".cap":
          if (rest.length !== 1) throw new AsmError(file, lineNo, head.col, ".cap takes one capability name");
          if (caps.includes(rest[0].t)) throw new AsmError(file, lineNo, rest[0].col, `capability '${rest[0].t}' declared twice`);
          if (readsAsIndex(rest[0].t)) throw new AsmError(file, lineNo, rest[0].col, `capability name '${rest[0].t}' would read as an index`);
          caps.push(rest[0].t);
          break;
        case ".func": {
          if (rest.length < 2 || rest.length > 3)
            throw new AsmError(file, lineNo, head.col, ".func takes NAME NPARAMS [NLOCALS]");
          const fname = rest[0].t;
          const np = parseIntLiteral(rest[1].t);
          const nl = rest.length === 3 ? parseIntLiteral(rest[2].t) : np;
          if (np === undefined || np < 0 || np > 255) throw new AsmError(file, lineNo, rest[1].col, "NPARAMS must be 0..255");
          if (nl === undefined || nl < np || nl > 65536)
            throw new AsmError(file, lineNo, rest[rest.length - 1].col, "NLOCALS must be at least NPARAMS");
          if (fnIndex.has(fname)) throw new AsmError(file, lineNo, rest[0].col, `function '${fname}' defined twice`);
          if (readsAsIndex(fname)) throw new AsmError(file, lineNo, rest[0].col, `function name '${fname}' would read as an index`);
          closeFunction();
          fnIndex.set(fname, pending.length);
          pending.push({ name: fname, nparams: np, nlocals: nl, entry: code.length, line: lineNo });
          break;
        }
        default:
          throw new AsmError(file, lineNo, head.col, `unknown directive '${head.t}'`);
      }
      continue;
    }
    if (pending.length === 0) throw new AsmError(file, lineNo, head.col, "instruction outside a function (.func first)");
    const op = opByName(head.t);
    if (op === undefined) throw new AsmError(file, lineNo, head.col, `unknown instruction '${head.t}'`);
    const info = OPS[op];
    if (rest.length !== info.operands.length)
      throw new AsmError(
        file,
        lineNo,
        head.col,
        `${info.name} takes ${info.operands.length} operand(s) (${info.operands.join(", ") || "none"}), got ${rest.length}`,
      );
    map.push(code.length, 0, lineNo, head.col);
    code.push(op);
    for (let i = 0; i < rest.length; i++) {
      const { t, col } = rest[i];
      const kind = info.operands[i];
      const num = parseIntLiteral(t.startsWith("#") ? t.slice(1) : t);
      if (kind === "label") {
        fixups.push({ at: code.length, label: t, fn: pending.length - 1, line: lineNo, col });
        code.push(0);
      } else if (kind === "func" && num === undefined) {
        funcRefs.push({ at: code.length, label: t, fn: pending.length - 1, line: lineNo, col });
        code.push(0);
      } else if (kind === "cap" && num === undefined) {
        const ci = caps.indexOf(t);
        if (ci < 0) throw new AsmError(file, lineNo, col, `capability '${t}' not declared (.cap ${t})`);
        code.push(ci);
      } else {
        if (num === undefined) throw new AsmError(file, lineNo, col, `expected an integer ${kind} operand, got '${t}'`);
        code.push(num);
      }
    }
  }
  closeFunction();
  if (functions.length === 0) throw new AsmError(file, 1, 1, "no functions (.func NAME NPARAMS [NLOCALS])");
  for (const fx of funcRefs) {
    const idx = fnIndex.get(fx.label);
    if (idx === undefined) throw new AsmError(file, fx.line, fx.col, `unknown function '${fx.label}'`);
    code[fx.at] = idx;
  }
  return {
    name,
    caps,
    functions,
    code: Int32Array.from(code),
    sourceMap: { files: [file], entries: Int32Array.from(map) },
  };
}

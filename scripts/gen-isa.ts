// Generates spec/isa.md from the opcode table (src/vm/opcodes.ts) and the
// constants the verifier and scheduler use, so the written instruction set
// cannot drift from the code. Run `npm run gen:spec` after changing the table;
// test/spec-isa.test.ts fails while spec/isa.md differs from isaMarkdown().
//
// The groups are the `// --- title` comments of the table in opcodes.ts. What
// the table does not hold as data (what n is in each bulk instruction's gas,
// how variable pops are derived) is written here; a bulk instruction without
// an entry gets the general rule, and an entry for an instruction that is not
// bulk (or not in the table) stops the generator.

import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PROCESS_WORDS } from "../src/process/process.js";
import { FRAME_WORDS, MODULE_LIMITS } from "../src/vm/module.js";
import { BYTES_PER_GAS, OPS, SPAWN_EXTRA, WORDS_PER_GAS, type OperandKind, type OpInfo } from "../src/vm/opcodes.js";
import { STATUSES } from "../src/vm/status.js";
import { MAX_CAP_ARGS, MAX_STACK } from "../src/vm/verify.js";

const TABLE_SOURCE = new URL("../src/vm/opcodes.ts", import.meta.url);
const OUTPUT = new URL("../spec/isa.md", import.meta.url);

/** How each operand kind is written in the instruction column, and what the verifier accepts. */
const OPERANDS: Readonly<Record<OperandKind, { sym: string; accepts: string }>> = {
  i32: { sym: "imm", accepts: "any word, -2^31..2^31-1" },
  local: { sym: "l", accepts: "a local slot of the current function: 0 <= l < nlocals" },
  label: { sym: "label", accepts: "an absolute pc inside the same function, at the start of an instruction" },
  func: { sym: "f", accepts: "a function index of the module: 0 <= f < number of functions" },
  cap: { sym: "c", accepts: "an index into the module's capability manifest: 0 <= c < manifest length" },
  count: { sym: "n", accepts: `a count of argument words: 0 <= n <= ${MAX_CAP_ARGS}` },
  link: { sym: "l", accepts: "an index into the module's linked-module digests: 0 <= l < number of links" },
};

/** Words popped by the instructions whose table entry says -1 (derived by the verifier). */
const VARIABLE_POP: Readonly<Record<string, string>> = {
  CALL: "nparams(f)",
  SPAWN: `nparams(f) + ${SPAWN_EXTRA}`,
  CAP: "n",
};

const ceil = (x: string, per: number): string => `⌈${x}/${per}⌉`;

/** The general bulk rule: what `wordGas(n)` in opcodes.ts charges for n words moved. */
const BULK_GENERAL = `${ceil("n", WORDS_PER_GAS)}, n = words moved`;

/** The variable part of each bulk instruction's gas, on top of its base cost. */
const BULK: Readonly<Record<string, string>> = {
  MGROW: `${ceil("n", WORDS_PER_GAS)}, n = words grown`,
  MCOPY: `${ceil("n", WORDS_PER_GAS)}, n = words copied`,
  MFILL: `${ceil("n", WORDS_PER_GAS)}, n = words filled`,
  SPAWN: `${ceil("len", WORDS_PER_GAS)}, len = words of the child's memory`,
  SPAWNC: `${ceil("len", WORDS_PER_GAS)} + ${ceil("clen", BYTES_PER_GAS)}, len = words of the child's memory, clen = code bytes`,
  SPAWNX: `${ceil("len", WORDS_PER_GAS)}, len = words of the child's memory`,
  CLOAD: `${ceil("n", WORDS_PER_GAS)}, n = words copied`,
  CSTORE: `${ceil("n", WORDS_PER_GAS)}, n = words copied`,
  CAP: `${ceil("w", WORDS_PER_GAS)}, w = argument words passed (an int counts 1, an array its length)`,
  SNAPSHOT: `${ceil("w", WORDS_PER_GAS)}, w = memUsed of the child (its subtree footprint)`,
  RESTORE: `${ceil("len", BYTES_PER_GAS)}, len = image bytes`,
  INBOX: `${ceil("n", WORDS_PER_GAS)}, n = inbox length`,
  ANSWERA: `${ceil("len", WORDS_PER_GAS)}, len = words of the answer`,
  NARROW: `${ceil("len", WORDS_PER_GAS)}, len = code points of the scope`,
  REQUEST: `${ceil("len", WORDS_PER_GAS)}, len = words put in the inbox (none for k = -2)`,
};

interface Group {
  title: string;
  ops: number[];
}

/** The table's groups, read from the `// --- title` comments that precede its rows. */
export function tableGroups(source: string): Group[] {
  const start = source.indexOf("const TABLE");
  const end = source.indexOf("\n];", start);
  if (start < 0 || end < 0) throw new Error("gen-isa: cannot find the TABLE in src/vm/opcodes.ts");
  const groups: Group[] = [];
  for (const line of source.slice(start, end).split("\n")) {
    const heading = /^\s*\/\/ --- (.+?)\s*$/.exec(line);
    if (heading) {
      groups.push({ title: heading[1], ops: [] });
      continue;
    }
    const row = /^\s*\{ name: "([A-Z0-9_]+)"/.exec(line);
    if (!row) continue;
    const index = OPS.findIndex((o) => o.name === row[1]);
    if (index < 0 || groups.length === 0) throw new Error(`gen-isa: row ${row[1]} is not in OPS or has no group`);
    groups[groups.length - 1].ops.push(index);
  }
  const order = groups.flatMap((g) => g.ops);
  if (order.length !== OPS.length || order.some((op, i) => op !== i))
    throw new Error("gen-isa: the grouped rows of opcodes.ts do not list OPS in order");
  return groups;
}

function checkTable(): void {
  const byName = new Map(OPS.map((o) => [o.name, o]));
  for (const name of Object.keys(VARIABLE_POP))
    if (!((byName.get(name)?.pop ?? 0) < 0)) throw new Error(`gen-isa: ${name} has a pop rule but no variable pop in the table`);
  for (const name of Object.keys(BULK))
    if (!byName.get(name)?.dynamic) throw new Error(`gen-isa: ${name} has a bulk rule but is not bulk in the table`);
}

const cell = (s: string): string => s.replace(/\|/g, "\\|");

function instruction(o: OpInfo): string {
  return "`" + [o.name, ...o.operands.map((k) => `${OPERANDS[k].sym}:${k}`)].join(" ") + "`";
}

function stackEffect(o: OpInfo): string {
  const pop = o.pop < 0 ? (VARIABLE_POP[o.name] ?? "(derived from the operands)") : String(o.pop);
  return `${pop} → ${o.push}`;
}

function gas(o: OpInfo): string {
  return o.dynamic ? `${o.gas} + ${BULK[o.name] ?? BULK_GENERAL}` : String(o.gas);
}

/** The text of spec/isa.md as the code defines it now. */
export function isaMarkdown(): string {
  checkTable();
  const groups = tableGroups(readFileSync(TABLE_SOURCE, "utf8"));
  const out: string[] = [];
  const p = (...lines: string[]): void => void out.push(...lines);

  p(
    "# rar instruction set",
    "",
    "<!-- Generated by scripts/gen-isa.ts from src/vm/opcodes.ts (`npm run gen:spec`). Do not edit by hand. -->",
    "",
    "This is the complete instruction set of the rar VM, generated from the opcode",
    "table in `src/vm/opcodes.ts`, the same table that drives the interpreter, the",
    "verifier, the assembler and the disassembler. How processes, budgets and",
    "capabilities behave is described in [semantics.md](semantics.md); the text",
    "format of code in [assembly.md](assembly.md).",
    "",
    "## Encoding",
    "",
    "A module's code is one array of 32-bit words (an `Int32Array`; little-endian",
    "bytes in a `.rmod` file). Each instruction is its opcode word followed by one",
    "word per operand, so an instruction occupies 1 + (number of operands) words.",
    "Functions tile the code array in order; a function's code is `code[entry..end)`.",
    "Jump targets are absolute pcs (indices into the code array) inside the same",
    "function. Opcode numbers are the `Code` column below; any other opcode word is",
    "rejected by the verifier.",
    "",
    "Operand kinds, as written in the `Instruction` column (`symbol:kind`) and as",
    "the verifier checks them before any code runs:",
    "",
    "| kind | symbol | the verifier accepts |",
    "| --- | --- | --- |",
  );
  for (const [kind, { sym, accepts }] of Object.entries(OPERANDS)) p(`| \`${kind}\` | \`${sym}\` | ${accepts} |`);
  p(
    "",
    "## Stack effects",
    "",
    "`pop → push` counts words taken from and put on the operand stack. In the",
    "semantics column, operands are named bottom to top: for `SUB`, `a b` means `b`",
    "is on top and the result is `a - b`. Three instructions pop a number of words",
    "that depends on an operand; the verifier derives it:",
    "",
  );
  for (const [name, rule] of Object.entries(VARIABLE_POP)) p(`- \`${name}\` pops ${rule}.`);
  p(
    "",
    "The verifier proves one operand-stack height at every instruction of a",
    `function (at most ${MAX_STACK} words), so no instruction checks for stack`,
    "underflow or overflow at run time.",
    "",
    "## Gas",
    "",
    "Every instruction has a base gas cost, charged before it runs. Bulk",
    "instructions add a cost proportional to the data they move: in general",
    `⌈n/${WORDS_PER_GAS}⌉ for n words (\`WORDS_PER_GAS\` = ${WORDS_PER_GAS}); the \`Gas\` column`,
    "gives each instruction's rule. An instruction whose whole cost does not fit in",
    "the remaining budget of every process on the chain from the root does not",
    "happen at all (see [semantics.md](semantics.md#the-intentional-resource-model)).",
    "",
    "## Instructions",
  );
  groups.forEach((g, gi) => {
    p("", `### ${gi + 1}. ${g.title}`, "", "| Code | Instruction | Words | Stack | Gas | Semantics |", "| ---: | --- | ---: | --- | --- | --- |");
    for (const i of g.ops) {
      const o = OPS[i];
      p(`| ${i} | ${instruction(o)} | ${1 + o.operands.length} | ${stackEffect(o)} | ${cell(gas(o))} | ${cell(o.doc)} |`);
    }
  });
  p(
    "",
    "## Status codes",
    "",
    "`RESUME` and `STATUS` push a child's status as one of these words:",
    "",
    "| Code | Name | Meaning |",
    "| ---: | --- | --- |",
  );
  for (const s of STATUSES) p(`| ${s.code} | \`${s.name}\` | ${s.meaning} |`);
  p(
    "",
    "## Constants",
    "",
    "| Name | Value | Meaning |",
    "| --- | ---: | --- |",
    `| \`WORDS_PER_GAS\` | ${WORDS_PER_GAS} | words moved per extra unit of gas in bulk instructions |`,
    `| \`FRAME_WORDS\` | ${FRAME_WORDS} | bookkeeping words of a call frame; a frame of f costs nlocals(f) + maxStack(f) + ${FRAME_WORDS} words of memory |`,
    `| \`PROCESS_WORDS\` | ${PROCESS_WORDS} | words charged for each process's own bookkeeping |`,
    `| \`MAX_STACK\` | ${MAX_STACK} | largest operand-stack height of one function's frame |`,
    `| \`MAX_CAP_ARGS\` | ${MAX_CAP_ARGS} | largest argument-word count of \`CAP\` |`,
    `| \`SPAWN_EXTRA\` | ${SPAWN_EXTRA} | words \`SPAWN\` pops besides the entry function's arguments |`,
    `| \`MODULE_LIMITS.caps\` | ${MODULE_LIMITS.caps} | largest capability manifest (one bit per entry in grant and trap masks) |`,
    "",
  );
  return out.join("\n");
}

/** Writes spec/isa.md. */
export function writeIsa(): void {
  writeFileSync(OUTPUT, isaMarkdown());
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeIsa();
  process.stdout.write(`wrote ${fileURLToPath(OUTPUT)}\n`);
}

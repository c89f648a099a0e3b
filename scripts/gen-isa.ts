// Generates spec/isa.md from the opcode table (src/vm/opcodes.ts) and the
// constants the verifier and scheduler use, so the written instruction set
// cannot drift from the code. Run `npm run gen:spec` after changing the table;
// test/spec-isa.test.ts fails while spec/isa.md differs from isaMarkdown().
//
// The groups are the `// --- title` comments of the table in opcodes.ts.
// Everything per instruction comes from the table: what its dynamic gas
// counts, how a variable pop is derived, the fault kinds it can raise.

import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PROCESS_WORDS } from "../src/process/process.js";
import { MODULE_LIMITS } from "../src/vm/module.js";
import { BYTES_PER_GAS, FREE_LEVELS, FRAME_WORDS, GAS_PER_LEVEL, OPS, SPAWN_EXTRA, WIDTH, WORDS_PER_GAS, type OperandKind, type OpInfo } from "../src/vm/opcodes.js";
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

/** Words popped by an instruction whose table entry derives them from an operand. */
function variablePop(o: OpInfo): string {
  const v = o.popFrom;
  if (v === undefined) return String(o.pop);
  const sym = OPERANDS[o.operands[v.operand]].sym;
  return `${v.as === "nparams" ? `nparams(${sym})` : sym}${v.plus > 0 ? ` + ${v.plus}` : ""}`;
}

const ceil = (x: string, per: number): string => `⌈${x}/${per}⌉`;

/** The variable part of an instruction's gas, on top of its base cost, with what its quantities count. */
function dynamicGas(o: OpInfo): string {
  const d = o.dynamic;
  if (d === undefined) return "";
  const parts: [string, number][] = [];
  if (d.words) parts.push([d.words[0], WORDS_PER_GAS]);
  if (d.bytes) parts.push([d.bytes[0], BYTES_PER_GAS]);
  const terms = parts.map(([x, per]) => ceil(x, per));
  if (d.levels) terms.push(`${GAS_PER_LEVEL}·max(0, ${d.levels[0]} − ${FREE_LEVELS})`);
  const counts = [d.words, d.bytes, d.levels].flatMap((q) => (q ? [`${q[0]} = ${q[1]}`] : []));
  return `${terms.join(" + ")}, ${counts.join(", ")}`;
}

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

const cell = (s: string): string => s.replace(/\|/g, "\\|");

function instruction(o: OpInfo): string {
  return "`" + [o.name, ...o.operands.map((k) => `${OPERANDS[k].sym}:${k}`)].join(" ") + "`";
}

function stackEffect(o: OpInfo): string {
  return `${variablePop(o)} → ${o.push}`;
}

function gas(o: OpInfo): string {
  return o.dynamic ? `${o.gas} + ${dynamicGas(o)}` : String(o.gas);
}

function faults(o: OpInfo): string {
  return o.faults.map((f) => `\`${f}\``).join(", ");
}

/** The text of spec/isa.md as the code defines it now. */
export function isaMarkdown(): string {
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
  for (const o of OPS) if (o.popFrom) p(`- \`${o.name}\` pops ${variablePop(o)}.`);
  p(
    "",
    "The verifier proves one operand-stack height at every instruction of a",
    `function (at most ${MAX_STACK} words), so no instruction checks for stack`,
    "underflow or overflow at run time.",
    "",
    "## Gas",
    "",
    "Every instruction has a base gas cost, charged before it runs. Bulk",
    "instructions add a cost proportional to the data they move:",
    `⌈n/${WORDS_PER_GAS}⌉ for n words (\`WORDS_PER_GAS\` = ${WORDS_PER_GAS}) and ⌈n/${BYTES_PER_GAS}⌉ for n bytes of`,
    `code or image verified (\`BYTES_PER_GAS\` = ${BYTES_PER_GAS}); the \`Gas\` column gives each`,
    "instruction's rule and what its n counts. An instruction whose whole cost",
    "does not fit in the remaining budget of every process on the chain from the",
    "root does not happen at all (see [semantics.md](semantics.md#the-intentional-resource-model)).",
    "",
    "## Instructions",
    "",
    "`Runs` says who executes the instruction: `compiled`, the interpreter's hot",
    "loop and the compiled tier; `loop`, the hot loop only; `scheduler`, the",
    "scheduler (the hot loop hands it on: it touches the process tree or the host).",
    "What the hot loop's instructions compute is written once, in",
    "`src/vm/semantics.ts` (see [vm.md](vm.md)). `Faults` lists the fault kinds the",
    "instruction itself can raise (their meanings are in",
    "[semantics.md](semantics.md)); any instruction can also stop its process",
    "`out_of_gas` or `out_of_mem`.",
  );
  groups.forEach((g, gi) => {
    p(
      "",
      `### ${gi + 1}. ${g.title}`,
      "",
      "| Code | Instruction | Words | Stack | Gas | Runs | Faults | Semantics |",
      "| ---: | --- | ---: | --- | --- | --- | --- | --- |",
    );
    for (const i of g.ops) {
      const o = OPS[i];
      p(`| ${i} | ${instruction(o)} | ${WIDTH[i]} | ${stackEffect(o)} | ${cell(gas(o))} | ${o.runs} | ${faults(o)} | ${cell(o.doc)} |`);
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

// `rar inspect IMAGE --process PATH ...` (CLI.md "Inspecting a run"): the
// forensic views of one process's memory, as text or one JSON object. Loaded
// by the inspect command only when one of its forensic flags is given.

import { decodeImage } from "../image/decode.js";
import { inspectImage } from "../image/inspect.js";
import {
  MEM_WORDS_MAX,
  STRING_MIN,
  findWords,
  hexWord,
  memView,
  parseRange,
  parseWords,
  processAt,
  stringsIn,
  type FindView,
  type MemView,
  type StringsView,
} from "../debug/forensics.js";
import { EXIT, escapeControls } from "./exit.js";
import { readInput } from "./read.js";
import { writeOut } from "./output.js";

export interface ForensicFlags {
  process?: string;
  mem?: string;
  strings?: boolean;
  min?: number;
  find?: string;
  json?: boolean;
}

function memText(v: MemView): string[] {
  const end = v.addr + v.words.length;
  const lines = [`mem ${v.addr}..${end} (${v.words.length} of ${v.count} word(s) asked; memory holds ${v.memSize})`];
  const width = String(Math.max(end, 1)).length;
  v.words.forEach((w, i) => lines.push(`  ${String(v.addr + i).padStart(width)}: ${hexWord(w)} ${w}`));
  if (v.words.length < v.count)
    lines.push(`  … ${v.count - v.words.length} more word(s) not shown (${v.addr + v.count > v.memSize ? "past the end of memory" : `at most ${MEM_WORDS_MAX} per view`})`);
  return lines;
}

function stringsText(v: StringsView): string[] {
  const lines = [`strings (at least ${v.min} printable code points): ${v.found} found`];
  for (const s of v.items) lines.push(`  ${s.addr}: ${JSON.stringify(s.text)}${s.length > s.text.length ? "…" : ""} (${s.length})`);
  if (v.found > v.items.length) lines.push(`  … ${v.found - v.items.length} more not listed`);
  return lines;
}

function findText(v: FindView): string[] {
  const lines = [`find ${v.words.join(",")}: ${v.found} found`];
  for (const a of v.addresses) lines.push(`  ${a}`);
  if (v.found > v.addresses.length) lines.push(`  … ${v.found - v.addresses.length} more not listed`);
  return lines;
}

/** `rar inspect IMAGE --process PATH [--mem A:N] [--strings] [--find W,...] [--json]`. */
export function forensicCommand(file: string, flags: ForensicFlags): number {
  // Flags are checked before the image is read: a bad one is exit 2 whatever the file.
  const range = flags.mem !== undefined ? parseRange(flags.mem) : null;
  const words = flags.find !== undefined ? parseWords(flags.find) : null;
  const min = flags.min ?? STRING_MIN;
  const img = decodeImage(readInput(file), { where: file });
  const path = flags.process ?? "0";
  const p = processAt(img.root, path);
  const report = inspectImage({ ...img, root: p }).processes[0];
  const mem = range ? memView(p, range.addr, range.count) : null;
  const strings = flags.strings === true || flags.min !== undefined ? stringsIn(p, min) : null;
  const found = words ? findWords(p, words) : null;
  if (flags.json === true) {
    const out: Record<string, unknown> = {
      process: path,
      status: report.status,
      fault: report.fault,
      pc: report.pc,
      function: report.function,
      source: report.source,
      memSize: p.memSize,
      memUsed: report.memUsed,
      memLimit: report.memLimit,
      gasUsed: report.gasUsed,
      gasLimit: report.gasLimit,
    };
    if (mem) out.mem = { addr: mem.addr, count: mem.count, shown: mem.words.length, words: mem.words };
    if (strings) out.strings = strings;
    if (found) out.find = found;
    writeOut(JSON.stringify(out) + "\n");
    return EXIT.done;
  }
  const at = report.started ? ` at ${report.function}${report.source ? ` (${report.source})` : ""} pc ${report.pc}` : ` not started (enters ${report.function})`;
  const lines = [`process ${path}  ${report.status}  memory ${p.memSize} word(s)  gas ${report.gasUsed}/${report.gasLimit}  mem ${report.memUsed}/${report.memLimit}${at}`];
  if (report.fault) lines.push(`  ${report.fault}`);
  if (mem) lines.push(...memText(mem));
  if (strings) lines.push(...stringsText(strings));
  if (found) lines.push(...findText(found));
  // Strings found in memory and fault details are the guest's: control characters escaped.
  writeOut(escapeControls(lines.join("\n"), true) + "\n");
  return EXIT.done;
}

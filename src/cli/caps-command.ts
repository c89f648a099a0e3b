// `rar caps [--json]` (CLI.md "Host surface"): every built-in capability's
// contract, from the one signature table (src/caps/contract.ts). The human
// form is an aligned table; --json is one object {"capabilities": [...]}.

import type { Command } from "commander";
import { capsContract, signatureText, type CapContract } from "../caps/contract.js";
import { EXIT } from "./exit.js";
import { writeOut } from "./output.js";

const COLUMNS: readonly [string, (c: CapContract) => string][] = [
  ["capability", (c) => `${c.name}@${c.version}`],
  ["signature", signatureText],
  ["call", (c) => c.call],
  ["scope", (c) => c.scope ?? "-"],
  ["real", (c) => (c.real ? "yes" : "no")],
  ["gas", (c) => c.gas.formula],
  ["effect", (c) => (c.effect ? "host" : "-")],
  ["doc", (c) => c.doc],
];

/** The contract as an aligned table, one capability per line under a header. */
export function capsText(caps: readonly CapContract[]): string {
  const rows = [COLUMNS.map(([h]) => h), ...caps.map((c) => COLUMNS.map(([, f]) => f(c)))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => [...r[i]].length)));
  const line = (r: string[]): string => r.map((cell, i) => (i === r.length - 1 ? cell : cell + " ".repeat(widths[i] - [...cell].length))).join("  ");
  return rows.map(line).join("\n") + "\n";
}

/** The contract as `rar caps --json` prints it. */
export function capsJson(caps: readonly CapContract[]): string {
  return JSON.stringify({ capabilities: caps }) + "\n";
}

/** Registers `caps`. */
export function addCapsCommand(program: Command): void {
  program
    .command("caps")
    .description("every built-in capability: version, argument and result types, call convention, scope syntax, gas, host effect")
    .option("--json", "one JSON object {capabilities: [{name, version, args, result, call, scope, real, gas, effect, doc}, ...]}")
    .action((flags: { json?: boolean }) => {
      const caps = capsContract();
      writeOut(flags.json ? capsJson(caps) : capsText(caps));
      process.exitCode = EXIT.done;
    });
}

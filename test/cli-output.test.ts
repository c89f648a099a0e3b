// The CLI's output when its reader goes away (src/cli/output.ts): `rar run prog
// | head -2` or a closed stream ends that output quietly; the command goes on
// to its usual end, summary and exit code, never a stack trace.

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CLI, ensureBuilt, readerLeaves } from "./helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "rar-output-"));
const PROG = join(dir, "many.ent");
writeFileSync(PROG, 'fn main() { for i in 0..3000 { print("line of output"); } return 7; }\n');
/** A program whose disassembly is far more than a pipe holds (64 KiB). */
const BIG = join(dir, "big.ent");
writeFileSync(BIG, `fn main() {\n${Array.from({ length: 3000 }, (_, i) => `  print(${i});\n`).join("")}  return 0;\n}\n`);

beforeAll(ensureBuilt);


describe("a reader that goes away", () => {
  it("rar run: the output ends quietly; the program still runs to its end, summary and exit code as usual", async () => {
    const r = await readerLeaves(dir, ["run", PROG]);
    expect(r.first).toMatch(/^line of output\n/);
    expect(r.stderr).not.toMatch(/EPIPE|Error|\n\s+at /);
    expect(r.stderr).toMatch(/rar: done result=7/);
    expect(r.code).toBe(0);
  });

  it("commands that print a report (disasm, caps) end quietly too", async () => {
    for (const args of [["disasm", BIG], ["caps"]]) {
      const r = await readerLeaves(dir, args);
      expect(r.stderr, args.join(" ")).not.toMatch(/EPIPE|Error|\n\s+at /);
      expect(r.code, args.join(" ")).toBe(0);
    }
  });

  it("a closed stdout (>&-) drops the output and keeps the summary and exit code", () => {
    const r = spawnSync("sh", ["-c", `"${process.execPath}" "${CLI}" run "${PROG}" >&-`], { cwd: dir, encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).not.toMatch(/EBADF|Error|\n\s+at /);
    expect(r.stderr).toMatch(/rar: done result=7/);
    expect(r.status).toBe(0);
  });
});

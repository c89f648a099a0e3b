// `rar debug IMAGE --commands ...` (and with the script on stdin) is a
// report command like disasm: its output goes through output.ts, so a reader
// that goes away (`rar debug x.rimg --commands ... | head -1`) ends it
// quietly with the usual exit code, never Node's unhandled EPIPE stack trace,
// and a slow reader makes it wait instead of buffering without bound.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, rarIn, readerLeaves } from "./helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "rar-atk10-debug-"));
/** Many lines: more than a pipe holds (64 KiB). */
const SCRIPT = Array.from({ length: 3000 }, () => "where").join(";");

beforeAll(() => {
  ensureBuilt();
  writeFileSync(join(dir, "p.rasm"), ".func main 0 1\n  PUSH 3\n  PUSH 4\n  ADD\n  RET\n");
  const r = rarIn(dir, "trace", "p.rasm", "--out", "p.rimg");
  expect(r.code).toBe(0);
});


describe("rar debug's scripted output when its reader goes away", () => {
  it("--commands: the output ends quietly, exit 0", async () => {
    const r = await readerLeaves(dir, ["debug", "p.rimg", "--commands", SCRIPT]);
    expect(r.first).toMatch(/^step 0 {2}process 0/);
    expect(r.stderr).not.toMatch(/EPIPE|Error|\n\s+at /);
    expect(r.code).toBe(0);
  });

  it("the script on stdin: the same", async () => {
    const r = await readerLeaves(dir, ["debug", "p.rimg"], SCRIPT.replace(/;/g, "\n"));
    expect(r.stderr).not.toMatch(/EPIPE|Error|\n\s+at /);
    expect(r.code).toBe(0);
  });
});

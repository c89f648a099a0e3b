// `rar view IMAGE --from S --to T` (CLI.md "Inspecting a run"): a range that
// is empty is a usage error (exit 2, one line and a hint, nothing written),
// as `rar trace-slice` says of the same range; before, the page was written
// with the range quietly replaced by another.

import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, rarIn } from "./helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "rar-atk10-view-"));

beforeAll(() => {
  ensureBuilt();
  writeFileSync(join(dir, "p.rasm"), ".func main 0 1\n  PUSH 3\n  PUSH 4\n  ADD\n  RET\n");
  expect(rarIn(dir, "trace", "p.rasm", "--out", "p.rimg").code).toBe(0);
});

describe("rar view --from/--to", () => {
  it("--from after --to is refused, nothing written", () => {
    const r = rarIn(dir, "view", "p.rimg", "--from", "3", "--to", "1", "--out", "bad.html");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^rar: error: .*--to 1 is before --from 3/);
    expect(existsSync(join(dir, "bad.html"))).toBe(false);
  });

  it("a range within the run is written", () => {
    const r = rarIn(dir, "view", "p.rimg", "--from", "1", "--to", "2", "--out", "good.html");
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, "good.html"))).toBe(true);
  });
});

describe("rar trace-slice --to past the end", () => {
  it("says the range the slice holds (cut at the end of the run), not the one asked", () => {
    const r = rarIn(dir, "trace-slice", "p.rimg", "--from", "1", "--to", "99999999999999", "--out", "s.rimg");
    expect(r.code).toBe(0);
    const held = rarIn(dir, "audit", "s.rimg");
    const range = /steps (\d+)\.\.(\d+)/.exec(held.stderr);
    expect(range).not.toBeNull();
    expect(r.stderr).toContain(`slice of steps ${range?.[1]}..${range?.[2]} written`);
  });
});

// Images are written atomically (DESIGN §6): a temporary file in the same
// directory, flushed, then renamed over the target. A failed write leaves the
// old file as it was and no temporary file behind.

import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeFileAtomic } from "../src/cli/atomic.js";
import { RarError } from "../src/vm/errors.js";

describe("atomic image writes", () => {
  const dir = mkdtempSync(join(tmpdir(), "rar-atomic-"));

  it("replaces an existing file with the new bytes", () => {
    const file = join(dir, "a.rimg");
    writeFileSync(file, "old");
    writeFileAtomic(file, new TextEncoder().encode("new contents"));
    expect(readFileSync(file, "utf8")).toBe("new contents");
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("a write that cannot complete throws a RarError and leaves the target and the directory as they were", () => {
    const target = join(dir, "busy.rimg");
    mkdirSync(target);
    writeFileSync(join(target, "inside"), "kept");
    expect(() => writeFileAtomic(target, new Uint8Array(10))).toThrow(RarError);
    expect(readFileSync(join(target, "inside"), "utf8")).toBe("kept");
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("a missing directory is a RarError naming the path", () => {
    const target = join(dir, "no", "such", "x.rimg");
    expect(() => writeFileAtomic(target, new Uint8Array(1))).toThrow(/no[/\\]such[/\\]x\.rimg/);
  });
});

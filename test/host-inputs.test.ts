// Files the host names (programs, images, policies, kv stores) are read only
// when they are regular files: a FIFO is refused without waiting on it, a
// device without reading it forever. Error lines stay short whatever
// untrusted text they quote.

import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT, ensureBuilt, rarIn, type Out } from "./helpers/cli.js";

let dir = "";
const HELLO = join(ROOT, "examples", "hello.ent");

function rar(...args: string[]): Out {
  return rarIn(dir, ...args);
}

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-host-inputs-"));
  execFileSync("mkfifo", [join(dir, "fifo.rimg"), join(dir, "fifo.json"), join(dir, "fifo.ent")]);
  writeFileSync(join(dir, "kv.json"), JSON.stringify({ allow: ["kv.get"], kv: "./fifo.json" }));
  writeFileSync(join(dir, "long.json"), JSON.stringify({ allow: ["a".repeat(1_000_000)] }));
});

describe("inputs that are not regular files", () => {
  it.each([
    [["resume", "fifo.rimg"], /^rar: error: fifo\.rimg: a FIFO, not a regular file\n$/],
    [["inspect", "fifo.rimg"], /^rar: error: fifo\.rimg: a FIFO, not a regular file\n$/],
    [["run", "fifo.ent"], /^rar: error: fifo\.ent: a FIFO, not a regular file\n$/],
    [["run", HELLO, "--policy", "fifo.json"], /^rar: error: fifo\.json: a FIFO, not a regular file\n$/],
    [["run", HELLO, "--policy", "kv.json"], /cannot read the kv store \(a FIFO, not a regular file\)\n$/],
    [["audit", "/dev/zero"], /^rar: error: \/dev\/zero: a device, not a regular file\n$/],
    [["run", HELLO, "--policy", "/dev/urandom"], /^rar: error: \/dev\/urandom: a device, not a regular file\n$/],
  ])("rar %j is exit 2 with one line, at once", (args, stderr) => {
    const r = rar(...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(stderr as RegExp);
    expect(r.stdout).toBe("");
  });
});

describe("error lines quoting untrusted text", () => {
  it("a million-character capability name is cut to a short line that says how much was left out", () => {
    const r = rar("run", HELLO, "--policy", "long.json");
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    expect(r.stderr.length).toBeLessThan(500);
    expect(r.stderr).toMatch(/^rar: error: long\.json: allow\[0\]: 'aaa.* … \(\d+ characters left out\) … a+' is not a capability name/);
  });
});

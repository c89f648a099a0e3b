// Every byte a capability brings in is counted against the caller's memory
// headroom before the host allocates it (DESIGN §4). Handlers see that
// headroom as CapContext.maxWords and refuse a larger result up front (the
// call faults cap_failed and the trace records a refusal, not a result the
// host built and then dropped); the runtime refuses it again on delivery.

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { loadPolicy } from "../src/caps/policy.js";
import { RESULT_MAX, type CapContext, type CapHandler } from "../src/caps/registry.js";
import { start } from "./helpers/asm.js";

let dir = "";

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), "rar-headroom-")));
});

/** Code that stores `path` at address 1.. and calls `cap` on it (one array argument). */
function pathCall(cap: string, path: string): string {
  const cps = [...path].map((c) => c.codePointAt(0) as number);
  const lines = [`.cap ${cap}`, ".func main 0 1", `  PUSH ${Math.max(cps.length, 1)}`, "  MGROW", "  POP"];
  cps.forEach((c, i) => lines.push(`  PUSH ${i + 1}`, `  PUSH ${c}`, "  STORE 0"));
  lines.push("  PUSH 1", `  PUSH ${cps.length}`, `  CAP ${cap} 2`, "  RET");
  return lines.join("\n");
}

/** The kinds of the trace's events for `cap`. */
function eventsOf(s: ReturnType<typeof start>, cap: string): string[] {
  return (s.session.trace?.events() ?? []).filter((e) => "cap" in e && e.cap === cap).map((e) => e.kind);
}

describe("results are counted before the host allocates them", () => {
  it("fs.read of a file larger than the caller's headroom is refused before it is read", () => {
    writeFileSync(join(dir, "big.bin"), Buffer.alloc(100_000, 7));
    const s = start(pathCall("fs.read", "big.bin"), { caps: [`fs.read:${dir}`], mem: 500 });
    const r = s.run();
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(/cap_failed.*result of 100000 words exceeds memory headroom/);
    expect(eventsOf(s, "fs.read")).toEqual(["cap_error"]);
    expect(s.root.inbox).toBeNull();
  });

  it("a child's headroom is its chain's: a child with mem 500 reading a large file is refused before it is read", () => {
    writeFileSync(join(dir, "big.bin"), Buffer.alloc(100_000, 7));
    const cps = [..."big.bin"].map((c) => c.codePointAt(0) as number);
    const src = `.cap fs.read
.func main 0 1
  PUSH ${cps.length}
  MGROW
  POP
${cps.map((c, i) => `  PUSH ${i + 1}\n  PUSH ${c}\n  STORE 0`).join("\n")}
  PUSH 0
  PUSH ${cps.length + 1}
  PUSH 1000000
  PUSH 500
  PUSH 1
  PUSH 0
  SPAWN kid
  LTEE 0
  RESUME
  RET
.func kid 0 0
  PUSH 1
  PUSH ${cps.length}
  CAP fs.read 2
  RET`;
    const s = start(src, { caps: [`fs.read:${dir}`], mem: 1 << 24 });
    expect(s.run().value).toBe(2); // the child faulted
    const kid = s.root.children.get(1);
    expect(`${kid?.faultKind}: ${kid?.faultDetail}`).toMatch(/cap_failed.*result of 100000 words exceeds memory headroom/);
    expect(eventsOf(s, "fs.read")).toEqual(["cap_error"]);
  });

  it("fs.read of a file that fits is read whole", () => {
    writeFileSync(join(dir, "small.bin"), Buffer.alloc(300, 7));
    const s = start(pathCall("fs.read", "small.bin"), { caps: [`fs.read:${dir}`], mem: 500 });
    expect(s.run().value).toBe(300);
    expect(Array.from(s.root.inbox ?? []).every((w) => w === 7)).toBe(true);
  });

  it("fs.list of a directory whose listing exceeds the headroom is refused before it is built", () => {
    mkdirSync(join(dir, "many"));
    for (let i = 0; i < 200; i++) writeFileSync(join(dir, "many", `file-number-${i}`), "");
    const s = start(pathCall("fs.list", "many"), { caps: [`fs.list:${dir}`], mem: 500 });
    const r = s.run();
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(/cap_failed.*exceeds memory headroom/);
    expect(eventsOf(s, "fs.list")).toEqual(["cap_error"]);
  });

  it("a host handler is told the caller's headroom: its memory left plus the inbox a result replaces, at most RESULT_MAX", () => {
    const seen: number[] = [];
    const probe: CapHandler = {
      sig: { args: [], result: "array" },
      call: (_args, ctx: CapContext) => {
        seen.push(ctx.maxWords);
        return Int32Array.of(1, 2, 3);
      },
    };
    const src = ".cap t.probe\n.func main 0 0\n  CAP t.probe 0\n  MEMLEFT\n  CAP t.probe 0\n  POP\n  RET";
    const s = start(src, { caps: ["t.probe"], handlers: { "t.probe": probe }, mem: 1000 });
    const r = s.run();
    expect(r.status).toBe("done");
    // The second call: MEMLEFT (with 3 words in the inbox) plus those 3 words.
    expect(seen[1]).toBe((r.value as number) + 3);
    expect(seen[0]).toBe(seen[1]);
    const big = start(src, { caps: ["t.probe"], handlers: { "t.probe": probe }, mem: 2 ** 40 });
    big.run();
    expect(seen[2]).toBe(RESULT_MAX);
  });

  it("a host handler that ignores the headroom is still refused on delivery", () => {
    const greedy: CapHandler = { sig: { args: [], result: "array" }, call: () => new Int32Array(10_000) };
    const r = start(".cap t.greedy\n.func main 0 0\n  CAP t.greedy 0\n  RET", { caps: ["t.greedy"], handlers: { "t.greedy": greedy }, mem: 500 }).run();
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(/cap_failed.*result of 10000 words exceeds memory headroom/);
  });
});

describe("kv.get and mocks", () => {
  it("kv.get of a value longer than the caller's headroom is refused before it is copied", () => {
    const policyFile = join(dir, "policy.json");
    writeFileSync(join(dir, "store.json"), JSON.stringify({ big: new Array(10_000).fill(1) }));
    writeFileSync(policyFile, JSON.stringify({ allow: ["kv.get"], kv: "./store.json" }));
    const s = start(pathCall("kv.get", "big"), { policy: loadPolicy({ file: policyFile }), mem: 500 });
    const r = s.run();
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(/cap_failed.*result of 10000 words exceeds memory headroom/);
    expect(eventsOf(s, "kv.get")).toEqual(["cap_error"]);
  });

  it("a mocked array result longer than the caller's headroom is refused", () => {
    const policyFile = join(dir, "policy.json");
    writeFileSync(policyFile, JSON.stringify({ mock: { "io.read": { results: ["z".repeat(2000)] } } }));
    const s = start(".cap io.read\n.func main 0 0\n  CAP io.read 0\n  RET", { policy: loadPolicy({ file: policyFile }), mem: 500 });
    const r = s.run();
    expect(r.fault).toMatch(/cap_failed.*result of 2000 words exceeds memory headroom/);
    expect(eventsOf(s, "io.read")).toEqual(["cap_error"]);
  });
});

describe("io.read", () => {
  const READ = ".cap io.read\n.func main 0 0\n  CAP io.read 0\n  RET";

  it("a line longer than the caller's headroom is refused before its words are made", () => {
    const line = "y".repeat(10_000) + "\n";
    const s = start(READ, { caps: ["io.read"], stdin: () => line, mem: 500 });
    const r = s.run();
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(/cap_failed.*line of 10001 characters exceeds memory headroom/);
    expect(eventsOf(s, "io.read")).toEqual(["cap_error"]);
  });

  /**
   * Runs READ in a separate node process reading `input` on its stdin (the
   * timeout only guards against a hang); with `record`, also the kinds of the
   * trace's io.read events.
   */
  function readElsewhere(input: Buffer, mem: number, record: boolean): { status: string; value?: number; fault?: string; events?: string[] } {
    const code = `
      import { start } from "./test/helpers/asm.ts";
      const s = start(${JSON.stringify(READ)}, { caps: ["io.read"], mem: ${mem}, record: ${record} });
      const r = s.run();
      const events = ${record} ? s.session.trace.events().filter((e) => e.cap === "io.read").map((e) => e.kind) : undefined;
      process.stdout.write(JSON.stringify({ status: r.status, value: r.value, fault: r.fault, events }));`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
      input,
      encoding: "utf8",
      timeout: 30_000,
      maxBuffer: 1 << 20,
    });
    expect(r.signal, `io.read did not finish (stderr: ${r.stderr})`).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { status: string; value?: number; fault?: string; events?: string[] };
  }

  it("one 16 MiB line from stdin is read whole when it fits, and refused before it is read when it does not", () => {
    const big = Buffer.alloc(RESULT_MAX, 0x61);
    big[big.length - 1] = 10;
    expect(readElsewhere(big, 2 * RESULT_MAX, false)).toEqual({ status: "done", value: RESULT_MAX });
    const r = readElsewhere(big, 1000, true);
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(/cap_failed.*exceeds memory headroom/);
    expect(r.events).toEqual(["cap_error"]);
  });
});

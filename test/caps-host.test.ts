// The host surface: io.eprint (the guest's stderr), random.bytes, clock.mono,
// clock.sleep and env.get. Each is granted by policy, recorded in the trace
// and replayed without the host; the virtual ones are deterministic.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RANDOM_BYTES_MAX, virtualBytes } from "../src/caps/builtins.js";
import { loadPolicy } from "../src/caps/policy.js";
import { capCovers } from "../src/caps/registry.js";
import { Session } from "../src/session.js";
import type { LogEvent } from "../src/caps/log.js";
import { replay } from "../src/trace/replay.js";
import type { Trace } from "../src/trace/trace.js";
import { load, start } from "./helpers/asm.js";

/** Code points of `s` stored at addresses 1.. (after growing memory). */
const text = (s: string): string =>
  "  PUSH 64\n  MGROW\n  POP\n" + [...s].map((c, i) => `  PUSH ${i + 1}\n  PUSH ${c.codePointAt(0)}\n  STORE 0`).join("\n");

function replayed(session: Session): ReturnType<typeof replay> {
  return replay({ trace: session.trace as Trace, module: (d) => session.machine.modules.get(d) });
}

const calls = (s: Session): { cap: string; result: unknown; args: readonly unknown[] }[] =>
  (s.trace?.events() ?? []).flatMap((e) => (e.kind === "cap" ? [{ cap: e.cap, result: e.result, args: e.args }] : []));

describe("io.eprint", () => {
  const EPRINT = `.cap io.eprint\n.cap io.print\n.func main 0 0\n${text("oops")}\n  PUSH 1\n  PUSH 4\n  CAP io.eprint 2\n  POP\n  PUSH 1\n  PUSH 2\n  CAP io.print 2\n  RET`;

  it("writes one line to the host's stderr, separate from stdout, and is recorded", () => {
    let err = "";
    const s = start(EPRINT, { caps: ["io.eprint", "io.print"], stderr: (t) => void (err += t) });
    expect(s.run().status).toBe("done");
    expect(err).toBe("oops\n");
    expect(s.out()).toBe("oo\n");
    expect(calls(s.session).map((c) => c.cap)).toEqual(["io.eprint", "io.print"]);
    expect(replayed(s.session).divergence).toBeNull();
  });

  it("is denied without its grant", () => {
    const r = start(EPRINT, { caps: ["io.print"], stderr: () => undefined }).run();
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(/cap_denied.*io.eprint/);
  });
});

describe("random.bytes", () => {
  const bytes = (n: number): string => `.cap random.bytes\n.func main 0 0\n  PUSH ${n}\n  CAP random.bytes 1\n  PUSH ${n}\n  CAP random.bytes 1\n  ADD\n  RET`;

  it("gives n bytes (0..255) from the seeded virtual generator, recorded and replayed", () => {
    const s = start(bytes(9), { caps: ["random.bytes"] });
    expect(s.run().value).toBe(18);
    const [a, b] = calls(s.session).map((c) => Array.from(c.result as Int32Array));
    expect(a).toEqual(Array.from(virtualBytes(0, 0, 9)));
    expect(b).toEqual(Array.from(virtualBytes(0, 1, 9)));
    expect(a).not.toEqual(b);
    expect(replayed(s.session).divergence).toBeNull();
  });

  it("every virtual byte is a byte and the stream is a function of seed, call and length", () => {
    fc.assert(
      fc.property(fc.integer(), fc.nat(1000), fc.nat(300), (seed, k, n) => {
        const out = virtualBytes(seed, k, n);
        expect(out.length).toBe(n);
        for (const w of out) expect(w >= 0 && w <= 255).toBe(true);
        expect(Array.from(virtualBytes(seed, k, n))).toEqual(Array.from(out));
        expect(Array.from(virtualBytes(seed, k, n + 4).subarray(0, n))).toEqual(Array.from(out));
      }),
    );
  });

  it("refuses more than the bound or a negative count with cap_failed naming it", () => {
    for (const n of [RANDOM_BYTES_MAX + 1, -1]) {
      const r = start(bytes(n), { caps: ["random.bytes"], mem: 1 << 20 }).run();
      expect(r.status).toBe("fault");
      expect(r.fault).toMatch(new RegExp(`cap_failed.*random.bytes: cannot give ${n} bytes: from 0 to ${RANDOM_BYTES_MAX}`));
    }
  });

  it("random.bytes:real uses the host's generator; only :real covers :real", () => {
    const s = start(bytes(16), { caps: ["random.bytes:real"] });
    expect(s.run().value).toBe(32);
    expect(replayed(s.session).divergence).toBeNull();
    expect(capCovers(["random.bytes"], "random.bytes:real")).toBe(false);
    expect(capCovers(["random.bytes:real"], "random.bytes:real")).toBe(true);
  });
});

describe("clock.mono and clock.sleep", () => {
  const MONO = `.cap clock.mono\n.cap clock.sleep\n.func main 0 0\n  CAP clock.mono 0\n  YIELD\n  PUSH 250\n  CAP clock.sleep 1\n  POP\n  CAP clock.mono 0\n  RET`;

  it("the virtual clock advances one ms per read and by ms per sleep, without waiting", () => {
    const s = start(MONO, { caps: ["clock.mono", "clock.sleep"] });
    expect(s.run().value).toBe(0);
    expect(s.session.run().value).toBe(251);
    expect(replayed(s.session).divergence).toBeNull();
  });

  it("a run resumed from an image continues the virtual clock where the trace left it", () => {
    const s = start(MONO, { caps: ["clock.mono", "clock.sleep"] });
    expect(s.run().status).toBe("yielded");
    s.session.snapshot();
    const again = Session.fromImage(s.session.snapshot(), { caps: ["clock.mono", "clock.sleep"] });
    expect(again.run().value).toBe(251);
  });

  it("a mocked clock.mono keeps counting its calls across an image, whatever was slept", () => {
    const f = join(mkdtempSync(join(tmpdir(), "rar-mono-")), "p.json");
    writeFileSync(f, JSON.stringify({ allow: ["clock.sleep"], mock: { "clock.mono": { results: [7, 8, 9] } } }));
    const withMock = loadPolicy({ file: f });
    const s = start(MONO, { policy: withMock });
    expect(s.run().value).toBe(7);
    const again = Session.fromImage(s.session.snapshot(), { policy: withMock, stdout: () => undefined });
    expect(again.run().value).toBe(8);
  });

  it("a negative sleep is refused with cap_failed", () => {
    const s = start(MONO.replace("PUSH 250", "PUSH -5"), { caps: ["clock.mono", "clock.sleep"] });
    expect(s.run().status).toBe("yielded");
    const r = s.session.run();
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(/cap_failed.*clock.sleep: cannot sleep -5 ms/);
  });

  it("clock.sleep:real is an async call: run() refuses it, runAsync() waits without blocking, and it replays", async () => {
    const src = `.cap clock.sleep\n.func main 0 0\n  PUSH 5\n  CAP clock.sleep 1\n  RET`;
    expect(() => start(src, { caps: ["clock.sleep:real"] }).run()).toThrow(/async/);
    const s = Session.start(load(src), { caps: ["clock.sleep:real"], stdout: () => undefined });
    let ticked = false;
    setImmediate(() => (ticked = true));
    const r = await s.runAsync();
    expect(r.status).toBe("done");
    expect(ticked).toBe(true);
    expect(replayed(s).divergence).toBeNull();
  });

  it("clock.mono:real reads the host's monotonic clock, recorded", () => {
    const s = start(`.cap clock.mono\n.func main 0 0\n  CAP clock.mono 0\n  CAP clock.mono 0\n  SUB\n  RET`, { caps: ["clock.mono:real"] });
    const r = s.run();
    expect(r.value as number).toBeLessThanOrEqual(0);
    expect(replayed(s.session).divergence).toBeNull();
  });
});

describe("env.get", () => {
  const GET = (key: string): string => `.cap env.get\n.func main 0 0\n${text(key)}\n  PUSH 1\n  PUSH ${[...key].length}\n  CAP env.get 2\n  RET`;

  it("reads a variable granted by name, as code points, recorded so replay never reads the host", () => {
    process.env.RAR_TEST_ENV_GET = "héllo";
    const s = start(GET("RAR_TEST_ENV_GET"), { caps: ["env.get:RAR_TEST_ENV_GET"] });
    expect(s.run().value).toBe(5);
    expect(Array.from(s.root.inbox ?? [])).toEqual([..."héllo"].map((c) => c.codePointAt(0)));
    delete process.env.RAR_TEST_ENV_GET;
    expect(replayed(s.session).divergence).toBeNull();
  });

  it("an unset granted variable reads as the empty array", () => {
    delete process.env.RAR_TEST_UNSET;
    expect(start(GET("RAR_TEST_UNSET"), { caps: ["env.get:RAR_TEST_UNSET"] }).run().value).toBe(0);
  });

  it("a variable not granted by name is refused, whatever else is granted", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z_]{1,8}$/), (key) => {
        const r = start(GET(key), { caps: [`env.get:${key}X`] }).run();
        expect(r.status).toBe("fault");
        expect(r.fault).toMatch(/env.get: the environment variable .* is not granted/);
      }),
      { numRuns: 20 },
    );
  });

  it("a policy must name the variable: an unscoped env.get never exposes the environment", () => {
    expect(() => loadPolicy({ allow: ["env.get"] })).toThrow(/needs a variable name/);
    expect(() => loadPolicy({ allow: ["env.get:A=B"] })).toThrow(/environment variable name/);
    expect(loadPolicy({ allow: ["env.get:HOME"] }).grants).toContain("env.get:HOME");
    expect(capCovers(["env.get:HOME"], "env.get:HOME/x")).toBe(false);
  });
});

describe("log.write and lifecycle events", () => {
  const LOG = `.cap log.write\n.func main 0 0\n${text("hi")}\n  PUSH 2\n  PUSH 1\n  PUSH 2\n  CAP log.write 3\n  YIELD\n  PUSH 0\n  PUSH 1\n  PUSH 1\n  CAP log.write 3\n  RET`;

  it("records reach onLog with their level and path, between lifecycle events, and replay", () => {
    const events: LogEvent[] = [];
    const s = start(LOG, { caps: ["log.write"], onLog: (e) => void events.push(e) });
    expect(s.run().status).toBe("yielded");
    expect(s.session.run().status).toBe("done");
    expect(events.map((e) => (e.type === "log" ? `${e.level}@${e.path}:${e.text}` : e.event))).toEqual([
      "started",
      "warn@0:hi",
      "suspended",
      "resumed",
      "debug@0:h",
      "finished",
    ]);
    expect(replayed(s.session).divergence).toBeNull();
    // A finished root emits nothing more.
    s.session.run();
    expect(events.length).toBe(6);
  });

  it("a level outside 0..3 is refused with cap_failed naming the levels", () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 4 }), fc.integer({ max: -1 })), (level) => {
        const r = start(LOG.replace("PUSH 2\n  PUSH 1\n  PUSH 2", `PUSH ${level}\n  PUSH 1\n  PUSH 2`), { caps: ["log.write"] }).run();
        expect(r.status).toBe("fault");
        expect(r.fault).toMatch(/cap_failed.*log.write: level -?\d+ is not 0 \(debug\) to 3 \(error\)/);
      }),
      { numRuns: 20 },
    );
  });

  it("log.write takes no scope", () => {
    expect(() => loadPolicy({ allow: ["log.write:x"] })).toThrow(/takes no scope/);
  });
});

// Async host capabilities (DESIGN §9): a handler that returns a promise
// suspends the VM with all state explicit; the event loop keeps running other
// work meanwhile, and the run continues when the promise settles. The calls
// are traced like any other and replay (synchronously) to the same digest.

import { describe, expect, it } from "vitest";
import type { CapHandler, CapValue } from "../src/caps/registry.js";
import { replay } from "../src/trace/replay.js";
import type { Trace } from "../src/trace/trace.js";
import { start } from "./helpers/asm.js";

const SLEEPER = `.cap timer.sleep
.func main 0 1
  PUSH 3
  CAP timer.sleep 1
  PUSH 4
  CAP timer.sleep 1
  ADD
  PUSH 5
  CAP timer.sleep 1
  ADD
  RET`;

describe("async host capabilities", () => {
  it("a timer-backed capability does not block the event loop: other timers run while the VM waits", async () => {
    const seen: string[] = [];
    let s: ReturnType<typeof start> | null = null;
    const sleep: CapHandler = {
      sig: { args: ["int"], result: "int" },
      call: (args) =>
        new Promise<CapValue>((resolve) => {
          // Another timer, not the capability's, runs while the VM is suspended in this call.
          setTimeout(() => seen.push(`other timer ran; VM waiting: ${s?.session.machine.pending !== null}`), 0);
          // The capability's own timer resolves the call (it fires after the one above).
          setTimeout(() => {
            seen.push(`sleep ${args[0]} done`);
            resolve((args[0] as number) * 10);
          }, 1);
        }),
    };
    s = start(SLEEPER, { caps: ["timer.sleep"], handlers: { "timer.sleep": sleep } });
    const r = await s.session.runAsync();
    expect(r.status).toBe("done");
    expect(r.value).toBe(120);
    expect(seen).toEqual([
      "other timer ran; VM waiting: true",
      "sleep 3 done",
      "other timer ran; VM waiting: true",
      "sleep 4 done",
      "other timer ran; VM waiting: true",
      "sleep 5 done",
    ]);
  });

  it("a call that settles only when other event-loop work has run completes (nothing busy-waits)", async () => {
    let release: ((v: CapValue) => void) | null = null;
    const gate: CapHandler = { sig: { args: ["int"], result: "int" }, call: () => new Promise<CapValue>((r) => (release = r)) };
    const s = start(SLEEPER, { caps: ["timer.sleep"], handlers: { "timer.sleep": gate } });
    const done = s.session.runAsync();
    // Only code scheduled on the event loop can release the call.
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setImmediate(r));
      expect(s.session.machine.pending?.cap).toBe("timer.sleep");
      (release as unknown as (v: CapValue) => void)(i + 1);
    }
    expect((await done).value).toBe(6);
  });

  it("a rejected promise faults the caller cap_failed with the reason", async () => {
    const failing: CapHandler = { sig: { args: ["int"], result: "int" }, call: () => Promise.reject(new Error("timer broke")) };
    const s = start(SLEEPER, { caps: ["timer.sleep"], handlers: { "timer.sleep": failing } });
    const r = await s.session.runAsync();
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(/cap_failed.*timer.sleep: timer broke/);
  });

  it("run() refuses to block on an async call; the async run is traced and replays synchronously", async () => {
    const sleep: CapHandler = { sig: { args: ["int"], result: "int" }, call: (a) => new Promise<CapValue>((r) => setTimeout(() => r(a[0] as number), 1)) };
    const blocked = start(SLEEPER, { caps: ["timer.sleep"], handlers: { "timer.sleep": sleep } });
    expect(() => blocked.run()).toThrow(/use runAsync/);
    const s = start(SLEEPER, { caps: ["timer.sleep"], handlers: { "timer.sleep": sleep } });
    await s.session.runAsync();
    const r = replay({ trace: s.session.trace as Trace, module: (d) => s.session.machine.modules.get(d) });
    expect(r.divergence).toBeNull();
    expect(r.digest()).toBe(s.session.digest());
  });
});

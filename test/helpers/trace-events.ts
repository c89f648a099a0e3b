// Test helper: trace events and msgpack bytes built by hand, for the attacks
// on the trace reader (test/atk-trace-*.test.ts).

import { decodeImage } from "../../src/image/decode.js";
import { newDebugPart } from "../../src/debug/record.js";
import { encodeImage } from "../../src/image/encode.js";
import { join } from "../../src/image/wire.js";
import { Session } from "../../src/session.js";
import type { HostCap, TraceEvent } from "../../src/trace/events.js";
import { Trace, traceToWire } from "../../src/trace/store.js";
import { load } from "./asm.js";

/** A module digest as a start event holds it (64 hex digits). */
export const HEX64 = "ab".repeat(32);

/** Host capabilities from [name, argument letters, result letter] (i: int, a: array). */
export const host = (...caps: [string, string, string][]): HostCap[] =>
  caps.map(([name, args, result]) => ({ name, sig: { args: [...args].map((l) => (l === "i" ? "int" : "array")), result: result === "i" ? "int" : "array" } }) as HostCap);

/** A start event of two host capabilities (t.arr a -> a, t.int ii -> i), its fields overridden by `over`. */
export function startEvent(over: Partial<Record<string, unknown>> = {}): TraceEvent {
  return {
    kind: "start",
    module: HEX64,
    linked: [],
    entry: 0,
    args: Int32Array.of(),
    grants: ["io.print"],
    host: host(["t.arr", "a", "a"], ["t.int", "ii", "i"]),
    policy: "",
    maxDepth: 64,
    memMax: 1 << 20,
    ...over,
  } as unknown as TraceEvent;
}

export const u8 = (...b: number[]): Uint8Array => Uint8Array.from(b);
export const cat = (...parts: Uint8Array[]): Uint8Array => join(parts);

/** A root that yields at once (no capabilities but io.print): the tree the attack images carry. */
let base: { img: ReturnType<typeof decodeImage>; resolve: (d: string) => ReturnType<typeof decodeImage>["modules"][number] | undefined } | null = null;

/**
 * The image of that tree with `events` as its trace (encoded by the runtime:
 * canonical, links right); with `debug`, an empty debug part too (version 2:
 * decodeImage then unpacks the trace's events to count them, and
 * traceFromWire reads them as values, not in place).
 */
export function imageWith(events: readonly TraceEvent[], debug = false): Uint8Array {
  if (base === null) {
    const s = Session.start(load(".func main 0 1\n  PUSH 1\n  YIELD\n  PUSH 0\n  RET"), { gas: 10_000, stdout: () => {} });
    if (s.run().status !== "yielded") throw new Error("test helper: the base tree did not yield");
    const img = decodeImage(s.snapshot());
    const modules = new Map(img.modules.map((m) => [m.digest, m]));
    base = { img, resolve: (d) => modules.get(d) };
  }
  const t = new Trace();
  for (const e of events) t.push(e);
  return encodeImage(base.img.root, { ...base.img.meta, trace: traceToWire(t), debug: debug ? newDebugPart() : null }, base.resolve);
}

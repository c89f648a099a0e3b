// Test helper: trace events and msgpack bytes built by hand, for the attacks
// on the trace reader (test/atk-trace-*.test.ts).

import { join } from "../../src/image/wire.js";
import type { HostCap, TraceEvent } from "../../src/trace/events.js";

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

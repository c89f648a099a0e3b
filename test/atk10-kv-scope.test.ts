// kv scopes (spec/capabilities.md §3: "A scoped grant kv.get:app reaches only
// keys inside the scope (app, app/x), never application"). Keys are names in
// one flat store, read literally: a key is inside `app` when it is `app` or
// starts with `app/`. A key with a `.` or `..` segment is refused whatever
// the grant, so that no reading of it (a host tool that normalizes paths)
// places it elsewhere: before, kv.put:app could write "other/../app/x", a key
// in other/ as the store's file shows it.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { codePointsToText } from "../src/caps/registry.js";
import { run } from "./helpers/asm.js";

/** A program that puts [7] under `key` and returns 0, or faults. */
function putter(key: string): string {
  const cps = [...key].map((c) => c.codePointAt(0) as number);
  return [
    ".cap kv.put",
    ".func main 0 1",
    `  PUSH ${cps.length + 1}`,
    "  MGROW",
    "  POP",
    ...cps.flatMap((c, i) => [`  PUSH ${i}`, `  PUSH ${c}`, "  STORE 0"]),
    `  PUSH ${cps.length}`,
    "  PUSH 7",
    "  STORE 0",
    "  PUSH 0",
    `  PUSH ${cps.length}`,
    `  PUSH ${cps.length}`,
    "  PUSH 1",
    "  CAP kv.put 4",
    "  RET",
  ].join("\n");
}

/** Runs the putter under `caps`; the keys the store took (the trace's answered kv.put calls). */
function put(key: string, caps: string[]): { ok: boolean; keys: string[]; fault?: string } {
  const r = run(putter(key), { caps });
  const keys = (r.session.trace?.events() ?? []).flatMap((e) => (e.kind === "cap" && e.cap === "kv.put" ? [codePointsToText(e.args[0] as Int32Array)] : []));
  return { ok: r.status === "done", keys, fault: r.fault };
}

const literallyIn = (key: string, scope: string): boolean => key === scope || key.startsWith(scope + "/");
const dotted = (key: string): boolean => key.split("/").some((s) => s === "." || s === "..");

describe("kv keys under a scoped grant are read literally", () => {
  it.each(["other/../app/x", "app/../secret", "app/./y", "./app", "app/..", "app/x/../../other"])("%s is refused under kv.put:app", (key) => {
    const r = put(key, ["kv.put:app"]);
    expect(r.ok).toBe(false);
    expect(r.keys).toEqual([]);
  });

  it.each(["app", "app/x", "app/x/y.z", "app/.hidden", "app/..x"])("%s is stored under kv.put:app", (key) => {
    expect(put(key, ["kv.put:app"])).toMatchObject({ ok: true, keys: [key] });
  });

  it("application is not in app", () => {
    expect(put("application", ["kv.put:app"]).ok).toBe(false);
  });

  it("a key with a . or .. segment is refused even under an unscoped grant", () => {
    expect(put("a/../b", ["kv.put"]).ok).toBe(false);
    expect(put("a/b", ["kv.put"]).ok).toBe(true);
  });

  it("for any key of segments, a call under kv.put:app succeeds exactly when the key is literally in app without . or ..", () => {
    const seg = fc.constantFrom("app", "x", "other", ".", "..", "", "app.", "a");
    fc.assert(
      fc.property(fc.array(seg, { minLength: 1, maxLength: 5 }), (segs) => {
        const key = segs.join("/");
        if (key.length === 0) return;
        const r = put(key, ["kv.put:app"]);
        expect(r.ok, key).toBe(literallyIn(key, "app") && !dotted(key));
        if (r.ok) expect(r.keys).toEqual([key]);
      }),
      { numRuns: 200 },
    );
  });
});

// Authority never travels (DESIGN §4): a scope is checked on real paths
// against every scope on the caller's chain at the moment of use. A parent
// that narrows a child onto a symlink inside its own scope gives the child no
// more than the parent itself has: NARROW refuses a scope whose real path
// leaves the held one, and a call refuses a path whose real location leaves
// any scope on the chain (also when the link appears after the narrowing).

import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { ChainScopes, resolveScoped } from "../src/caps/fs.js";
import { codePointsToText } from "../src/caps/registry.js";
import { runChain, type FsCall } from "./helpers/chain.js";

let top = "";
let scope = "";
let outside = "";

beforeEach(() => {
  top = realpathSync(mkdtempSync(join(tmpdir(), "rar-chain-")));
  scope = join(top, "scope");
  outside = join(top, "outside");
  mkdirSync(join(scope, "in"), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(scope, "in", "ok.txt"), "inside");
  writeFileSync(join(outside, "secret.txt"), "secret");
  symlinkSync(outside, join(scope, "link"));
});

const text = (ws: number[]): string => codePointsToText(Int32Array.from(ws));
const read = (path: string): FsCall => ({ cap: "fs.read", args: [path] });

describe("narrowing onto a symlink does not widen authority", () => {
  it("the parent itself cannot read through the link", () => {
    const r = runChain({ narrows: [], calls: [read("link/secret.txt")] }, scope);
    expect(r.outcomes[0].status).toBe("fault");
    expect(r.outcomes[0].fault).toContain("cap_failed");
  });

  it("NARROW refuses a scope whose real path leaves the held scope (cap_denied)", () => {
    const r = runChain({ narrows: ["link"], calls: [read("secret.txt")] }, scope);
    expect(r.status).toBe("fault");
    expect(r.fault).toContain("cap_denied");
    expect(r.outcomes[0].status).toBe("not_run");
  });

  it("NARROW still accepts a real directory inside the scope, and a path that does not exist yet", () => {
    const r = runChain({ narrows: ["in"], calls: [read("ok.txt")] }, scope);
    expect(r.status).toBe("done");
    expect(text(r.outcomes[0].words)).toBe("inside");
    expect(runChain({ narrows: ["later"], calls: [] }, scope).status).toBe("done");
  });

  it("a scope that becomes a symlink out after the narrowing reaches nothing outside, for any call", () => {
    const calls: FsCall[] = [
      read("secret.txt"),
      { cap: "fs.list", args: [""] },
      { cap: "fs.stat", args: ["secret.txt"] },
      { cap: "fs.write", args: ["secret.txt", [120]] },
      { cap: "fs.write", args: ["new.txt", [120]] },
      { cap: "fs.mkdir", args: ["made"] },
      { cap: "fs.remove", args: ["secret.txt"] },
      { cap: "fs.rename", args: ["secret.txt", "moved.txt"] },
    ];
    const r = runChain({ narrows: ["later"], calls }, scope, () => symlinkSync(outside, join(scope, "later")));
    expect(r.status).toBe("done");
    expect(r.chain.at(-1)).toContain(`fs.read:${join(scope, "later")}`);
    for (const o of r.outcomes) {
      expect(o.status, o.call.cap).toBe("fault");
      expect(o.fault, o.call.cap).toContain("cap_failed");
    }
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe("secret");
    for (const f of ["new.txt", "made", "moved.txt"]) expect(existsSync(join(outside, f)), f).toBe(false);
  });

  it("two levels down: a grandchild narrowed inside a link its parent was narrowed to is refused too", () => {
    mkdirSync(join(outside, "deep"));
    writeFileSync(join(outside, "deep", "x.txt"), "deep secret");
    const r = runChain({ narrows: ["later", "deep"], calls: [read("x.txt")] }, scope, () => symlinkSync(outside, join(scope, "later")));
    expect(r.outcomes[0].status).toBe("fault");
    expect(r.outcomes[0].fault).toContain("cap_failed");
  });
});

describe("the chain check itself", () => {
  it("resolveScoped refuses a path inside the caller's scope that leaves an ancestor's", () => {
    const narrowed = join(scope, "link");
    expect(resolveScoped([narrowed], "secret.txt").real).toBe(join(outside, "secret.txt"));
    expect(() => resolveScoped([narrowed], "secret.txt", true, [[scope], [narrowed]])).toThrow(/escapes the scope/);
  });

  it("a level holding an unscoped grant contains everything; a level whose scopes are gone contains nothing", () => {
    expect(new ChainScopes([[""], [scope]]).contains(join(scope, "in"))).toBe(true);
    expect(new ChainScopes([[join(top, "gone")], [scope]]).contains(join(scope, "in"))).toBe(false);
  });
});

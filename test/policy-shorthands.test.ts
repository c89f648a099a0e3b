// The shorthands a policy accepts (spec/capabilities.md §6): `env:KEY` for
// env.get:KEY (the spelling), and `fs.*:SCOPE` for every filesystem
// family with that scope.

import { mkdtempSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPolicy } from "../src/caps/policy.js";
import { familiesScoped } from "../src/caps/signatures.js";
import { RarError } from "../src/vm/errors.js";

describe("policy shorthands", () => {
  it("env:KEY grants env.get:KEY, in flags and in a policy's deny", () => {
    expect(loadPolicy({ allow: ["env:HOME"] }).grants).toEqual(["env.get:HOME"]);
    expect(loadPolicy({ allow: ["env:HOME", "env:PATH"], deny: ["env:PATH"] }).grants).toEqual(["env.get:HOME"]);
    expect(() => loadPolicy({ allow: ["env:a/b"] })).toThrow(RarError);
  });

  it("fs.*:SCOPE grants every fs family at that scope, a host directory or a view of the tree", () => {
    const fs = [...familiesScoped("dir")].sort();
    expect(fs.length).toBeGreaterThan(10);
    expect(loadPolicy({ allow: ["fs.*:tree:/notes"] }).grants).toEqual(fs.map((f) => `${f}:tree:/notes`));
    const dir = realpathSync(mkdtempSync(join(tmpdir(), "rar-sh-")));
    expect(loadPolicy({ allow: [`fs.*:${dir}`] }).grants).toEqual(fs.map((f) => `${f}:${dir}`));
    expect(loadPolicy({ allow: ["fs.*:tree:/"], deny: ["fs.*:tree:/"] }).grants).toEqual([]);
  });

  it("--mount grants every fs family at the mount point, and the policy records the point and mode only", () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), "rar-sh-")));
    const p = loadPolicy({ mounts: [`/data=${dir}:ro`] });
    expect(p.mounts).toEqual([{ guest: "/data", host: dir, readOnly: true }]);
    expect(p.grants).toEqual([...familiesScoped("dir")].sort().map((f) => `${f}:tree:/data`));
  });
});

// `npm run fuzz` in miniature: a few hundred inputs of each kind of untrusted
// input (images, module bundles, Ent and assembly sources, policies), fixed
// seed, and not one host exception, anomaly, hang or crash. The full-size
// runs are scripts/fuzz.ts's; this keeps the generators and checks working.

import { describe, expect, it } from "vitest";
import { fuzzRange, type Finding } from "../scripts/fuzz/run.js";
import type { KindName } from "../scripts/fuzz/target.js";

const SEED = 7;

function summary(findings: Finding[]): string[] {
  return findings.map((f) => `${f.kind} ${f.index} (${f.how}): ${f.error.split("\n").slice(0, 3).join(" | ")}`);
}

describe("fuzzing untrusted inputs finds nothing", () => {
  const counts: Record<KindName, number> = { images: 400, modules: 400, sources: 250, policies: 400 };
  for (const kind of Object.keys(counts) as KindName[]) {
    it(`${counts[kind]} ${kind}: no host exception or anomaly`, () => {
      const r = fuzzRange(kind, SEED, 0, counts[kind]);
      expect(r.tried).toBe(counts[kind]);
      expect(summary(r.findings)).toEqual([]);
      // Not everything is rejected: the inputs reach past the first checks.
      const accepted = [...r.outcomes].filter(([k]) => !k.startsWith("rejected")).reduce((a, [, n]) => a + n, 0);
      expect(accepted).toBeGreaterThan(counts[kind] / 10);
    });
  }
});

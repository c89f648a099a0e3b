// SHA-256 (src/vm/sha256.ts): noble hashes until 64 KB have been hashed or one
// input is over 4 KB, node:crypto from then on. Both must give the bytes
// node:crypto gives, in every function, before and after the switch.
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";

type Sha = typeof import("../src/vm/sha256.js");

async function fresh(): Promise<Sha> {
  vi.resetModules();
  return import("../src/vm/sha256.js");
}

const ref = (parts: readonly Uint8Array[]): string => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
};
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString("hex");

function agrees(sha: Sha, runs: number): void {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 3 }), (parts) => {
      expect(hexOf(sha.sha256Chunks(parts))).toBe(ref(parts));
      expect(hexOf(sha.sha256(parts[0]))).toBe(ref([parts[0]]));
      expect(sha.sha256Hex(parts[0])).toBe(ref([parts[0]]));
      expect(hexOf(sha.sha256Link(parts[0], parts[1] ?? new Uint8Array(0), parts[2]))).toBe(ref(parts));
    }),
    { numRuns: runs },
  );
}

describe("sha256", () => {
  it("noble hashes small inputs until 64 KB in all, then node:crypto; the bytes agree on both sides", async () => {
    const sha = await fresh();
    const kb = new Uint8Array(1024).fill(7);
    for (let i = 0; i < 64; i++) expect(sha.sha256Hex(kb)).toBe(ref([kb]));
    expect(sha.sha256IsNative()).toBe(false);
    expect(sha.sha256Hex(kb)).toBe(ref([kb]));
    expect(sha.sha256IsNative()).toBe(true);
    agrees(sha, 200);
  });

  it("small inputs agree while noble hashes them", async () => {
    const sha = await fresh();
    agrees(sha, 40);
    expect(sha.sha256IsNative()).toBe(false);
  });

  it("one input over 4 KB switches at once", async () => {
    const sha = await fresh();
    const big = new Uint8Array(4097).map((_, i) => i);
    expect(sha.sha256IsNative()).toBe(false);
    expect(hexOf(sha.sha256Chunks([big.subarray(0, 100), big.subarray(100)]))).toBe(ref([big]));
    expect(sha.sha256IsNative()).toBe(true);
  });

  it("large inputs in chunks agree (node:crypto's streaming path)", async () => {
    const sha = await fresh();
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1000, maxLength: 3000 }), { minLength: 2, maxLength: 4 }), (parts) => {
        expect(hexOf(sha.sha256Chunks(parts))).toBe(ref(parts));
      }),
      { numRuns: 30 },
    );
    expect(sha.sha256IsNative()).toBe(true);
  });
});

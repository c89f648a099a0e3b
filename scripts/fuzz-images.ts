// `npm run fuzz:images [-- --seed N --rounds N]`: the malformed-image
// generators of test/image-fuzz.ts at larger counts than CI runs (not part of
// the test suite). Every input must be rejected with RarError("image") or
// decode to a tree that runs without a host exception; anything else is
// printed with the seed that reproduces it and the script exits 1.

import fc from "fast-check";
import { Session } from "../src/session.js";
import { load } from "../test/helpers/asm.js";
import {
  Rng,
  byteMutations,
  check,
  fieldMutations,
  hugeLengths,
  nestingBomb,
  randomInputs,
  truncations,
  validImages,
} from "../test/image-fuzz.js";
import { progArb, renderProg } from "../test/image-programs.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const seed = arg("seed", Date.now() % 1_000_000);
const rounds = arg("rounds", 20);
let inputs = 0;
let rejected = 0;

function probe(bytes: Uint8Array, what: string): void {
  inputs++;
  try {
    if (check(bytes) === "rejected") rejected++;
  } catch (e) {
    process.stderr.write(`fuzz:images: ${what} (seed ${seed}) raised a host exception:\n${(e as Error).stack}\n`);
    process.exit(1);
  }
}

/** Images of random programs suspended at random points, besides the fixed ones. */
function seedImages(rng: Rng): Uint8Array[] {
  const out = validImages();
  for (const prog of fc.sample(progArb, { numRuns: rounds, seed })) {
    const s = Session.start(load(renderProg(prog)), { gas: 1 + rng.below(3000), stdout: () => {} });
    s.run();
    out.push(s.snapshot());
  }
  return out;
}

const rng = new Rng(seed);
const images = seedImages(rng);
process.stderr.write(`fuzz:images: seed ${seed}, ${images.length} seed images\n`);
images.forEach((img, i) => {
  for (const t of truncations(img)) probe(t, `truncation of image ${i}`);
  for (const m of byteMutations(img, rng, false)) probe(m, `byte mutation of image ${i}`);
  for (const m of byteMutations(img, rng, true)) probe(m, `resealed byte mutation of image ${i}`);
  for (const m of fieldMutations(img, rng)) probe(m, `field mutation of image ${i}`);
  process.stderr.write(`  image ${i} (${img.length} bytes): ${inputs} inputs so far\n`);
});
for (const r of randomInputs(rng, 200 * rounds, images[0])) probe(r, "random input");
for (const b of hugeLengths()) probe(b, "huge length");
for (const d of [100, 10_000, 1_000_000]) probe(nestingBomb(d), `nesting bomb ${d}`);
process.stdout.write(`fuzz:images: seed ${seed}: ${inputs} inputs, ${rejected} rejected, ${inputs - rejected} decoded and ran; no host exception\n`);

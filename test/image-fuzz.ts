// Malformed images, for test/image-malformed.test.ts (fixed seed, CI) and
// scripts/fuzz-images.ts (larger counts): valid images to start from, ways to
// break them (truncation, byte flips with and without a fresh digest, field
// mutations, random bytes, length and nesting bombs), and the one property
// they must all satisfy: decoding either succeeds — and then the tree runs
// without a host exception — or throws a RarError("image").

import { decodeImage } from "../src/image/decode.js";
import { HEADER_BYTES, seal } from "../src/image/encode.js";
import { F } from "../src/image/format.js";
import { WireWriter, join } from "../src/image/wire.js";
import type { WireValue } from "../src/image/format.js";
import { Session } from "../src/session.js";
import { RarError } from "../src/vm/errors.js";
import { packr } from "../src/vm/module.js";
import { load } from "./helpers/asm.js";
import { SAMPLE, SMALL, renderProg } from "./image-programs.js";

/** A small deterministic generator (xorshift32), so failures reproduce from the seed alone. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  below(n: number): number {
    return this.next() % n;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff;
    return b;
  }
}

/** Valid images of assorted shapes: a tiny suspended loop, nested trees mid-run, a finished run. */
export function validImages(): Uint8Array[] {
  const loop = load(`.func main 0 2
  PUSH 50
  LSET 0
again:
  LINC 1 3
  LINC 0 -1
  LGET 0
  JNZ again
  LGET 1
  RET`);
  const out: Uint8Array[] = [];
  const quiet = { stdout: (): void => {} };
  const suspendAt = (src: string | ReturnType<typeof load>, gas: number): Uint8Array => {
    const s = Session.start(typeof src === "string" ? load(src) : src, { ...quiet, gas });
    s.run();
    return s.snapshot();
  };
  out.push(suspendAt(loop, 40));
  out.push(suspendAt(renderProg(SMALL), 150));
  // Suspended while three deep (a frozen grandchild): depends on the gas schedule.
  out.push(suspendAt(renderProg(SAMPLE), 1200));
  out.push(suspendAt(renderProg(SAMPLE), 100_000));
  return out;
}

/** The smallest of validImages(), for exhaustive byte mutation. */
export function smallImage(): Uint8Array {
  return validImages()[0];
}

export type Outcome = "ok" | "rejected";

/**
 * Decodes untrusted bytes. A RarError("image") is a rejection; any other
 * exception is a bug and propagates. A decoded tree is also run a little
 * (bounded gas), which must not raise a host exception either.
 */
export function check(bytes: Uint8Array): Outcome {
  try {
    decodeImage(bytes);
  } catch (e) {
    if (e instanceof RarError && e.phase === "image") return "rejected";
    throw e;
  }
  let s: Session;
  try {
    s = Session.fromImage(bytes, { stdout: () => {}, record: false });
  } catch (e) {
    // A grant the host does not give is refused before anything runs (authority never travels).
    if (e instanceof RarError && e.phase === "policy") return "rejected";
    throw e;
  }
  const root = s.root;
  // Whatever limits the bytes claim, the host spends little on them.
  root.gasLimit = Math.min(root.gasLimit, root.gasUsed + 20_000);
  try {
    s.run();
    s.snapshot();
  } catch (e) {
    if (!(e instanceof RarError)) throw e;
  }
  return "ok";
}

/** The body of an image (the msgpack inside the header). */
export function bodyOf(image: Uint8Array): Uint8Array {
  return image.subarray(HEADER_BYTES);
}

/** An image around arbitrary body bytes, with a correct digest. */
export function sealed(body: Uint8Array): Uint8Array {
  return seal([body], body.length);
}

/** The body as plain values (arrays, numbers, strings, binaries, nil). */
export function unpackBody(image: Uint8Array): WireValue[] {
  return packr.unpack(bodyOf(image)) as WireValue[];
}

/** An image of a (mutated) body value, sealed. */
export function sealValue(body: WireValue): Uint8Array {
  const w = new WireWriter().value(body);
  return sealed(join(w.parts()));
}

/** Every proper prefix of the image. */
export function* truncations(image: Uint8Array): Generator<Uint8Array> {
  for (let k = 0; k < image.length; k++) yield image.subarray(0, k);
}

/** Each byte replaced by a different random value; `reseal` recomputes the digest so decoding goes past it. */
export function* byteMutations(image: Uint8Array, rng: Rng, reseal: boolean): Generator<Uint8Array> {
  const start = reseal ? HEADER_BYTES : 0;
  for (let i = start; i < image.length; i++) {
    const b = Uint8Array.from(image);
    b[i] ^= 1 + rng.below(255);
    yield reseal ? sealed(b.subarray(HEADER_BYTES)) : b;
  }
}

const INTERESTING: WireValue[] = [
  null,
  -1,
  0,
  1,
  2,
  3,
  7,
  255,
  65_536,
  0x7fffffff,
  -0x80000000,
  2 ** 40,
  Number.MAX_SAFE_INTEGER,
  "",
  "fault",
  "div_by_zero",
  [],
  [0],
  new Uint8Array(0),
  new Uint8Array(4),
  new Uint8Array(12),
];

/** Every field of every process record (and of the body) set to each of a list of awkward values. */
export function* fieldMutations(image: Uint8Array, rng: Rng): Generator<Uint8Array> {
  const body = unpackBody(image);
  const tree = body[4] as WireValue[][];
  for (let i = 0; i < body.length; i++) {
    for (const v of INTERESTING) {
      const b = [...body];
      b[i] = v;
      yield sealValue(b);
    }
  }
  for (let r = 0; r < tree.length; r++) {
    for (let f = 0; f < tree[r].length; f++) {
      const values = [...INTERESTING];
      const cur = tree[r][f];
      if (typeof cur === "number") values.push(cur + 1, cur - 1, cur + 3, cur * 2);
      if (cur instanceof Uint8Array && cur.length > 0) {
        values.push(cur.subarray(4), cur.subarray(0, cur.length - 4), Uint8Array.from([...cur, 0, 0, 0, 0]));
        const flipped = Uint8Array.from(cur);
        flipped[rng.below(cur.length)] ^= 1 + rng.below(255);
        values.push(flipped);
      }
      for (const v of values) {
        const t = tree.map((rec) => [...rec]);
        t[r][f] = v;
        const b = [...body];
        b[4] = t;
        yield sealValue(b);
      }
    }
  }
}

/** Random byte strings: bare, after a valid header prefix, and sealed as a body. */
export function* randomInputs(rng: Rng, count: number, header: Uint8Array): Generator<Uint8Array> {
  for (let i = 0; i < count; i++) {
    const r = rng.bytes(rng.below(300));
    yield r;
    const withHeader = new Uint8Array(HEADER_BYTES + r.length);
    withHeader.set(header.subarray(0, HEADER_BYTES));
    withHeader.set(r, HEADER_BYTES);
    yield withHeader;
    yield sealed(r);
  }
}

/** Bodies declaring far more than they hold: arrays, strings and binaries of up to 2^32-1. */
export function hugeLengths(): Uint8Array[] {
  const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  const bodies = [
    [0xdd, ...u32(0xffffffff)],
    [0xdc, 0xff, 0xff],
    [0xc6, ...u32(0xffffffff), 1, 2, 3],
    [0xdb, ...u32(0x7fffffff), 0x41],
    [0x96, 0xa1, 0x41, 0xc6, ...u32(0xfffffff0)],
    [0x96, 0xa1, 0x41, 0xc4, 32, ...new Array<number>(32).fill(0), 0x92, 0xc0, 0xc0, 0xdd, ...u32(1 << 30)],
  ];
  const out = bodies.map((b) => sealed(Uint8Array.from(b)));
  // The header itself declaring a body longer than the file.
  const h = sealed(Uint8Array.of(0xc0));
  new DataView(h.buffer).setUint32(HEADER_BYTES - 4, 0xffffffff);
  out.push(h);
  return out;
}

/** A body of `depth` nested one-element arrays. */
export function nestingBomb(depth: number): Uint8Array {
  const b = new Uint8Array(depth + 1).fill(0x91);
  b[depth] = 0xc0;
  return sealed(b);
}

export { F };

// SHA-256, the one hash of rar: module digests, image digests, trace links.
//
// Two implementations give the same bytes (test/digest.test.ts checks it):
// @noble/hashes' (plain JS, part of the code that loads anyway) and
// node:crypto's (native, ~10x faster on megabytes). Loading node:crypto costs
// a start about 5 ms (it brings the streams with it): more than noble needs for
// 64 KB, and more than the whole hello-world `rar run` hashes. So noble hashes
// until one input is over 4 KB or 64 KB have been hashed in all, and from then
// on node:crypto does (on Node without process.getBuiltinModule, < 20.16,
// noble does throughout). Which one ran is never visible: only time differs.

import { Buffer } from "node:buffer";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2";
import { bytesToHex } from "@noble/hashes/utils";

/** Bytes hashed by noble before node:crypto takes over; any one input larger than ONE_SHOT_MAX switches at once. */
const NOBLE_BUDGET = 64 * 1024;
/** Inputs up to this many bytes are hashed in one call over a copy in SCRATCH (trace links, module bytes). */
const ONE_SHOT_MAX = 4096;
const SCRATCH = new Uint8Array(ONE_SHOT_MAX);

type OneShot = (algorithm: string, data: Uint8Array, encoding: "binary" | "hex") => string;
interface NodeCrypto {
  hash: OneShot;
  createHash(algorithm: string): { update(data: Uint8Array): unknown; digest(encoding: "binary"): string };
}

let nobleLeft = NOBLE_BUDGET;
/** node:crypto once loaded; null while noble hashes (and for good on a Node that cannot load it lazily). */
let native: NodeCrypto | null = null;

/** node:crypto if `n` more bytes are past noble's budget (it is then loaded, once), else null (noble's share is counted). */
function nativeFor(n: number): NodeCrypto | null {
  if (native !== null) return native;
  if (n <= ONE_SHOT_MAX && n <= nobleLeft) {
    nobleLeft -= n;
    return null;
  }
  const load = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  const c = load?.("node:crypto") as NodeCrypto | undefined;
  if (c === undefined || typeof c.hash !== "function") {
    nobleLeft = Infinity;
    return null;
  }
  native = c;
  return c;
}

/** The 32 bytes of a digest given as binary (latin1) text, one char per byte. */
function binaryBytes(text: string): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** SHA-256 of the chunks' concatenation, as fresh bytes. */
export function sha256Chunks(chunks: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const c = nativeFor(n);
  if (c === null) {
    if (chunks.length === 1) return nobleSha256(chunks[0]);
    const h = nobleSha256.create();
    for (const chunk of chunks) h.update(chunk);
    return h.digest();
  }
  if (chunks.length === 1) return binaryBytes(c.hash("sha256", chunks[0], "binary"));
  if (n <= ONE_SHOT_MAX) {
    let at = 0;
    for (const chunk of chunks) {
      SCRATCH.set(chunk, at);
      at += chunk.length;
    }
    return binaryBytes(c.hash("sha256", SCRATCH.subarray(0, n), "binary"));
  }
  const h = c.createHash("sha256");
  for (const chunk of chunks) h.update(chunk);
  // As binary (latin1) text, one char per byte, not a Buffer: a Buffer is memory outside the JS heap,
  // an allocation that costs more than hashing a short input (a restore hashes every trace link).
  return binaryBytes(h.digest("binary"));
}

/** SHA-256 of prev || a || b (b optional), as fresh bytes: a trace link (enc(e) in one or two chunks) without a list of chunks. */
export function sha256Link(prev: Uint8Array, a: Uint8Array, b?: Uint8Array): Uint8Array {
  const n = prev.length + a.length + (b === undefined ? 0 : b.length);
  if (native === null || n > ONE_SHOT_MAX) return sha256Chunks(b === undefined ? [prev, a] : [prev, a, b]);
  SCRATCH.set(prev, 0);
  SCRATCH.set(a, prev.length);
  if (b !== undefined) SCRATCH.set(b, prev.length + a.length);
  return binaryBytes(native.hash("sha256", SCRATCH.subarray(0, n), "binary"));
}

/** SHA-256 of bytes, as fresh bytes. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return sha256Chunks([bytes]);
}

/** SHA-256 in hex (module digests): no bytes in between once node:crypto hashes. */
export function sha256Hex(bytes: Uint8Array): string {
  const c = nativeFor(bytes.length);
  return c !== null ? c.hash("sha256", bytes, "hex") : bytesToHex(nobleSha256(bytes));
}

/** Bytes as lowercase hex (as @noble/hashes' bytesToHex): made natively, one flat string (a restore names its image's digest). */
export function hex(bytes: Uint8Array): string {
  return bytes.length >= 16 ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex") : bytesToHex(bytes);
}

/** Whether node:crypto hashes now (tests; the bytes are the same either way). */
export function sha256IsNative(): boolean {
  return native !== null;
}

// Images in Redis, content-addressed (spec/distributed.md "What is stored
// where"). An image is stored as its code modules, each under the sha256 of
// its bytes (so a module that many jobs run is stored once), and the rest of
// the image around them (the job's own state). Joining the parts gives back
// the very bytes that were split, which loading checks against the digest in
// their header like any image.

import { sha256 } from "@noble/hashes/sha2";
import { bytesToHex } from "@noble/hashes/utils";
import type { Redis } from "ioredis";
import { HEADER_BYTES } from "../image/encode.js";
import { B, IMAGE_MAGIC } from "../image/format.js";
import { elementSpans } from "../image/wire.js";
import { RarError } from "../vm/errors.js";

/** An image cut around its modules: head ++ modules... ++ tail is the image. */
export interface SplitImage {
  readonly head: Uint8Array;
  /** Hex sha256 of each module's bytes, in the image's order. */
  readonly modules: readonly string[];
  readonly moduleBytes: readonly Uint8Array[];
  readonly tail: Uint8Array;
  /** The image's own digest (the header's, as `rar inspect` shows it). */
  readonly imageDigest: string;
}

/** Where a module's bytes live. */
export const moduleKey = (digest: string): string => `rar:mod:${digest}`;

/** The header's digest of the body: what `rar inspect` calls imageDigest. */
export function imageDigestOf(image: Uint8Array): string {
  const at = 1 + 1 + IMAGE_MAGIC.length + 1 + 2;
  return bytesToHex(image.subarray(at, at + 32));
}

/** Cuts an image this host encoded (or verified) around its modules. */
export function splitImage(image: Uint8Array): SplitImage {
  const body = image.subarray(HEADER_BYTES);
  const spans = elementSpans(body, [B.modules]);
  if (spans.length === 0) return { head: image, modules: [], moduleBytes: [], tail: new Uint8Array(0), imageDigest: imageDigestOf(image) };
  const moduleBytes = spans.map(([s, e]) => body.subarray(s, e));
  return {
    head: image.subarray(0, HEADER_BYTES + spans[0][0]),
    modules: moduleBytes.map((m) => bytesToHex(sha256(m))),
    moduleBytes,
    tail: image.subarray(HEADER_BYTES + spans[spans.length - 1][1]),
    imageDigest: imageDigestOf(image),
  };
}

/** Stores the modules of a split image that Redis does not hold yet (content-addressed: never overwritten). */
export async function storeModules(redis: Redis, split: SplitImage): Promise<void> {
  if (split.modules.length === 0) return;
  const batch = redis.pipeline();
  split.modules.forEach((d, i) => batch.set(moduleKey(d), Buffer.from(split.moduleBytes[i]), "NX"));
  const results = (await batch.exec()) ?? [];
  for (const [e] of results) if (e) throw e;
}

/** The image of `head`, the stored modules and `tail`; a missing or altered module is a RarError naming it. */
export async function joinImage(redis: Redis, head: Uint8Array, modules: readonly string[], tail: Uint8Array, where: string): Promise<Uint8Array> {
  const parts = modules.length === 0 ? [] : await redis.mgetBuffer(...modules.map(moduleKey));
  let n = head.length + tail.length;
  parts.forEach((p, i) => {
    if (p === null) throw new RarError("io.module_missing", `module ${modules[i].slice(0, 16)}… is not in Redis`, where);
    if (bytesToHex(sha256(p)) !== modules[i]) throw new RarError("io.module_altered", `module ${modules[i].slice(0, 16)}… does not match its digest`, where);
    n += p.length;
  });
  const out = new Uint8Array(n);
  out.set(head, 0);
  let at = head.length;
  for (const p of parts as Buffer[]) {
    out.set(p, at);
    at += p.length;
  }
  out.set(tail, at);
  return out;
}

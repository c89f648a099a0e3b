// A structural check of untrusted msgpack bytes, before msgpackr sees them:
// msgpackr decodes nested arrays by recursion, so a value nested 100,000
// deep (a few hundred kilobytes of 0x91) would overflow the host stack. The
// scan walks the structure iteratively, checks every declared length against
// the bytes that remain and the nesting depth, and admits only the types rar
// formats use (nil, integers, float64, strings, binaries, arrays). Images
// (src/image/wire.ts) and modules (module.ts: .rmod bundles, SPAWNC code)
// both scan first; errors carry the caller's phase.

import { RarError, type PhaseOf } from "./errors.js";

/**
 * Checks that `bytes` hold exactly one msgpack value of the types rar formats use
 * (nil, integers, float64, strings, binaries, arrays), nested at most
 * `maxDepth` deep, with every declared length within the remaining bytes.
 * Runs in O(bytes) time and O(depth) memory, without recursion.
 */
export function scan(bytes: Uint8Array, maxDepth: number, where: string, phase: PhaseOf<"msgpack" | "nesting" | "trailing" | "truncated">): void {
  const end = scanValue(bytes, 0, maxDepth, where, phase);
  if (end !== bytes.length) throw new RarError(`${phase}.trailing`, `${bytes.length - end} bytes after the end of the value`, where);
}

/** Checks one value starting at `start` as scan() does; returns where it ends. */
export function scanValue(bytes: Uint8Array, start: number, maxDepth: number, where: string, phase: PhaseOf<"msgpack" | "nesting" | "trailing" | "truncated">): number {
  const n = bytes.length;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Elements still expected by each open array, innermost last.
  const open: number[] = [];
  let expect = 1;
  let pos = start;
  const need = (k: number, what: string): void => {
    if (k > n - pos) throw new RarError(`${phase}.truncated`, `truncated: ${what} at byte ${pos} needs ${k} bytes, ${n - pos} remain`, where);
  };
  for (;;) {
    while (expect === 0) {
      if (open.length === 0) return pos;
      expect = open.pop() as number;
    }
    expect--;
    need(1, "a value");
    const t = bytes[pos++];
    let len = -1;
    let isArray = false;
    if (t <= 0x7f || t >= 0xe0 || t === 0xc0) continue;
    if (t >= 0xa0 && t <= 0xbf) len = t & 0x1f;
    else if (t >= 0x90 && t <= 0x9f) {
      len = t & 0x0f;
      isArray = true;
    } else {
      switch (t) {
        case 0xcc:
        case 0xd0:
          need(1, "an int");
          pos += 1;
          continue;
        case 0xcd:
        case 0xd1:
          need(2, "an int");
          pos += 2;
          continue;
        case 0xce:
        case 0xd2:
          need(4, "an int");
          pos += 4;
          continue;
        case 0xcb:
          need(8, "a float");
          pos += 8;
          continue;
        case 0xc4:
        case 0xd9:
          need(1, "a length");
          len = bytes[pos];
          pos += 1;
          break;
        case 0xc5:
        case 0xda:
          need(2, "a length");
          len = dv.getUint16(pos);
          pos += 2;
          break;
        case 0xc6:
        case 0xdb:
          need(4, "a length");
          len = dv.getUint32(pos);
          pos += 4;
          break;
        case 0xdc:
          need(2, "a length");
          len = dv.getUint16(pos);
          pos += 2;
          isArray = true;
          break;
        case 0xdd:
          need(4, "a length");
          len = dv.getUint32(pos);
          pos += 4;
          isArray = true;
          break;
        default:
          throw new RarError(`${phase}.msgpack`, `msgpack type 0x${t.toString(16)} at byte ${pos - 1} is not used by rar's formats`, where);
      }
    }
    if (isArray) {
      // Every element takes at least one byte.
      if (len > n - pos) throw new RarError(`${phase}.truncated`, `truncated: an array at byte ${pos} declares ${len} elements, ${n - pos} bytes remain`, where);
      if (len === 0) continue;
      if (open.length + 1 > maxDepth) throw new RarError(`${phase}.nesting`, `values nested deeper than ${maxDepth} at byte ${pos}`, where);
      open.push(expect);
      expect = len;
    } else {
      need(len, "a string or binary");
      pos += len;
    }
  }
}

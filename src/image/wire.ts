// The msgpack layer of images. Writing is canonical and our own: every value
// has exactly one encoding (the shortest), so one state gives one byte string
// whatever msgpackr version is installed. Big binaries (memories, stacks) are
// emitted as views, not copies, and the output is kept as chunks so it can be
// hashed and concatenated in one pass.
//
// Reading untrusted bytes: scan() (src/vm/scan.ts) walks the structure
// iteratively (no recursion), checks every declared length against the bytes
// that remain and the nesting depth, and admits only the types the format
// uses. Only then do the bytes go to msgpackr.

import { RarError } from "../vm/errors.js";
import { packr } from "../vm/module.js";
import { scan as scanBytes, scanValue as scanOne } from "../vm/scan.js";
import type { WireValue } from "./format.js";

/**
 * First scratch buffer (small: most encodings are a few hundred bytes; each
 * buffer is memory outside the JS heap, which makes the GC run sooner), then
 * four times larger ones, up to SCRATCH.
 */
const SCRATCH_FIRST = 1 << 8;
const SCRATCH = 1 << 16;
/** Binaries at least this long are emitted as views of the caller's memory. */
const VIEW_MIN = 256;

const utf8 = new TextEncoder();

export class WireWriter {
  private readonly chunks: Uint8Array[] = [];
  private buf = new Uint8Array(SCRATCH_FIRST);
  private view = new DataView(this.buf.buffer);
  private pos = 0;
  private start = 0;
  private total = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    const size = Math.max(Math.min(SCRATCH, this.buf.length * 4), n);
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
    this.pos = 0;
    this.start = 0;
  }

  private flush(): void {
    if (this.pos > this.start) {
      this.chunks.push(this.buf.subarray(this.start, this.pos));
      this.total += this.pos - this.start;
      this.start = this.pos;
    }
  }

  nil(): this {
    this.room(1);
    this.buf[this.pos++] = 0xc0;
    return this;
  }

  /** A safe integer: the shortest int form; float64 outside the int32/uint32 range (what msgpackr reads back as a number). */
  int(n: number): this {
    this.room(9);
    const b = this.buf;
    const v = this.view;
    if (n >= 0) {
      if (n < 0x80) b[this.pos++] = n;
      else if (n < 0x100) {
        b[this.pos++] = 0xcc;
        b[this.pos++] = n;
      } else if (n < 0x10000) {
        b[this.pos++] = 0xcd;
        v.setUint16(this.pos, n);
        this.pos += 2;
      } else if (n < 0x100000000) {
        b[this.pos++] = 0xce;
        v.setUint32(this.pos, n);
        this.pos += 4;
      } else {
        b[this.pos++] = 0xcb;
        v.setFloat64(this.pos, n);
        this.pos += 8;
      }
    } else if (n >= -32) {
      b[this.pos++] = n & 0xff;
    } else if (n >= -128) {
      b[this.pos++] = 0xd0;
      v.setInt8(this.pos++, n);
    } else if (n >= -32768) {
      b[this.pos++] = 0xd1;
      v.setInt16(this.pos, n);
      this.pos += 2;
    } else if (n >= -0x80000000) {
      b[this.pos++] = 0xd2;
      v.setInt32(this.pos, n);
      this.pos += 4;
    } else {
      b[this.pos++] = 0xcb;
      v.setFloat64(this.pos, n);
      this.pos += 8;
    }
    return this;
  }

  array(n: number): this {
    this.room(5);
    if (n < 16) this.buf[this.pos++] = 0x90 | n;
    else if (n < 0x10000) {
      this.buf[this.pos++] = 0xdc;
      this.view.setUint16(this.pos, n);
      this.pos += 2;
    } else {
      this.buf[this.pos++] = 0xdd;
      this.view.setUint32(this.pos, n);
      this.pos += 4;
    }
    return this;
  }

  str(s: string): this {
    // Short ASCII strings (names, empty details: most of a tree's) are written as they are, without an encoder.
    const k = s.length;
    if (k < 32) {
      this.room(1 + k);
      const b = this.buf;
      let i = 0;
      while (i < k && s.charCodeAt(i) < 0x80) i++;
      if (i === k) {
        b[this.pos++] = 0xa0 | k;
        for (let j = 0; j < k; j++) b[this.pos++] = s.charCodeAt(j);
        return this;
      }
    }
    const bytes = utf8.encode(s);
    const n = bytes.length;
    this.room(5 + n);
    if (n < 32) this.buf[this.pos++] = 0xa0 | n;
    else if (n < 0x100) {
      this.buf[this.pos++] = 0xd9;
      this.buf[this.pos++] = n;
    } else if (n < 0x10000) {
      this.buf[this.pos++] = 0xda;
      this.view.setUint16(this.pos, n);
      this.pos += 2;
    } else {
      this.buf[this.pos++] = 0xdb;
      this.view.setUint32(this.pos, n);
      this.pos += 4;
    }
    this.buf.set(bytes, this.pos);
    this.pos += n;
    return this;
  }

  /** Binary data; long ones are referenced, not copied, until the output is joined. */
  bin(bytes: Uint8Array): this {
    const n = bytes.length;
    this.room(5);
    if (n < 0x100) {
      this.buf[this.pos++] = 0xc4;
      this.buf[this.pos++] = n;
    } else if (n < 0x10000) {
      this.buf[this.pos++] = 0xc5;
      this.view.setUint16(this.pos, n);
      this.pos += 2;
    } else {
      this.buf[this.pos++] = 0xc6;
      this.view.setUint32(this.pos, n);
      this.pos += 4;
    }
    this.raw(bytes);
    return this;
  }

  /**
   * The first n words of a as binary, little endian (the host's order, and
   * the format's). Short arrays are copied word by word: taking the bytes of
   * a small typed array as a view would move it off the JS heap (V8 keeps
   * small ones inside their object until `.buffer` is read). Long ones are
   * referenced, as bin() does.
   */
  words(a: Int32Array, n: number): this {
    if (n * 4 >= VIEW_MIN) return this.bin(new Uint8Array(a.buffer, a.byteOffset, n * 4));
    this.room(2 + n * 4);
    const b = this.buf;
    b[this.pos++] = 0xc4;
    b[this.pos++] = n * 4;
    for (let i = 0; i < n; i++) {
      const w = a[i];
      b[this.pos++] = w & 0xff;
      b[this.pos++] = (w >> 8) & 0xff;
      b[this.pos++] = (w >> 16) & 0xff;
      b[this.pos++] = (w >> 24) & 0xff;
    }
    return this;
  }

  /** Bytes that are already msgpack (or the payload of a bin header just written). */
  raw(bytes: Uint8Array): this {
    if (bytes.length >= VIEW_MIN) {
      this.flush();
      this.chunks.push(bytes);
      this.total += bytes.length;
    } else {
      this.room(bytes.length);
      this.buf.set(bytes, this.pos);
      this.pos += bytes.length;
    }
    return this;
  }

  /** Any wire value (trace events). Iterative: nesting is bounded by the scanner, but not here. */
  value(root: WireValue): this {
    const todo: WireValue[] = [root];
    while (todo.length > 0) {
      const v = todo.pop() as WireValue;
      if (v === null) this.nil();
      else if (typeof v === "number") this.int(v);
      else if (typeof v === "string") this.str(v);
      else if (v instanceof Uint8Array) this.bin(v);
      else {
        this.array(v.length);
        for (let i = v.length - 1; i >= 0; i--) todo.push(v[i]);
      }
    }
    return this;
  }

  /** The output so far as chunks (views; valid until the referenced memories change). */
  parts(): Uint8Array[] {
    this.flush();
    return this.chunks;
  }

  length(): number {
    this.flush();
    return this.total;
  }
}

/** Concatenates chunks into one fresh buffer. */
export function join(chunks: readonly Uint8Array[], total?: number): Uint8Array {
  let n = total ?? 0;
  if (total === undefined) for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** scan() of src/vm/scan.ts for images: errors of phase "image". */
export function scan(bytes: Uint8Array, maxDepth: number, where: string): void {
  scanBytes(bytes, maxDepth, where, "image");
}

/** Checks one value starting at `start` as scan() does; returns where it ends. */
export function scanValue(bytes: Uint8Array, start: number, maxDepth: number, where: string): number {
  return scanOne(bytes, start, maxDepth, where, "image");
}

/**
 * Byte spans [start, end) of the elements of the array found by following
 * `path` (array indices) from the top value. The bytes must have passed scan().
 */
export function elementSpans(bytes: Uint8Array, path: readonly number[]): [number, number][] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = (pos: number): [number, number] => {
    const t = bytes[pos];
    if (t >= 0x90 && t <= 0x9f) return [t & 0x0f, pos + 1];
    if (t === 0xdc) return [dv.getUint16(pos + 1), pos + 3];
    if (t === 0xdd) return [dv.getUint32(pos + 1), pos + 5];
    throw new RarError("image.shape", `expected an array at byte ${pos}`);
  };
  const skip = (pos: number): number => scanValue(bytes, pos, Number.MAX_SAFE_INTEGER, "image");
  let pos = 0;
  for (const i of path) {
    const [len, first] = header(pos);
    if (i >= len) throw new RarError("image.shape", `no element ${i} at byte ${pos}`);
    pos = first;
    for (let k = 0; k < i; k++) pos = skip(pos);
  }
  const [len, first] = header(pos);
  const spans: [number, number][] = [];
  pos = first;
  for (let k = 0; k < len; k++) {
    const end = skip(pos);
    spans.push([pos, end]);
    pos = end;
  }
  return spans;
}

/** Scans, then unpacks with msgpackr. */
export function unpackChecked(bytes: Uint8Array, maxDepth: number, where: string): unknown {
  scan(bytes, maxDepth, where);
  try {
    return packr.unpack(bytes);
  } catch (e) {
    throw new RarError("image.msgpack", `not valid msgpack (${(e as Error).message})`, where);
  }
}

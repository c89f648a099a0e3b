// The msgpack layer of images. Writing is canonical and our own: every value
// has exactly one encoding (the shortest), so one state gives one byte string
// whatever msgpackr version is installed. Big binaries (memories, stacks) are
// emitted as views, not copies, and the output is kept as chunks so it can be
// hashed and concatenated in one pass.
//
// Reading untrusted bytes: scan() (src/vm/scan.ts) walks the structure
// iteratively (no recursion), checks every declared length against the bytes
// that remain and the nesting depth, and admits only the types the format
// uses. Only then do the bytes go to msgpackr. Process records are instead
// read in place by a WireReader, which makes the same checks value by value
// as it reads them (no scan, no intermediate values: image/decode.ts).

import { Buffer } from "node:buffer";
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
export const SCRATCH = 1 << 16;
/** Binaries at least this long are emitted as views of the caller's memory. */
const VIEW_MIN = 256;

const utf8 = new TextEncoder();

export class WireWriter {
  private readonly chunks: Uint8Array[] = [];
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;
  private start = 0;
  private total = 0;
  /** buf[tailAt, pos) is the end of the output as written so far (repeat() copies from there). */
  private tailAt = 0;

  /**
   * `scratch`: the first buffer to write into, lent by a caller that copies
   * the output before it lends the buffer again (encodeImage); by default a
   * fresh SCRATCH_FIRST bytes.
   */
  constructor(scratch?: Uint8Array) {
    this.buf = scratch ?? new Uint8Array(SCRATCH_FIRST);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** The buffer being written into (the largest so far): a lender may lend it again once the output is copied. */
  scratch(): Uint8Array {
    return this.buf;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    const size = Math.max(Math.min(SCRATCH, this.buf.length * 4), n);
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
    this.pos = 0;
    this.start = 0;
    this.tailAt = 0;
  }

  private flush(): void {
    if (this.pos > this.start) {
      this.chunks.push(this.buf.subarray(this.start, this.pos));
      this.total += this.pos - this.start;
      this.start = this.pos;
    }
  }

  nil(): this {
    if (this.pos >= this.buf.length) this.room(1);
    this.buf[this.pos++] = 0xc0;
    return this;
  }

  /** A safe integer: the shortest int form; float64 outside the int32/uint32 range (what msgpackr reads back as a number). */
  int(n: number): this {
    // The common case (small counts, statuses, handles): one byte, room permitting. The rest
    // in its own method, so that this one is small enough to be inlined where it is called.
    if (n >= 0 && n < 0x80 && this.pos < this.buf.length) {
      this.buf[this.pos++] = n;
      return this;
    }
    return this.intForm(n);
  }

  private intForm(n: number): this {
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
    // A short array's header (every record, most grant lists): one byte, as int's common case.
    if (n < 16 && this.pos < this.buf.length) {
      this.buf[this.pos++] = 0x90 | n;
      return this;
    }
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
    if (k === 0 && this.pos < this.buf.length) {
      this.buf[this.pos++] = 0xa0;
      return this;
    }
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

  /** Bytes written so far: the offset of the next value in the output. */
  offset(): number {
    return this.total + this.pos - this.start;
  }

  /**
   * Writes output bytes [from, to) (offsets) again, copied, when they are
   * still in the buffer being written into and it has room for them; false,
   * writing nothing, otherwise (the caller then writes the values again).
   */
  repeat(from: number, to: number): boolean {
    const n = to - from;
    const at = from - (this.offset() - this.pos);
    if (at < this.tailAt || this.pos + n > this.buf.length) return false;
    this.buf.copyWithin(this.pos, at, at + n);
    this.pos += n;
    return true;
  }

  /** Bytes that are already msgpack (or the payload of a bin header just written). */
  raw(bytes: Uint8Array): this {
    if (bytes.length >= VIEW_MIN) {
      this.flush();
      this.chunks.push(bytes);
      this.tailAt = this.pos;
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

/** Below this many bytes a comparison is a loop here; from it, memcmp (a call costs about as much as 64 bytes compared in a loop). */
const NATIVE_COMPARE_MIN = 64;
const compareBytes = Buffer.prototype.compare as (this: Uint8Array, target: Uint8Array, targetStart: number, targetEnd: number, sourceStart: number, sourceEnd: number) => number;

/** Whether a[aFrom, aFrom + n) and b[bFrom, bFrom + n) hold the same bytes (false when either range is not within its array). */
export function sameRange(a: Uint8Array, aFrom: number, b: Uint8Array, bFrom: number, n: number): boolean {
  if (aFrom < 0 || bFrom < 0 || aFrom + n > a.length || bFrom + n > b.length) return false;
  if (n >= NATIVE_COMPARE_MIN) return compareBytes.call(a, b, bFrom, bFrom + n, aFrom, aFrom + n) === 0;
  for (let i = 0; i < n; i++) if (a[aFrom + i] !== b[bFrom + i]) return false;
  return true;
}

/** Whether a and b hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && sameRange(a, 0, b, 0, a.length);
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

// Strings are read strictly: invalid UTF-8 (or a byte-order mark dropped) would re-encode to other bytes.
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Reads msgpack values in place from untrusted bytes, one at a time, for a
 * decoder that walks a known layout (process records: image/decode.ts), so
 * no intermediate value is built. It admits what scan() admits: every
 * declared length is checked against the bytes that remain before anything
 * is read or allocated, and only the types rar's formats use are read. A
 * value of another type than the caller asks for is not consumed (the caller
 * names it in its error: describe()). Errors are those scan() raises.
 */
/** Per uint8/16/32 (0xcc..0xce): the least value that form is the shortest for. */
const SHORTER_UINT = [0x80, 0x100, 0x10000];
/** Per int8/16/32 (0xd0..0xd2): values below this need that form (the writer gives non-negative values uint forms). */
const SHORTER_INT = [-32, -128, -32768];

/** The big-endian uint16 at b[p..]. */
export function u16(b: Uint8Array, p: number): number {
  return (b[p] << 8) | b[p + 1];
}

/** The big-endian uint32 at b[p..]. */
export function u32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

/** Strings of up to SHORT_MAX bytes are ASCII read byte by byte, the last few kept (SHORT_SLOTS, by length and end bytes). */
const SHORT_MAX = 32;
const SHORT_SLOTS = 64;
/** Strings are values: one read before is the string these bytes read as when its code units are these bytes (ASCII only is kept). */
const shortStrings: string[] = new Array<string>(SHORT_SLOTS).fill("\uffff");

export class WireReader {
  pos: number;
  /** For float64s only, made when first needed (a reader is made per field read: most never need one). */
  private view: DataView | null = null;

  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
    readonly where: string,
  ) {
    this.pos = start;
  }

  private get dv(): DataView {
    const b = this.bytes;
    return (this.view ??= new DataView(b.buffer, b.byteOffset, b.byteLength));
  }

  private truncated(k: number, what: string, at: number): never {
    throw new RarError("image.truncated", `truncated: ${what} at byte ${at} needs ${k} bytes, ${this.end - at} remain`, this.where);
  }

  /** The type byte of the next value (not consumed). */
  peek(): number {
    if (this.pos >= this.end) this.truncated(1, "a value", this.pos);
    return this.bytes[this.pos];
  }

  /** Consumes a nil; false (nothing consumed) when the next value is something else. */
  nil(): boolean {
    if (this.peek() !== 0xc0) return false;
    this.pos++;
    return true;
  }

  /** The next value if it is a number (an integer or a float64), consumed; NaN (nothing consumed) otherwise. */
  number(): number {
    const t = this.peek();
    if (t <= 0x7f) {
      this.pos++;
      return t;
    }
    if (t >= 0xe0) {
      this.pos++;
      return t - 0x100;
    }
    const p = this.pos + 1;
    let k: number;
    let v: number;
    switch (t) {
      case 0xcc:
        k = 1;
        if (p + k > this.end) this.truncated(k, "an int", p);
        v = this.bytes[p];
        break;
      case 0xcd:
        k = 2;
        if (p + k > this.end) this.truncated(k, "an int", p);
        v = u16(this.bytes, p);
        break;
      case 0xce:
        k = 4;
        if (p + k > this.end) this.truncated(k, "an int", p);
        v = u32(this.bytes, p);
        break;
      case 0xd0:
        k = 1;
        if (p + k > this.end) this.truncated(k, "an int", p);
        v = (this.bytes[p] << 24) >> 24;
        break;
      case 0xd1:
        k = 2;
        if (p + k > this.end) this.truncated(k, "an int", p);
        v = (u16(this.bytes, p) << 16) >> 16;
        break;
      case 0xd2:
        k = 4;
        if (p + k > this.end) this.truncated(k, "an int", p);
        v = u32(this.bytes, p) | 0;
        break;
      case 0xcb:
        k = 8;
        if (p + k > this.end) this.truncated(k, "a float", p);
        v = this.dv.getFloat64(p);
        break;
      default:
        return NaN;
    }
    // One state, one byte string (spec/image-format.md §2): only the shortest form the writer gives a value is read.
    if (!(t === 0xcb ? !Number.isInteger(v) || v >= 0x100000000 || v < -0x80000000 : v >= 0 ? t >= 0xcc && t <= 0xce && v >= SHORTER_UINT[t - 0xcc] : t >= 0xd0 && v < SHORTER_INT[t - 0xd0]))
      this.noncanonical(`an int (${v}) at byte ${this.pos} not in its shortest form`);
    this.pos = p + k;
    return v;
  }

  private noncanonical(what: string): never {
    throw new RarError("image.noncanonical", what, this.where);
  }

  /** Consumes the header of an array and returns its length; -1 (nothing consumed) when the next value is not an array. */
  array(): number {
    const t = this.peek();
    let len: number;
    let p = this.pos + 1;
    if (t >= 0x90 && t <= 0x9f) len = t & 0x0f;
    else if (t === 0xdc) {
      if (p + 2 > this.end) this.truncated(2, "a length", p);
      len = u16(this.bytes, p);
      p += 2;
    } else if (t === 0xdd) {
      if (p + 4 > this.end) this.truncated(4, "a length", p);
      len = u32(this.bytes, p);
      p += 4;
    } else return -1;
    if (t === 0xdc ? len < 16 : t === 0xdd && len < 0x10000) this.noncanonical(`an array header at byte ${this.pos} longer than its length (${len}) needs`);
    // Every element takes at least one byte.
    if (len > this.end - p) throw new RarError("image.truncated", `truncated: an array at byte ${p} declares ${len} elements, ${this.end - p} bytes remain`, this.where);
    this.pos = p;
    return len;
  }

  /** [start, end) of the payload of the next string (0xa0..) or binary (0xc4..) value, header consumed; null when it is neither. */
  private payload(str: boolean): number {
    const t = this.peek();
    let len: number;
    let p = this.pos + 1;
    if (str && t >= 0xa0 && t <= 0xbf) len = t & 0x1f;
    else if (t === (str ? 0xd9 : 0xc4)) {
      if (p + 1 > this.end) this.truncated(1, "a length", p);
      len = this.bytes[p];
      p += 1;
    } else if (t === (str ? 0xda : 0xc5)) {
      if (p + 2 > this.end) this.truncated(2, "a length", p);
      len = u16(this.bytes, p);
      p += 2;
    } else if (t === (str ? 0xdb : 0xc6)) {
      if (p + 4 > this.end) this.truncated(4, "a length", p);
      len = u32(this.bytes, p);
      p += 4;
    } else return -1;
    // The shortest header: str8 from 32 bytes (bin8 from 0), 16-bit lengths from 256, 32-bit from 65536.
    const least = p - this.pos === 1 ? 0 : p - this.pos === 2 ? (str ? 32 : 0) : p - this.pos === 3 ? 0x100 : 0x10000;
    if (len < least) this.noncanonical(`a ${str ? "string" : "binary"} header at byte ${this.pos} longer than its length (${len}) needs`);
    if (len > this.end - p) this.truncated(len, "a string or binary", p);
    this.pos = p + len;
    return p;
  }

  /** The next value if it is a string, consumed; null (nothing consumed) otherwise. */
  str(): string | null {
    const from = this.payload(true);
    if (from < 0) return null;
    const b = this.bytes;
    const to = this.pos;
    const n = to - from;
    if (n <= SHORT_MAX) {
      // The same names recur in every image and record (capabilities, kinds, the runtime): made once.
      const slot = (n * 31 + (n > 0 ? b[from] * 7 + b[to - 1] : 0)) & (SHORT_SLOTS - 1);
      const known = shortStrings[slot];
      if (known.length === n) {
        let k = 0;
        while (k < n && known.charCodeAt(k) === b[from + k]) k++;
        if (k === n) return known;
      }
      let s = "";
      for (let i = from; i < to; i++) {
        const c = b[i];
        if (c >= 0x80) return this.utf8(from, to);
        s += String.fromCharCode(c);
      }
      shortStrings[slot] = s;
      return s;
    }
    return this.utf8(from, to);
  }

  private utf8(from: number, to: number): string {
    try {
      return utf8Decoder.decode(this.bytes.subarray(from, to));
    } catch {
      return this.noncanonical(`a string at byte ${from} that is not valid UTF-8`);
    }
  }

  /** The next value if it is binary, as a view of the input (consumed); null (nothing consumed) otherwise. */
  bin(): Uint8Array | null {
    const from = this.payload(false);
    return from < 0 ? null : this.bytes.subarray(from, this.pos);
  }

  /**
   * Where the payload of the next value starts if it is binary (consumed:
   * the payload ends at `pos`), without making a view of it; -1 (nothing
   * consumed) otherwise.
   */
  binStart(): number {
    return this.payload(false);
  }

  /** Skips one value of any admitted type, as scan() checks it (nesting within `maxDepth`). */
  skip(maxDepth: number): void {
    const b = this.bytes;
    this.pos = scanOne(this.end === b.length ? b : b.subarray(0, this.end), this.pos, maxDepth, this.where, "image");
  }

  /**
   * Passes over one value of bytes already checked (by scan() or skip()),
   * without checking anything again or allocating: a count of the values
   * still to pass, each array adding its elements.
   */
  over(): void {
    const b = this.bytes;
    let p = this.pos;
    for (let left = 1; left > 0; left--) {
      const t = b[p++];
      if (t <= 0x7f || t >= 0xe0 || t === 0xc0) continue;
      if (t >= 0x90 && t <= 0x9f) left += t & 0x0f;
      else if (t >= 0xa0 && t <= 0xbf) p += t & 0x1f;
      else if (t === 0xcc || t === 0xd0) p += 1;
      else if (t === 0xcd || t === 0xd1) p += 2;
      else if (t === 0xce || t === 0xd2) p += 4;
      else if (t === 0xcb) p += 8;
      else if (t === 0xc4 || t === 0xd9) p += 1 + b[p];
      else if (t === 0xc5 || t === 0xda) p += 2 + u16(b, p);
      else if (t === 0xc6 || t === 0xdb) p += 4 + u32(b, p);
      else if (t === 0xdc) {
        left += u16(b, p);
        p += 2;
      } else if (t === 0xdd) {
        left += u32(b, p);
        p += 4;
      } else throw new RarError("image.msgpack", `msgpack type 0x${t.toString(16)} at byte ${p - 1} was not checked`, this.where);
    }
    this.pos = p;
  }

  /**
   * Checks that the next value (checked as scan() checks it, already) is in
   * the one form the writer gives it: shortest ints and headers, strings of
   * valid UTF-8 (image.noncanonical otherwise); consumes it. For values that
   * are unpacked rather than read in place, so that one state still has one
   * byte string (spec/image-format.md §2).
   */
  canonical(): void {
    for (let left = 1; left > 0; left--) {
      if (this.nil()) continue;
      const len = this.array();
      if (len >= 0) left += len;
      else if (Number.isNaN(this.number()) && this.str() === null && this.binStart() < 0)
        throw new RarError("image.msgpack", `msgpack type 0x${this.peek().toString(16)} at byte ${this.pos} was not checked`, this.where);
    }
  }

  /** The next value, described for an error message (not consumed). */
  describe(): string {
    const at = this.pos;
    try {
      if (this.nil()) return "nil";
      const n = this.number();
      if (!Number.isNaN(n)) return String(n);
      const len = this.array();
      if (len >= 0) return `an array of ${len}`;
      const s = this.str();
      if (s !== null) return `a string of ${s.length}`;
      const b = this.bin();
      if (b !== null) return `${b.length} bytes of binary`;
      return `msgpack type 0x${this.peek().toString(16)}`;
    } catch {
      return "a truncated value";
    } finally {
      this.pos = at;
    }
  }
}

/** Unpacks bytes[start, end) that scan() (or WireReader.skip) has checked. */
export function unpackSpan(bytes: Uint8Array, start: number, end: number, where: string): unknown {
  try {
    return packr.unpack(bytes.subarray(start, end));
  } catch (e) {
    throw new RarError("image.msgpack", `not valid msgpack (${(e as Error).message})`, where);
  }
}

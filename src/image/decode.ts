// Decoding an image: untrusted bytes -> a verified, detached process tree.
//
// Order matters: (1) the fixed header (magic, version); (2) the content digest
// over the body, before looking inside it; (3) the body's structure: process
// records are read in place by a WireReader (lengths within the input, only
// the format's types, no intermediate values), the other fields scanned
// before msgpackr sees them, and a body that fails anywhere is scanned whole
// first, so a structural error is reported as one; (4) the modules' code
// through the verifier; (5) shapes and ranges of every field, allocating only
// typed arrays whose bytes are in the input plus the stack capacity running
// needs, within a budget proportional to the input size; (6) the tree through
// image/verify.ts; (7) origin and trace shapes.

import { NO_CAPS } from "../process/authority.js";
import { Process } from "../process/process.js";
import { RarError, type ErrorKey } from "../vm/errors.js";
import { Frame } from "../vm/opcodes.js";
import { moduleFromWire, type Module } from "../vm/module.js";
import { MAX_CAP_ARGS, verify } from "../vm/verify.js";
import { stateDigest } from "./digest.js";
import { hex, sha256, sha256Hex } from "../vm/sha256.js";
import {
  B,
  BODY_FIELDS,
  DIGEST_BYTES,
  IMAGE_LIMITS,
  IMAGE_MAGIC,
  IMAGE_VERSION,
  IMAGE_VERSION_DEBUG,
  IMAGE_VERSION_FILES,
  RECORD_FIELDS,
  emptyTrace,
  type Checkpoint,
  type DebugPart,
  type ImageMeta,
  type TraceEvent,
  type TraceSlot,
} from "./format.js";
import { HEADER_BYTES } from "./encode.js";
import { verifyTree } from "./verify.js";
import { WireReader, elementSpans, sameBytes, sameRange, scan, u32, unpackChecked, unpackSpan } from "./wire.js";
import { readFiles } from "./files.js";

export interface DecodeOptions {
  /** Deepest allowed process (the image's root is depth 0). Default 4096. */
  maxDepth?: number;
  /** Largest linear memory of one process, in words. Default 2^28. */
  memMax?: number;
  /** Prefix of error locations, e.g. the file name. Default "image". */
  where?: string;
  /**
   * Verified modules already loaded, by digest: a module whose bytes hash to
   * one of them is that module, and is not verified again.
   */
  known?: (digest: string) => Module | undefined;
  /**
   * The caller reads the trace slot (trace/decode.ts traceFromWire) before
   * it returns, while the input is as it was, and keeps nothing else of the
   * slot: the slot is then a view of the input, not a copy.
   */
  traceView?: boolean;
  /**
   * Whether the records of a run of repeated ones (a parent's many like
   * children) are compared a chunk at a time (runAhead), or each on its own
   * (false: the same outcome, every time; tests compare the two). Default true.
   */
  readAhead?: boolean;
}

export interface DecodedImage {
  /** The tree's root, detached (parent null, handle 0). */
  root: Process;
  /** Every module the image holds, verified, sorted by digest. */
  modules: Module[];
  meta: ImageMeta;
  /** Hex SHA-256 of the body: what the image's digest field says, checked. */
  imageDigest: string;
  /** The format version of the file (1, or 2 with a debug part). */
  version: number;
}

const MAX_I32 = 0x7fffffff;
const MIN_I32 = -0x80000000;

/**
 * Where a value is, for an error message: text, or a Place (made into text
 * only if the value is wrong, so a good record costs no strings).
 */
type Where = string | Place;

/**
 * The field of a process record being read, as one mutable object per tree:
 * its text ("tree process 0.3 pc") is made only when an error names it.
 */
class Place {
  /** Path of the parent ("0.3"), or null for the root. */
  parentPath: string | null = null;
  handle = 0;
  field = "";
  constructor(readonly tree: string) {}
  /** This place, at `field`. */
  at(field: string): this {
    this.field = field;
    return this;
  }
  get path(): string {
    return this.parentPath === null ? "0" : `${this.parentPath}.${this.handle}`;
  }
  toString(): string {
    return `${this.tree} process ${this.path}${this.field === "" ? "" : ` ${this.field}`}`;
  }
}

class Reader {
  constructor(readonly where: string) {}

  fail(kind: ErrorKey<"image">, message: string, at: Where = ""): never {
    const text = String(at);
    throw new RarError(kind, message, text ? `${this.where}: ${text}` : this.where);
  }

  int(x: unknown, lo: number, hi: number, at: Where): number {
    if (typeof x !== "number" || !Number.isSafeInteger(x) || x < lo || x > hi)
      this.fail("image.shape", `expected an integer in ${lo}..${hi}, got ${describe(x)}`, at);
    return x;
  }

  str(x: unknown, max: number, at: Where): string {
    if (typeof x !== "string" || x.length > max) this.fail("image.shape", `expected a string of at most ${max} characters, got ${describe(x)}`, at);
    return x;
  }

  bin(x: unknown, at: Where, multiple = 1): Uint8Array {
    if (!(x instanceof Uint8Array) || x.length % multiple !== 0)
      this.fail("image.shape", `expected binary data${multiple > 1 ? ` (a multiple of ${multiple} bytes)` : ""}, got ${describe(x)}`, at);
    return x;
  }

  digest(x: unknown, at: Where): Uint8Array {
    const b = this.bin(x, at);
    if (b.length !== DIGEST_BYTES) this.fail("image.shape", `expected a ${DIGEST_BYTES}-byte digest, got ${b.length} bytes`, at);
    // A copy (slice: Uint8Array.from would iterate).
    return b.slice();
  }

  array(x: unknown, at: Where, len?: number): unknown[] {
    if (!Array.isArray(x) || (len !== undefined && x.length !== len))
      this.fail("image.shape", `expected an array${len !== undefined ? ` of ${len}` : ""}, got ${describe(x)}`, at);
    return x as unknown[];
  }

  // The same checks of a value read in place (WireReader): the value is consumed when it passes.

  intAt(c: WireReader, lo: number, hi: number, at: Where): number {
    const from = c.pos;
    const x = c.number();
    if (!Number.isSafeInteger(x) || x < lo || x > hi) {
      c.pos = from;
      this.fail("image.shape", `expected an integer in ${lo}..${hi}, got ${c.describe()}`, at);
    }
    return x;
  }

  strAt(c: WireReader, max: number, at: Where): string {
    const from = c.pos;
    const s = c.str();
    if (s === null || s.length > max) {
      c.pos = from;
      this.fail("image.shape", `expected a string of at most ${max} characters, got ${c.describe()}`, at);
    }
    return s;
  }

  binAt(c: WireReader, at: Where, multiple = 1): Uint8Array {
    const from = c.pos;
    const b = c.bin();
    if (b === null || b.length % multiple !== 0) {
      c.pos = from;
      this.fail("image.shape", `expected binary data${multiple > 1 ? ` (a multiple of ${multiple} bytes)` : ""}, got ${c.describe()}`, at);
    }
    return b;
  }

  /** binAt without a view: where the binary data at `c` starts (it ends at c.pos). */
  binSpanAt(c: WireReader, at: Where, multiple = 1): number {
    const from = c.pos;
    const start = c.binStart();
    if (start < 0 || (c.pos - start) % multiple !== 0) {
      c.pos = from;
      this.fail("image.shape", `expected binary data${multiple > 1 ? ` (a multiple of ${multiple} bytes)` : ""}, got ${c.describe()}`, at);
    }
    return start;
  }

  digestAt(c: WireReader, at: Where): Uint8Array {
    const from = this.binSpanAt(c, at);
    if (c.pos - from !== DIGEST_BYTES) this.fail("image.shape", `expected a ${DIGEST_BYTES}-byte digest, got ${c.pos - from} bytes`, at);
    // A copy (slice: Uint8Array.from would iterate).
    return c.bytes.slice(from, c.pos);
  }

  /** The length of the array at `c` (its header consumed). */
  arrayAt(c: WireReader, at: Where, len?: number): number {
    const from = c.pos;
    const n = c.array();
    if (n < 0 || (len !== undefined && n !== len)) {
      c.pos = from;
      this.fail("image.shape", `expected an array${len !== undefined ? ` of ${len}` : ""}, got ${c.describe()}`, at);
    }
    return n;
  }

  /** Strictly increasing names (sorted, no duplicates). */
  namesAt(c: WireReader, at: Where): string[] {
    const n = this.arrayAt(c, at);
    // No names (most processes): the one shared empty list, as a spawn without grants has.
    if (n === 0) return NO_CAPS;
    if (n > IMAGE_LIMITS.capsPerProcess) this.fail("image.shape", `more than ${IMAGE_LIMITS.capsPerProcess} names`, at);
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const s = this.strAt(c, IMAGE_LIMITS.nameLength, at);
      if (i > 0 && !(out[i - 1] < s)) this.fail("image.shape", "names must be sorted and distinct", at);
      out.push(s);
    }
    return out;
  }
}

function describe(x: unknown): string {
  if (x === null) return "nil";
  if (x instanceof Uint8Array) return `${x.length} bytes of binary`;
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (typeof x === "string") return `a string of ${x.length}`;
  return typeof x === "number" ? String(x) : typeof x;
}

/** The words of binary data b[from, to) (a whole number of them) in a fresh array of their length (wordsIn). */
const words = (b: Uint8Array, from: number, to: number): Int32Array => wordsIn(b, from, (to - from) >> 2, (to - from) >> 2);

/** Frame words a process starts with (Process's own default), so entering it needs no growth. */
const MIN_FRAMES = 12;
/** Shared by every process without memory: nothing can write to it, and MGROW replaces it. */
const NO_MEMORY = new Int32Array(0);
/** The arguments a decoded process is constructed with (none: its stack is set from the record). */
const NO_ARGS = new Int32Array(0);

/** Arrays up to this many words are copied word by word (see wordsIn). */
const SMALL_WORDS = 64;

/**
 * The n words of binary data at b[at..] (little endian) in a fresh array of
 * `capacity` >= n. A small array is copied word by word: V8 keeps a small
 * typed array inside its object until its `.buffer` is taken, and taking it
 * costs an allocation of its own (most stacks and frames of a tree are small).
 */
function wordsIn(b: Uint8Array, at: number, n: number, capacity: number): Int32Array {
  const a = new Int32Array(capacity);
  if (n > SMALL_WORDS) new Uint8Array(a.buffer, 0, 4 * n).set(b.subarray(at, at + 4 * n));
  else for (let i = 0, o = at; i < n; i++, o += 4) a[i] = b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
  return a;
}

/**
 * Stack and frame words allocated beyond those stored: the interpreter needs
 * the top frame's whole operand stack allocated (it does not check bounds
 * inside a frame). Bounded per decode by a budget proportional to the input.
 */
class Slack {
  private used = 0;
  constructor(
    private readonly r: Reader,
    private readonly budget: number,
  ) {}
  take(words: number, at: Where): void {
    this.used += words;
    if (this.used > this.budget)
      this.r.fail("image.too_large", `running this tree needs more than ${this.budget} stack and frame words beyond those stored`, at);
  }
}

/** The last childless child read of a parent: its record's bytes after the handle, and the slack it took. */
interface Sibling {
  p: Process;
  from: number;
  to: number;
  slack: number;
}

/** A record's array header as the writer gives it (RECORD_FIELDS values: an array 16, 0xdc and two length bytes). */
const RECORD_0 = 0xdc;
/** Bytes of that header. */
const RECORD_HEAD = 3;
const RECORD_1 = RECORD_FIELDS >> 8;
const RECORD_2 = RECORD_FIELDS & 0xff;
if (RECORD_FIELDS < 16 || RECORD_FIELDS > 0xffff) throw new Error("internal: a record's header is an array 16");

/** Whether b[at, at + n) (within `end`) repeats b[from, from + n); `dv` views b. Four bytes at a time. */
function sameSpan(b: Uint8Array, dv: DataView, from: number, at: number, n: number, end: number): boolean {
  if (at + n > end) return false;
  let i = 0;
  for (; i + 4 <= n; i += 4) if (dv.getInt32(from + i, true) !== dv.getInt32(at + i, true)) return false;
  for (; i < n; i++) if (b[from + i] !== b[at + i]) return false;
  return true;
}

/**
 * A decoded tree: its processes in preorder, which of them repeat a
 * sibling's record (verifyTree's `copies`: each run of them, as the index of
 * its first and the index after its last), and the modules its processes
 * run, each once (in the order first run).
 */
interface Built {
  procs: Process[];
  copies: number[];
  modules: Module[];
}

/** Records up to this many: the lists of a decoded tree are made at their length (larger ones grow: see buildTree). */
const PRESIZED = 1 << 16;

/**
 * A process with the values of `q` (decoded from the same record bytes, so
 * checked alike) under `parent` at `handle`: its own memory, inbox and
 * request, and q's stack and frames until either is written (Process.twin).
 */
function copyOf(q: Process, parent: Process, handle: number): Process {
  return q.twin(parent, handle, q.mem.length === 0 ? NO_MEMORY : q.mem.slice());
}

/**
 * A parent whose children are being read: what is left of them, the last
 * handle, the last childless one (sib), and those read so far (kids, made at
 * the length the parent declares, given to it when the last is read: close).
 */
interface Open {
  p: Process;
  path: string;
  left: number;
  last: number;
  sib: Sibling | null;
  kids: Process[];
  k: number;
}

/** A parent whose children are all read: they become its children (in handle order, as read). */
function close(o: Open): void {
  o.p.adoptAll(o.kids);
}

/**
 * The handle of the record at `c` when it is one more child of `o` repeating
 * `sib` (consumed up to the repeated bytes), or -1 (nothing consumed), after
 * which the loop of buildTree reads the record from its start. Read here only
 * in the writer's forms (a record's array header, a handle in its shortest
 * uint form), which the loop reads as the same values, and held to the loop's
 * checks of a child's handle: anything else is left to the loop, which reads
 * it as it reads any record (and raises there what it raises).
 */
function repeatAt(c: WireReader, dv: DataView, o: Open, sib: Sibling): number {
  const b = c.bytes;
  const end = c.end;
  let at = c.pos;
  if (at + RECORD_HEAD >= end || b[at] !== RECORD_0 || b[at + 1] !== RECORD_1 || b[at + 2] !== RECORD_2) return -1;
  at += RECORD_HEAD;
  // The handle, then how many bytes that form takes: the shortest for the value, or the loop reads it.
  const t = b[at];
  let h = -1;
  if (t < 0x80) h = t;
  else if (t === 0xcc && at + 1 < end) h = b[at + 1];
  else if (t === 0xcd && at + 2 < end) h = (b[at + 1] << 8) | b[at + 2];
  else if (t === 0xce && at + 4 < end) h = dv.getUint32(at + 1);
  if (h < 0 || h > IMAGE_LIMITS.handle || (t < 0x80 ? 1 : t === 0xcc ? 2 : t === 0xcd ? 3 : 5) !== handleWidth(h)) return -1;
  at += handleWidth(h);
  if (!(h > o.last && h < o.p.nextHandle) || !sameSpan(b, dv, sib.from, at, sib.to - sib.from, end)) return -1;
  c.pos = at;
  return h;
}

/** Records runAhead compares at once: at least, at most, and the most bytes they may take. */
const AHEAD_MIN = 16;
const AHEAD_MAX = 256;
const AHEAD_BYTES = 1 << 15;
/** The bytes runAhead compares records with (AHEAD_BYTES, made when first needed), and what they hold: `records` records of `sib`'s run at handle width `width`. */
let aheadBytes: Uint8Array | null = null;
interface Ahead {
  sib: Sibling | null;
  width: number;
  records: number;
}

/** Bytes of a handle in its shortest form: a fixint, a uint 8, 16 or 32 (0xcc, 0xcd, 0xce and the value). */
function handleWidth(h: number): number {
  return h < 0x80 ? 1 : h < 0x100 ? 2 : h < 0x10000 ? 3 : 5;
}

/** The largest handle of `width` bytes. */
function widthEnd(width: number): number {
  return width === 1 ? 0x7f : width === 2 ? 0xff : width === 3 ? 0xffff : IMAGE_LIMITS.handle;
}

/** Writes handle h (of `width` bytes) at b[at..]. */
function putHandle(b: Uint8Array, at: number, h: number, width: number): void {
  if (width === 1) b[at] = h;
  else if (width === 2) {
    b[at] = 0xcc;
    b[at + 1] = h;
  } else if (width === 3) {
    b[at] = 0xcd;
    b[at + 1] = h >> 8;
    b[at + 2] = h & 0xff;
  } else {
    b[at] = 0xce;
    b[at + 1] = h >>> 24;
    b[at + 2] = (h >> 16) & 0xff;
    b[at + 3] = (h >> 8) & 0xff;
    b[at + 4] = h & 0xff;
  }
}

/**
 * How many of the records at `c` are, one after the other, children of `o`
 * repeating `sib` with the handles after `h` (h + 1, h + 2, ...: what
 * repeatAt would read, record by record, from the writer's bytes): compared
 * with the bytes the writer gives such records (built once per run, the
 * handles written per chunk), in one native comparison. 0 when fewer than
 * AHEAD_MIN such records could follow (as many as are left to read, of one
 * handle width, below the parent's next handle, within the input); -n when
 * the n records compared are not all such (the caller then reads them one by
 * one). `c` is not moved: each record is [array header, handle, sib's bytes].
 */
function runAhead(c: WireReader, o: Open, sib: Sibling, h: number, left: number, a: Ahead): number {
  const first = h + 1;
  const width = handleWidth(first);
  const span = sib.to - sib.from;
  const size = RECORD_HEAD + width + span;
  const m = Math.min(left, o.left, AHEAD_MAX, widthEnd(width) - h, o.p.nextHandle - first, Math.floor((c.end - c.pos) / size), Math.floor(AHEAD_BYTES / size));
  if (m < AHEAD_MIN) return 0;
  const b = (aheadBytes ??= new Uint8Array(AHEAD_BYTES));
  if (a.sib !== sib || a.width !== width || a.records < m) {
    // One record (a header, a handle, the sibling's bytes), then doubled until there are m.
    b[0] = RECORD_0;
    b[1] = RECORD_1;
    b[2] = RECORD_2;
    b.set(c.bytes.subarray(sib.from, sib.to), RECORD_HEAD + width);
    for (let k = 1; k < m; k *= 2) b.copyWithin(k * size, 0, Math.min(k, m - k) * size);
    a.sib = sib;
    a.width = width;
    a.records = m;
  }
  for (let k = 0; k < m; k++) putHandle(b, k * size + RECORD_HEAD, first + k, width);
  return sameRange(b, 0, c.bytes, c.pos, m * size) ? m : -m;
}

/**
 * Builds the processes of the records array at `c`'s position (preorder,
 * children in handle order), read in place; returns them in preorder, `c`
 * past the array.
 */
function buildTree(r: Reader, c: WireReader, modules: readonly Module[], maxDepth: number, memMax: number, slack: Slack, at: string, readAhead = true): Built {
  const nrecs = r.arrayAt(c, at);
  if (nrecs === 0) r.fail("image.shape", "a tree has at least one process", at);
  // At their length (each record gives one entry of each), not grown as they are filled: a large tree's
  // arrays would be copied a dozen times. Past PRESIZED records they grow (V8 makes so large a presized
  // array a dictionary); either way entry n is written when there are n before it.
  const procs: Process[] = nrecs <= PRESIZED ? new Array<Process>(nrecs) : [];
  const copies: number[] = [];
  let n = 0;
  /** Slots left to make room for declared children with (see below). */
  let room = nrecs;
  const used: Module[] = [];
  let lastModule: Module | null = null;
  // Made when a record first follows a childless sibling (most trees of one process never compare one).
  let dv: DataView | null = null;
  const here = new Place(at);
  // What runAhead's bytes hold (none yet: no run compared), records it compared and found alike, and
  // records it compared and found not all alike, read one by one before it compares again.
  const state: Ahead = { sib: null, width: 0, records: 0 };
  let alike = 0;
  let unlike = 0;
  let headBytes = 0;
  // Open parents: process, children still to come, last child handle.
  const open: Open[] = [];
  for (let i = 0; i < nrecs; i++) {
    while (open.length > 0 && open[open.length - 1].left === 0) close(open.pop() as Open);
    const parentEntry = open.length > 0 ? open[open.length - 1] : null;
    if (i > 0 && parentEntry === null) r.fail("image.tree", `${nrecs - i} record(s) after the end of the tree`, `${at} record ${i}`);
    const parent = parentEntry?.p ?? null;
    // Where the record is (its path) is known once its handle is; the strings are made only on failure.
    const recAt = c.pos;
    if (c.array() !== RECORD_FIELDS) {
      c.pos = recAt;
      r.arrayAt(c, `${at} record ${i}`, RECORD_FIELDS);
    }
    const hAt = c.pos;
    let handle = c.number();
    if (!(Number.isInteger(handle) && handle >= 0 && handle <= IMAGE_LIMITS.handle)) {
      c.pos = hAt;
      handle = r.intAt(c, 0, IMAGE_LIMITS.handle, `${at} record ${i} handle`);
    }
    here.parentPath = parentEntry ? parentEntry.path : null;
    here.handle = handle;
    if (parent === null && handle !== 0) r.fail("image.handle", "the root of an image has handle 0", here.at("handle"));
    if (parentEntry) {
      if (handle <= parentEntry.last) r.fail("image.handle", `children must come in increasing handle order (${handle} after ${parentEntry.last})`, here.at("handle"));
      if (handle >= parentEntry.p.nextHandle) r.fail("image.handle", `handle ${handle} was never given out (next handle ${parentEntry.p.nextHandle})`, here.at("handle"));
      parentEntry.left--;
      parentEntry.last = handle;
      // A record repeating its previous sibling's byte for byte after the handle holds the same values,
      // which passed every check here: the process is a copy of that sibling (own buffers, this handle).
      const sib = parentEntry.sib;
      if (sib !== null && sameSpan(c.bytes, (dv ??= new DataView(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength)), sib.from, c.pos, sib.to - sib.from, c.end)) {
        // A run of them (a parent's many like children) is read here; the record after it by the loop.
        alike = unlike = 0;
        copies.push(n);
        for (;;) {
          slack.take(sib.slack, here.at("stack"));
          const p = copyOf(sib.p, parentEntry.p, handle);
          c.pos += sib.to - sib.from;
          parentEntry.kids[parentEntry.k++] = p;
          procs[n++] = p;
          if (parentEntry.left === 0 || i + 1 === nrecs) break;
          let h: number;
          if (alike === 0 && unlike === 0 && readAhead) {
            const m = runAhead(c, parentEntry, sib, handle, nrecs - 1 - i, state);
            if (m > 0) {
              alike = m;
              headBytes = RECORD_HEAD + handleWidth(handle + 1);
            } else unlike = -m;
          }
          if (alike > 0) {
            // Compared already: its header and handle (the next), then the sibling's bytes.
            alike--;
            h = handle + 1;
            c.pos += headBytes;
          } else {
            if (unlike > 0) unlike--;
            const next = c.pos;
            h = repeatAt(c, dv, parentEntry, sib);
            if (h < 0) {
              c.pos = next;
              // Not a copy: what runAhead compared ends here too.
              unlike = 0;
              break;
            }
          }
          i++;
          parentEntry.left--;
          parentEntry.last = handle = here.handle = h;
        }
        copies.push(n);
        continue;
      }
    }
    const fieldsAt = c.pos;
    const mod = modules[r.intAt(c, 0, modules.length - 1, here.at("module"))];
    // The modules run (a copy runs its sibling's): most trees run one, looked up only where it changes.
    if (mod !== lastModule) {
      lastModule = mod;
      if (!used.includes(mod)) used.push(mod);
    }
    const entry = r.intAt(c, 0, mod.functions.length - 1, here.at("entry"));
    const status = r.intAt(c, 0, 6, here.at("status"));
    const value = r.intAt(c, MIN_I32, MAX_I32, here.at("value"));
    const faultKind = c.nil() ? null : r.strAt(c, IMAGE_LIMITS.nameLength, here.at("faultKind"));
    const faultDetail = r.strAt(c, IMAGE_LIMITS.detailLength, here.at("faultDetail"));
    const need = r.intAt(c, 0, Number.MAX_SAFE_INTEGER, here.at("need"));
    let request: Process["request"] = null;
    if (!c.nil()) {
      r.arrayAt(c, here.at("request"), 2);
      const cap = r.strAt(c, IMAGE_LIMITS.nameLength, here.at("request"));
      const nargs = r.arrayAt(c, here.at("request"));
      if (nargs > MAX_CAP_ARGS) r.fail("image.shape", `more than ${MAX_CAP_ARGS} arguments`, here.at("request"));
      const args: Int32Array[] = [];
      for (let k = 0; k < nargs; k++) {
        const from = r.binSpanAt(c, here.at("request"), 4);
        args.push(words(c.bytes, from, c.pos));
      }
      request = { cap, args };
    }
    const answer = r.intAt(c, MIN_I32, MAX_I32, here.at("answer"));
    const waiting = r.intAt(c, 0, IMAGE_LIMITS.handle, here.at("waiting"));
    // Binary fields as spans of the input (views are made only for what is kept as it is: memory, inbox).
    const inboxAt = r.binSpanAt(c, here.at("inbox"), 4);
    const inboxEnd = c.pos;
    const pc = r.intAt(c, 0, mod.code.length - 1, here.at("pc"));
    const bp = r.intAt(c, 0, MAX_I32, here.at("bp"));
    const stackAt = r.binSpanAt(c, here.at("stack"), 4);
    const sp = (c.pos - stackAt) >> 2;
    const framesAt = r.binSpanAt(c, here.at("frames"), 12);
    const fp = (c.pos - framesAt) >> 2;
    const memAt = r.binSpanAt(c, here.at("mem"), 4);
    const memEnd = c.pos;
    if ((memEnd - memAt) / 4 > memMax) r.fail("image.memory", `${(memEnd - memAt) / 4} words exceed the runtime's ${memMax}`, here.at("mem"));
    const gasLimit = r.intAt(c, 0, Number.MAX_SAFE_INTEGER, here.at("gasLimit"));
    const gasUsed = r.intAt(c, 0, Number.MAX_SAFE_INTEGER, here.at("gasUsed"));
    const memLimit = r.intAt(c, 0, Number.MAX_SAFE_INTEGER, here.at("memLimit"));
    const memUsed = r.intAt(c, 0, Number.MAX_SAFE_INTEGER, here.at("memUsed"));
    const caps = r.namesAt(c, here.at("caps"));
    const traps = r.namesAt(c, here.at("traps"));
    const nextHandle = r.intAt(c, 1, IMAGE_LIMITS.handle, here.at("nextHandle"));
    const nchildren = r.intAt(c, 0, nrecs - 1 - i, here.at("children"));

    const depth = parent ? parent.depth + 1 : 0;
    if (depth > maxDepth) r.fail("image.depth", `depth ${depth} exceeds the limit of ${maxDepth}`, here.at(""));
    // Capacities: the top frame's function is checked here, before anything is allocated for it.
    const b = c.bytes;
    let capacity = Math.max(16, sp);
    if (fp > 0) {
      const top = wordAt(b, framesAt, fp - Frame.Words + Frame.Fn);
      if (top < 0 || top >= mod.functions.length) r.fail("image.frames", `the top frame's function #${top} does not exist`, here.at("frames"));
      capacity = Math.max(capacity, bp + mod.nlocals[top] + mod.maxStack[top]);
      // A caller's frame may reach past its callee's (a RET does not grow the stack): every
      // frame's whole extent. Bases above bp or unknown functions cannot verify (verifyTree).
      for (let k = 0; k + Frame.Words < fp; k += Frame.Words) {
        // Frame k's function, and its base: the saved base of the frame above it.
        const fn = wordAt(b, framesAt, k + Frame.Fn);
        const base = wordAt(b, framesAt, k + Frame.Words + Frame.Bp);
        if (fn >= 0 && fn < mod.functions.length && base >= 0 && base <= bp)
          capacity = Math.max(capacity, base + mod.nlocals[fn] + mod.maxStack[fn]);
      }
    }
    const frameCapacity = Math.max(MIN_FRAMES, fp);
    const extra = capacity - sp + frameCapacity - fp;
    slack.take(extra, here.at("stack"));
    // Constructed without arguments (a small stack); every register is set from the record.
    const p = new Process(mod, entry, NO_ARGS, memEnd > memAt ? words(b, memAt, memEnd) : NO_MEMORY, gasLimit, memLimit, caps, traps, parent, handle);
    p.status = status;
    p.value = value;
    if (faultKind !== null) p.faultKind = faultKind as Process["faultKind"];
    if (faultDetail !== "") p.faultDetail = faultDetail;
    p.need = need;
    p.request = request;
    p.answer = answer;
    p.waiting = waiting;
    if (inboxEnd > inboxAt) p.inbox = words(b, inboxAt, inboxEnd);
    p.pc = pc;
    p.bp = bp;
    p.stack = wordsIn(b, stackAt, sp, capacity);
    p.sp = sp;
    p.frames = wordsIn(b, framesAt, fp, frameCapacity);
    p.fp = fp;
    p.gasUsed = gasUsed;
    p.memUsed = memUsed;
    p.nextHandle = nextHandle;
    if (parentEntry) parentEntry.kids[parentEntry.k++] = p;
    procs[n++] = p;
    if (parentEntry) parentEntry.sib = nchildren === 0 ? { p, from: fieldsAt, to: c.pos, slack: extra } : null;
    if (nchildren > 0) {
      // Room made for the children a record declares comes out of one budget of a slot per record: a
      // tree's records are the children of one parent each, so its parents' declared counts fit in it;
      // records declaring the same records their children (a chain of them, each declaring all the rest)
      // get room for them once, then arrays that grow only as children are read.
      const presized = nchildren <= room && nchildren <= PRESIZED;
      if (presized) room -= nchildren;
      open.push({ p, path: here.path, left: nchildren, last: 0, sib: null, kids: presized ? new Array<Process>(nchildren) : [], k: 0 });
    }
  }
  for (const o of open) if (o.left > 0) r.fail("image.tree", `process ${o.path} declares ${o.left} more child(ren) than the image holds`, at);
  for (const o of open) close(o);
  return { procs, copies, modules: used };
}

/** Word k of the little-endian binary data at b[at..]. */
function wordAt(b: Uint8Array, at: number, k: number): number {
  const o = at + 4 * k;
  return b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
}

/**
 * The modules part, from its encoding (scanned already): each module's bytes
 * are unpacked and verified only when `known` does not hold them, looked up
 * there by their SHA-256 (`hashes`: those of a modules part with the same
 * bytes read before, lastOrigin, else hashed here). The hashes looked up are
 * left in `out`.
 */
function readModules(
  r: Reader,
  bytes: Uint8Array,
  known: ((digest: string) => Module | undefined) | undefined,
  hashes: readonly string[] | undefined,
  out: string[],
): Module[] {
  const c = new WireReader(bytes, 0, bytes.length, r.where);
  const n = r.arrayAt(c, "modules");
  if (n === 0 || n > IMAGE_LIMITS.modules) r.fail("image.shape", `an image holds 1..${IMAGE_LIMITS.modules} modules`, "modules");
  const mods: Module[] = [];
  for (let i = 0; i < n; i++) {
    const at = `module ${i}`;
    const from = c.pos;
    // The modules part was checked whole (scan()) before it is read.
    c.over();
    const to = c.pos;
    // A module's digest is the SHA-256 of its canonical bytes: equal bytes, the same verified module.
    let m: Module | undefined;
    if (known) {
      const h = hashes !== undefined ? hashes[i] : sha256Hex(bytes.subarray(from, to));
      out.push(h);
      m = known(h);
    }
    try {
      m ??= verify(moduleFromWire(unpackSpan(bytes, from, to, r.where), `${r.where}: ${at}`));
    } catch (e) {
      if (e instanceof RarError && e.key !== "image.msgpack") r.fail("image.code", e.message);
      throw e;
    }
    if (i > 0 && !(mods[i - 1].digest < m.digest)) r.fail("image.shape", "modules must be sorted by digest, each once", at);
    mods.push(m);
  }
  return mods;
}

/**
 * An image's trace slot as decodeImage read it: its head, and its events
 * still as bytes, each one's place in the body kept (`at`: per event, where
 * its array starts and where its link starts). trace/decode.ts reads and
 * hashes the events in place from there; `events`, the unpacked values, are
 * made when first read (and once read, they are what the slot holds: a
 * caller may change them, so the bytes no longer stand for the slot).
 */
export class ReadSlot implements TraceSlot {
  private list: TraceEvent[] | null = null;
  constructor(
    public head: Uint8Array,
    readonly bytes: Uint8Array,
    /** The trace field's span in `bytes` ([head, events]). */
    private readonly from: number,
    private readonly to: number,
    /** Per event: where its array starts, then where its link (the last element) starts. */
    readonly at: readonly number[],
    private readonly where: string,
  ) {}

  /** How many events the slot holds (counted without unpacking them, which would leave the in-place reading). */
  get count(): number {
    return this.list === null ? this.at.length / 2 : this.list.length;
  }

  /** Whether the events are still the bytes read (never unpacked, so never changed). */
  get pristine(): boolean {
    return this.list === null;
  }

  get events(): TraceEvent[] {
    if (this.list === null) {
      // Values carry no form: the bytes they come from must be the writer's, as the in-place reading requires.
      new WireReader(this.bytes, this.from, this.to, this.where).canonical();
      this.list = (unpackSpan(this.bytes, this.from, this.to, this.where) as [Uint8Array, TraceEvent[]])[1];
    }
    return this.list;
  }

  set events(list: TraceEvent[]) {
    this.list = list;
  }
}

/**
 * The trace field at input[from, to) (checked as scan() checks, already), read
 * in place: its head, and each event's kind. The slot keeps a copy of those
 * bytes, not a view: its events are unpacked when first asked for, and the
 * caller may change its buffer after the restore. A view (`view`) when the
 * caller reads the slot at once and keeps nothing of it (DecodeOptions.traceView).
 */
function readTrace(r: Reader, input: Uint8Array, from: number, to: number, view = false): ReadSlot {
  const bytes = view ? input.subarray(from, to) : input.slice(from, to);
  from = 0;
  to = bytes.length;
  const c = new WireReader(bytes, from, to, r.where);
  r.arrayAt(c, "trace", 2);
  const head = r.digestAt(c, "trace head");
  const n = r.arrayAt(c, "trace events");
  const at: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = c.pos;
    // The messages (and their strings) are made only for an event that does not check.
    let len = c.array();
    if (len < 0) len = r.arrayAt(c, `trace event ${i}`);
    if (len === 0) r.fail("image.shape", "an event starts with its kind", `trace event ${i}`);
    const kindAt = c.pos;
    const kind = c.str();
    if (kind === null || kind.length > IMAGE_LIMITS.nameLength) {
      c.pos = kindAt;
      r.strAt(c, IMAGE_LIMITS.nameLength, `trace event ${i} kind`);
    }
    let last = c.pos;
    // The trace field was checked whole (scan()) before it is read.
    for (let k = 1; k < len; k++) {
      last = c.pos;
      c.over();
    }
    at.push(start, last);
  }
  return new ReadSlot(head, bytes, from, to, at, r.where);
}

/** A trace field's bytes ([head, events], as an image's body holds it) read as decodeImage reads them (tests, tools). */
export function traceSlotOf(bytes: Uint8Array, where = "trace"): ReadSlot {
  scan(bytes, IMAGE_LIMITS.nesting - 1, where);
  return readTrace(new Reader(where), bytes, 0, bytes.length);
}

/** Reads and checks the fixed header; returns [digest, body, version]. */
const MAGIC_CODES: readonly number[] = IMAGE_MAGIC.split("").map((c) => c.charCodeAt(0));

function readHeader(r: Reader, bytes: Uint8Array): [Uint8Array, Uint8Array, number] {
  // The header has one form (encode.ts): read in place when the bytes are in it, else unpacked for the error.
  const n = bytes.length - HEADER_BYTES;
  const version = bytes[6];
  if (
    n >= 0 &&
    bytes[0] === 0x94 &&
    bytes[1] === 0xa0 + IMAGE_MAGIC.length &&
    MAGIC_CODES.every((c, i) => bytes[2 + i] === c) &&
    (version === IMAGE_VERSION || version === IMAGE_VERSION_DEBUG || version === IMAGE_VERSION_FILES) &&
    bytes[7] === 0xc4 &&
    bytes[8] === DIGEST_BYTES &&
    bytes[9 + DIGEST_BYTES] === 0xc6 &&
    u32(bytes, 10 + DIGEST_BYTES) === n
  )
    return [bytes.slice(9, 9 + DIGEST_BYTES), bytes.subarray(HEADER_BYTES), version];
  const magic = [0x94, 0xa4, ...IMAGE_MAGIC.split("").map((c) => c.charCodeAt(0))];
  for (let i = 0; i < magic.length; i++)
    if (bytes[i] !== magic[i]) r.fail(i < bytes.length ? "image.magic" : "image.truncated", "not a rar image (bad magic)");
  const outer = r.array(unpackChecked(bytes, 2, r.where), "header", 4);
  if (outer[1] !== IMAGE_VERSION && outer[1] !== IMAGE_VERSION_DEBUG && outer[1] !== IMAGE_VERSION_FILES)
    r.fail("image.version", `image format version ${describe(outer[1])}; this runtime reads versions ${IMAGE_VERSION} to ${IMAGE_VERSION_FILES}`);
  const digest = r.digest(outer[2], "digest");
  const body = r.bin(outer[3], "body");
  if (bytes.length !== HEADER_BYTES + body.length) r.fail("image.shape", "the header is not in canonical form");
  return [digest, body, outer[1]];
}

/** Largest gas between checkpoints (a power of two). */
const EVERY_MAX = 2 ** 52;
/** Most source files the debug part holds (as many as a source map may name). */
const SOURCES_MAX = 1024;
const SOURCE_TEXT_MAX = 1 << 26;

interface TreeContext {
  maxDepth: number;
  memMax: number;
  slack: Slack;
}

/** A checkpoint's tree records: built and verified (its root may stand mid-run). */
function checkpointProcs(r: Reader, x: WireReader, modules: readonly Module[], ctx: TreeContext, at: string, files?: unknown): Built {
  const built = buildTree(r, x, modules, ctx.maxDepth, ctx.memMax, ctx.slack, at);
  const { procs, copies } = built;
  if (files !== undefined) {
    const tree = readFiles(files, (message, where) => r.fail("image.shape", message, `${at} ${where}`));
    if (tree.empty) r.fail("image.shape", "a files part that holds nothing (such checkpoints have none)", `${at} files`);
    procs[0].files = tree;
  }
  verifyTree(procs, `${r.where}: ${at}`, true, copies);
  return built;
}

/** A reader at element `k` of the array at bytes[start, end) (scanned already). */
function elementAt(bytes: Uint8Array, start: number, end: number, k: number, where: string): WireReader {
  const c = new WireReader(bytes, start, end, where);
  c.array();
  for (let i = 0; i < k; i++) c.skip(IMAGE_LIMITS.nesting);
  return c;
}

/** A checkpoint's fields: five, or six when its root owned files. */
function checkpointFields(r: Reader, x: unknown, at: string): unknown[] {
  const c = r.array(x, at);
  if (c.length !== 5 && c.length !== 6) r.fail("image.shape", `expected an array of 5 or 6, got ${describe(x)}`, at);
  return c;
}

/** The debug part (version 2), every checkpoint's tree verified; `used` collects the modules they run. */
function readDebug(r: Reader, x: unknown, body: Uint8Array, byDigest: ReadonlyMap<string, Module>, events: number, ctx: TreeContext, used: Module[]): DebugPart {
  const d = r.array(x, "debug", 4);
  const every = r.int(d[0], 1, EVERY_MAX, "debug every");
  if (!Number.isInteger(Math.log2(every))) r.fail("image.shape", `checkpoints are every power of two of gas, not ${every}`, "debug every");
  const list = r.array(d[1], "debug checkpoints");
  const spans = list.length > 0 ? elementSpans(body, [B.debug, 1]) : [];
  const checkpoints: Checkpoint[] = [];
  for (let i = 0; i < list.length; i++) {
    const at = `checkpoint ${i}`;
    const c = checkpointFields(r, list[i], at);
    const where = r.int(c[0], 0, Number.MAX_SAFE_INTEGER, `${at} at`);
    const ev = r.int(c[1], 0, events, `${at} events`);
    const step = c[2] === null ? null : r.int(c[2], 0, Number.MAX_SAFE_INTEGER, `${at} step`);
    // A recorded checkpoint stands at a multiple of `every`; one that knows its step (a slice's) anywhere.
    if (step === null && (where === 0 || where % every !== 0)) r.fail("image.shape", `checkpoint at ${where} gas is not a multiple of ${every}`, `${at} at`);
    if (i > 0 && where <= checkpoints[i - 1].at) r.fail("image.shape", "checkpoints are sorted by gas, each once", `${at} at`);
    const digests = r.array(c[3], `${at} modules`);
    const mods = digests.map((s) => {
      const m = byDigest.get(r.str(s, 64, `${at} modules`));
      if (!m) r.fail("image.shape", `names a module the image does not hold`, `${at} modules`);
      return m;
    });
    const tree = checkpointProcs(r, elementAt(body, spans[i][0], spans[i][1], 4, r.where), mods, ctx, at, c[5]);
    const root = tree.procs[0];
    if (root.gasUsed > where) r.fail("image.shape", `the tree used ${root.gasUsed} gas, past its place at ${where}`, `${at} tree`);
    used.push(...tree.modules);
    checkpoints.push({ at: where, gas: root.gasUsed, events: ev, step, modules: mods, bytes: body.slice(spans[i][0], spans[i][1]), words: root.memUsed });
  }
  const files = r.array(d[2], "debug sources");
  if (files.length > SOURCES_MAX) r.fail("image.shape", `more than ${SOURCES_MAX} source files`, "debug sources");
  const sources: [string, string][] = files.map((f, i) => {
    const pair = r.array(f, `debug source ${i}`, 2);
    return [r.str(pair[0], IMAGE_LIMITS.nameLength, `debug source ${i}`), r.str(pair[1], SOURCE_TEXT_MAX, `debug source ${i}`)];
  });
  for (let i = 1; i < sources.length; i++)
    if (!(sources[i - 1][0] < sources[i][0])) r.fail("image.shape", "source files are sorted by name, each once", `debug source ${i}`);
  let slice: DebugPart["slice"] = null;
  if (d[3] !== null) {
    const s = r.array(d[3], "debug slice", 2);
    const from = r.int(s[0], 0, Number.MAX_SAFE_INTEGER, "debug slice");
    const to = r.int(s[1], from, Number.MAX_SAFE_INTEGER, "debug slice");
    slice = { from, to };
  }
  return { every, checkpoints, sources, slice };
}

/**
 * The tree of a checkpoint (its root detached, possibly mid-run), decoded
 * and verified again from its bytes: the debugger restores checkpoints with it.
 */
export function checkpointTree(c: Checkpoint, opts: DecodeOptions = {}): Process {
  const r = new Reader(opts.where ?? "checkpoint");
  const wire = checkpointFields(r, unpackChecked(c.bytes, IMAGE_LIMITS.nesting, r.where), "checkpoint");
  const slack = new Slack(r, IMAGE_LIMITS.stackSlack + c.bytes.length);
  return checkpointProcs(r, elementAt(c.bytes, 0, c.bytes.length, 4, r.where), c.modules, { maxDepth: opts.maxDepth ?? 4096, memMax: opts.memMax ?? 1 << 28, slack }, `checkpoint at ${c.at}`, wire[5]).procs[0];
}


/**
 * The origin and modules fields of the last image whose initial state matched
 * its digest. Whether it does is a function of those bytes alone (the origin
 * field holds the state and the digest, the modules field what its indices
 * and links name), so an image with the same bytes there matches too (a
 * session restored again and again): compared byte for byte, not by a digest.
 * So are the hashes of its modules' bytes (readModules): a function of the
 * same bytes.
 */
interface Fields {
  origin: Uint8Array;
  modules: Uint8Array;
  /** The SHA-256 (hex) of each module's bytes in the modules field, in its order, if they were hashed (DecodeOptions.known). */
  hashes: readonly string[] | undefined;
}
let lastOrigin: Fields | null = null;

/** Whether the body's bytes at `at` are lastOrigin's origin field, then its modules field. */
function sameOrigin(b: Uint8Array, at: number): boolean {
  if (lastOrigin === null) return false;
  const { origin, modules } = lastOrigin;
  return (
    at + origin.length + modules.length <= b.length &&
    sameRange(origin, 0, b, at, origin.length) &&
    sameRange(modules, 0, b, at + origin.length, modules.length)
  );
}

/** Decodes and verifies untrusted image bytes. Throws RarError("image", ...) naming what and where. */
export function decodeImage(bytes: Uint8Array, opts: DecodeOptions = {}): DecodedImage {
  const r = new Reader(opts.where ?? "image");
  const maxDepth = opts.maxDepth ?? 4096;
  const memMax = opts.memMax ?? 1 << 28;
  const [digest, bodyBytes, version] = readHeader(r, bytes);
  const actual = sha256(bodyBytes);
  if (!sameBytes(actual, digest))
    r.fail("image.digest", `content digest mismatch: the image says ${hex(digest).slice(0, 16)}…, its content hashes to ${hex(actual).slice(0, 16)}… (corrupted)`);
  // The body is read in place, field by field: the process trees by buildTree, the other (small)
  // fields scanned and unpacked. A body that fails anywhere is first scanned whole, so a structural
  // error is reported as such wherever it is, as when the whole body was scanned before anything else.
  try {
    return decodeBody(r, bytes.length, bodyBytes, digest, version, maxDepth, memMax, opts);
  } catch (e) {
    if (e instanceof RarError) scan(bodyBytes, IMAGE_LIMITS.nesting, r.where);
    throw e;
  }
}

function decodeBody(
  r: Reader,
  size: number,
  bodyBytes: Uint8Array,
  digest: Uint8Array,
  version: number,
  maxDepth: number,
  memMax: number,
  opts: DecodeOptions,
): DecodedImage {
  const c = new WireReader(bodyBytes, 0, bodyBytes.length, r.where);
  const fields = r.arrayAt(c, "body", BODY_FIELDS + version - IMAGE_VERSION);
  // Nesting inside a body field: one level less than the body's.
  const nesting = IMAGE_LIMITS.nesting - 1;
  /** The span of the next field, skipped (checked as scan() checks it). */
  const span = (): [number, number] => {
    const from = c.pos;
    c.skip(nesting);
    return [from, c.pos];
  };
  /** The value of a field read as values (the debug and files parts): in the writer's form only, then unpacked. */
  const field = (at: [number, number]): unknown => {
    new WireReader(bodyBytes, at[0], at[1], r.where).canonical();
    return unpackSpan(bodyBytes, at[0], at[1], r.where);
  };
  const runtime = r.strAt(c, IMAGE_LIMITS.runtimeLength, "runtime");
  const policy = r.digestAt(c, "policy");
  // The origin and modules fields of the last image whose origin checked are values that scanned: bytes
  // that start with them hold them (a msgpack value ends where its encoding does), not scanned again.
  const again = sameOrigin(bodyBytes, c.pos);
  const originAt: [number, number] = again ? [c.pos, (c.pos += (lastOrigin as Fields).origin.length)] : span();
  const modulesAt: [number, number] = again ? [c.pos, (c.pos += (lastOrigin as Fields).modules.length)] : span();
  const hashes: string[] = [];
  const modules = readModules(r, bodyBytes.subarray(modulesAt[0], modulesAt[1]), opts.known, again ? (lastOrigin as Fields).hashes : undefined, hashes);
  const slack = new Slack(r, IMAGE_LIMITS.stackSlack + size);
  const { procs, copies, modules: run } = buildTree(r, c, modules, maxDepth, memMax, slack, "tree", opts.readAhead !== false);
  const traceAt = span();
  const debugAt = fields > B.debug ? span() : null;
  const filesAt = fields > B.files ? span() : null;
  if (c.pos !== bodyBytes.length) throw new RarError("image.trailing", `${bodyBytes.length - c.pos} bytes after the end of the value`, r.where);
  // The root's files are part of its footprint: attached before the budgets are checked.
  if (filesAt !== null) {
    const files = readFiles(field(filesAt), (message, at) => r.fail("image.shape", message, at));
    if (files.empty) r.fail("image.shape", "a files part that holds nothing (such images have none)", "files");
    procs[0].files = files;
  }
  verifyTree(procs, r.where, false, copies);

  const o = new WireReader(bodyBytes, originAt[0], originAt[1], r.where);
  r.arrayAt(o, "origin", 2);
  const originDigest = r.digestAt(o, "origin digest");
  let originRoot: Process | null = null;
  let originRuns: readonly Module[] = [];
  if (!o.nil()) {
    const origin = buildTree(r, o, modules, maxDepth, memMax, slack, "origin");
    const originProcs = origin.procs;
    originRuns = origin.modules;
    verifyTree(originProcs, `${r.where}: origin`, false, origin.copies);
    originRoot = originProcs[0];
    if (originProcs.length !== 1 || originRoot.fp !== 0 || originRoot.status !== 0)
      r.fail("image.origin", "the initial state is one process that has not started", "origin");
  }
  const trace = readTrace(r, bodyBytes, traceAt[0], traceAt[1], opts.traceView);
  // Made when first read (links, the debug part, the origin's digest): most restores read none.
  let byDigestMap: Map<string, Module> | null = null;
  const byDigest = (): Map<string, Module> => (byDigestMap ??= new Map(modules.map((m) => [m.digest, m])));
  const checkpointed: Module[] = [];
  // A nil debug part (most images) is one byte: read as it is.
  const debugWire = debugAt === null || (debugAt[1] - debugAt[0] === 1 && bodyBytes[debugAt[0]] === 0xc0) ? null : field(debugAt);
  // A version 3 image without a debug part has nil there; a version 2 image has one.
  const debug = debugAt === null || (debugWire === null && version === IMAGE_VERSION_FILES) ? null : readDebug(r, debugWire, bodyBytes, byDigest(), trace.count, { maxDepth, memMax, slack }, checkpointed);

  // Every module is run by some process (of the tree, the origin or a checkpoint) or linked by one that is
  // (an image of one module: the tree's root runs it).
  if (modules.length > 1) requireUsed(r, modules, [run, originRuns, checkpointed], byDigest);

  if (originRoot && !again) {
    const expected = stateDigest(originRoot, emptyTrace(), (d) => byDigest().get(d));
    if (!sameBytes(expected, originDigest)) r.fail("image.origin", "the initial state does not match its digest", "origin digest");
    lastOrigin = { origin: bodyBytes.slice(originAt[0], originAt[1]), modules: bodyBytes.slice(modulesAt[0], modulesAt[1]), hashes: opts.known ? hashes : undefined };
  }
  return {
    root: procs[0],
    modules,
    meta: { runtime, policy, origin: { digest: originDigest, root: originRoot }, trace, debug },
    imageDigest: digestHex(digest),
    version,
  };
}

/** Fails unless every module is run by some process (`runs`: what the trees run) or linked by a module that is. */
function requireUsed(r: Reader, modules: readonly Module[], runs: readonly (readonly Module[])[], byDigest: () => Map<string, Module>): void {
  const used = new Set<string>();
  const todo: Module[] = [];
  // What the trees run, as buildTree collected it (no walk over their processes).
  for (const list of runs)
    for (const m of list)
      if (!used.has(m.digest)) {
        used.add(m.digest);
        todo.push(m);
      }
  while (todo.length > 0) {
    for (const l of (todo.pop() as Module).links ?? []) {
      const m = byDigest().get(l);
      if (m && !used.has(l)) {
        used.add(l);
        todo.push(m);
      }
    }
  }
  if (used.size !== modules.length) r.fail("image.shape", `${modules.length - used.size} module(s) that no process uses`, "modules");
}

/** Two hex digits per byte value. */
const HEX_PAIRS: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A digest in hex, as sha256.ts hex() gives it (without a Buffer: a restore makes one per image). */
function digestHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX_PAIRS[b[i]];
  return s;
}

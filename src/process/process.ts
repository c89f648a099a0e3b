// A process: one node of the tree. Everything needed to continue it lives
// here (no hidden state), which is what makes images possible.

import { Detail, RarError, detailText, type FaultKind } from "../vm/errors.js";
import type { Cpu } from "../vm/interpreter.js";
import type { Module } from "../vm/module.js";
import { FRAME_WORDS, Frame, StatusCode } from "../vm/opcodes.js";
import { Children } from "./child-table.js";
import type { FileTree } from "../caps/filetree.js";

export { Children };
import { STATUS_NAMES, type StatusName } from "../vm/status.js";

/**
 * Words charged for a process's own bookkeeping: what the host holds for a
 * process besides the words it is charged for (the Process object, the
 * headers of up to four typed arrays, spare room in them, its children table,
 * its slot in its parent's). A parked child of 64 words of memory holds about
 * what it is charged (spec/semantics.md). About 1.4 KB in the heaviest shape
 * `npm run bench -- --only hostmem` builds (host_amplification_spawn_heavy),
 * so that a spawn bomb holds less than 4 host bytes per guest byte of its
 * limit, the bound spec/semantics.md states.
 */
export const PROCESS_WORDS = 96;
/**
 * Words charged per argument of a trapped request (beyond the argument's
 * words): the host array each argument is held in until the parent answers.
 */
export const REQUEST_ARG_WORDS = 16;
/**
 * The empty array a process has for memory, stack or frames it has not got
 * yet (a fresh process without arguments, a process without memory). Shared:
 * it has no element to write, and every write site grows its array first.
 */
export const NO_WORDS = new Int32Array(0);
/** The root's initial memory for main(args): one array [n, a0, ..., an-1] at address 0. */
export function argsMemory(args: readonly number[]): Int32Array {
  const mem = new Int32Array(args.length + 1);
  mem[0] = args.length;
  for (let i = 0; i < args.length; i++) mem[i + 1] = args[i];
  return mem;
}

/** Words the text arguments take in the root's memory (textArgsMemory). */
export function textArgsWords(texts: readonly { readonly length: number }[]): number {
  let n = 1 + texts.length;
  for (const t of texts) n += 1 + t.length;
  return n;
}

/**
 * The root's initial memory for text arguments (spec/language.md "Program
 * arguments"): [n, o0, ..., on-1] followed by each text as an array
 * [len, c0, ...], o_i the offset of text i from address 0. Longer than
 * n + 1 words whenever n > 0, which is how a main tells it from integers.
 */
export function textArgsMemory(texts: readonly Int32Array[]): Int32Array {
  const mem = new Int32Array(textArgsWords(texts));
  mem[0] = texts.length;
  let at = 1 + texts.length;
  texts.forEach((t, i) => {
    mem[1 + i] = at;
    mem[at] = t.length;
    mem.set(t, at + 1);
    at += 1 + t.length;
  });
  return mem;
}

/** The root's initial memory from a run's recorded arguments: the texts when there are some, else the integers. */
export function rootArgsMemory(args: readonly number[], texts: readonly Int32Array[] | undefined): Int32Array {
  return texts !== undefined ? textArgsMemory(texts) : argsMemory(args);
}
/**
 * Spare room a recycled process keeps in a buffer (stack, frames, memory)
 * beyond what it needs at the start. Three buffers of REUSE_SLACK words are
 * within what PROCESS_WORDS pays for. One live process per machine at a time
 * may keep more (RecycleBin.room): up to its memory limit and at most
 * REUSE_KEEP words a buffer, so a GP evaluator's child that recursed or grew
 * its memory leaves the next one buffers it would otherwise grow again,
 * doubling from 16, on every evaluation of a generation.
 */
export const REUSE_SLACK = 64;
export const REUSE_KEEP = 4096;

/** Killed processes a recycling machine keeps for reuse. */
const RECYCLED = 16;

/**
 * A recycling machine's killed childless processes, kept for later spawns,
 * and the one live process that was allowed roomy buffers. What the host
 * holds beyond what processes are charged for stays bounded per machine:
 * RECYCLED + 1 processes of at most 3 x REUSE_KEEP words.
 */
export class RecycleBin {
  private readonly spare: Process[] = [];
  private roomy: Process | null = null;

  /** Keeps a killed process (childless, while there is room), shedding buffers over REUSE_KEEP words. */
  put(p: Process): void {
    if (p.children.size !== 0 || this.spare.length >= RECYCLED) return;
    p.shed();
    this.spare.push(p);
  }

  take(): Process | undefined {
    return this.spare.pop();
  }

  /** Processes kept for reuse (tests). */
  get kept(): readonly Process[] {
    return this.spare;
  }

  /** Spare words a process being reused under `memLimit` may keep per buffer. */
  room(p: Process, memLimit: number): number {
    // The roomy one is still in use while a parent holds it (KILL drops the link).
    if (this.roomy !== null && this.roomy !== p && this.roomy.parent !== null) return REUSE_SLACK;
    this.roomy = p;
    return Math.max(REUSE_SLACK, Math.min(memLimit, REUSE_KEEP));
  }
}

/** Most buffers a machine keeps for reuse (SpareBuffers), and the longest it keeps, in words. */
const SPARE_COUNT = 8;
const SPARE_WORDS = 256;
/** Frame words a process gets when it first needs its own frames: room for a few calls before the interpreter grows them. */
export const FIRST_FRAMES = 4 * FRAME_WORDS;

/**
 * Stack and frame buffers a machine keeps between processes: those a stopped
 * process gives up when it parks (Process.park), taken by the next parked
 * one that runs again (Process.own): resuming parked children one after the
 * other allocates nothing. Bounded per machine: SPARE_COUNT buffers of at
 * most SPARE_WORDS words. Words past a process's sp and fp are never read
 * before they are written, so what a buffer held before does not matter.
 */
export class SpareBuffers {
  // A fixed array and a count: pushing and popping would let V8 shrink and grow the array.
  private readonly kept: Int32Array[] = new Array<Int32Array>(SPARE_COUNT).fill(NO_WORDS);
  private n = 0;

  give(a: Int32Array): void {
    if (a.length !== 0 && a.length <= SPARE_WORDS && this.n < SPARE_COUNT) this.kept[this.n++] = a;
  }

  /**
   * A buffer of at least `min` words and at most REUSE_SLACK more: the
   * shortest kept one (a stack must not take the frames the next take is
   * for), else a new one of `min`.
   */
  take(min: number): Int32Array {
    const k = this.kept;
    let best = -1;
    let bestLength = min + REUSE_SLACK + 1;
    for (let i = 0; i < this.n; i++) {
      const length = k[i].length;
      if (length >= min && length < bestLength) {
        best = i;
        bestLength = length;
      }
    }
    if (best < 0) return new Int32Array(min);
    const a = k[best];
    const last = --this.n;
    k[best] = k[last];
    k[last] = NO_WORDS;
    return a;
  }

  /** Buffers kept (tests). */
  get size(): number {
    return this.n;
  }
}

/** A buffer of `min` words or more (from `spare` when given) holding the first `n` words of `a`. */
function copied(a: Int32Array, n: number, min: number, spare: SpareBuffers | null): Int32Array {
  const b = spare === null ? new Int32Array(min) : spare.take(min);
  // A few words one by one: a subarray of a small typed array would move it off the V8 heap.
  if (n <= 64) for (let i = 0; i < n; i++) b[i] = a[i];
  else b.set(a.subarray(0, n));
  return b;
}

/**
 * Where a process starts: a module and one of its functions. One object per
 * (module, function), shared by every process started there, so a process
 * holds one field for both.
 */
interface Start {
  readonly module: Module;
  readonly fn: number;
}

/** The Start objects of the module last asked for (spawns mostly start in one module). */
let startsModule: Module | null = null;
let starts: Start[] = [];
/** The Start objects of other modules, by module (gone with the module). */
const STARTS = new WeakMap<Module, Start[]>();

/** The shared Start of function fn of `module`. */
function startOf(module: Module, fn: number): Start {
  if (module !== startsModule) {
    let a = STARTS.get(module);
    if (a === undefined) STARTS.set(module, (a = []));
    startsModule = module;
    starts = a;
  }
  return (starts[fn] ??= { module, fn });
}

/** Entry functions whose bottom frame is kept shared (BOTTOM): a bound on what the host keeps for all machines. */
const BOTTOM_SHARED = 1024;
const BOTTOM: Int32Array[] = [];

/**
 * The bottom frame of a process entered at function f, [-1, 0, f], one
 * array shared by every parked process of that entry (never written: a
 * process copies it before running, Process.own).
 */
function bottomFrame(f: number): Int32Array {
  let a = BOTTOM[f];
  if (a === undefined) {
    a = new Int32Array(FRAME_WORDS);
    a[Frame.Ret] = -1;
    a[Frame.Fn] = f;
    BOTTOM[f] = a;
  }
  return a;
}

/** Process.shares: which of the stack and frames are shared (copied before the first write). */
const enum Shared {
  Stack = 1,
  Frames = 2,
}

/**
 * The children table of every process that has none yet (most have none):
 * shared, so it refuses to be written; Process.adopt gives a process its own
 * (so do a next handle or a waited child set on it: Process.family).
 */
class NoChildren extends Children<Process> {
  override set(h: number): never {
    throw new Error(`internal: a child ${h} added to the shared empty children table (Process.adopt adds children)`);
  }
}
/** The traps of a process that traps nothing (most): shared, never written (grant arrays are replaced, not changed). */
const NO_TRAPS = Object.freeze([]) as readonly string[] as string[];
const NO_CHILDREN: Children<Process> = new NoChildren();

/** Largest gas or memory limit: a safe integer (budgets are counted exactly). */
export const LIMIT_MAX = Number.MAX_SAFE_INTEGER;

export function clampLimit(x: number): number {
  return Math.max(0, Math.min(LIMIT_MAX, Math.floor(x)));
}

/** A refuel: raises p's limits by non-negative amounts, saturating at LIMIT_MAX (REFUEL, a host refuel, its replay). */
export function raiseLimits(p: Process, gas: number, mem: number): void {
  p.gasLimit = clampLimit(p.gasLimit + gas);
  p.memLimit = clampLimit(p.memLimit + mem);
}

/** A root process running `entry(args)` of a verified module with the given limits and capabilities. */
export function rootProcess(
  module: Module,
  entry: number,
  args: ArrayLike<number>,
  limits: { gas: number; mem: number },
  caps: readonly string[],
  memory: Int32Array,
): Process {
  if (entry < 0 || entry >= module.functions.length) throw new RarError("usage.entry", `no function #${entry}`);
  if (args.length !== module.nparams[entry])
    throw new RarError("usage.arity", `${module.functions[entry].name} takes ${module.nparams[entry]} argument(s), got ${args.length}`);
  const root = new Process(module, entry, Int32Array.from(args), memory, clampLimit(limits.gas), clampLimit(limits.mem), [...new Set(caps)].sort(), [], null, 0);
  root.memUsed = root.ownFootprint();
  return root;
}

/** Status names, from the status table (src/vm/status.ts). */
export { STATUS_NAMES, type StatusName };

/** A fault detail in the interpreter's form (src/vm/errors.ts detailText), made into text when first read. */
interface PendingDetail {
  readonly format: Detail;
  readonly a: number;
  readonly b: number;
  readonly c: number;
}

/** A capability call trapped for the parent to answer. */
export interface CapRequest {
  readonly cap: string;
  /** Arguments as the callee sees them: an int argument is a one-element array. */
  readonly args: readonly Int32Array[];
}

/** Words a trapped request is charged: its arguments' words and REQUEST_ARG_WORDS for each argument. */
export function requestWords(r: CapRequest | null): number {
  if (r === null) return 0;
  let w = 0;
  for (const a of r.args) w += REQUEST_ARG_WORDS + a.length;
  return w;
}

/** Process fields most processes keep at their defaults (Process.rare). */
class Rare {
  faultKind: FaultKind | null = null;
  /**
   * The detail as text, or as the interpreter reported it (a format and its
   * numbers) until it is first read: an object only for a formatted fault.
   */
  detail: string | PendingDetail = "";
  need = 0;
  request: CapRequest | null = null;
  answer = 0;
  inbox: Int32Array | null = null;
  files: FileTree | null = null;
  /** The cached path (Process.path). */
  path: string | null = null;
  traps: string[] = NO_TRAPS;
}

/**
 * Process.bits, from the lowest: the status (a code of src/vm/status.ts),
 * which buffers are shared (Shared), Process.unparked, the depth.
 */
const STATUS_MASK = 7;
const SHARED_SHIFT = 3;
const SHARED_MASK = 3 << SHARED_SHIFT;
const UNPARKED_BIT = 1 << 5;
const DEPTH_SHIFT = 6;
if (STATUS_NAMES.length > STATUS_MASK + 1) throw new Error(`internal: ${STATUS_NAMES.length} statuses do not fit in Process.bits`);

export class Process {
  parent: Process | null;
  /** This process's handle in its parent (0 for a root). */
  handle: number;
  /**
   * The status, which of stack and frames are shared (Shared bits, see
   * borrowed), unparked and the depth (root 0; up to 2^25, past DEPTH_MAX)
   * in one small integer: the host holds a process object per process, and
   * each field of it is 8 bytes.
   */
  private bits: number = StatusCode.READY;
  /** A status code (src/vm/status.ts). */
  get status(): number {
    return this.bits & STATUS_MASK;
  }
  set status(code: number) {
    this.bits = (this.bits & ~STATUS_MASK) | code;
  }
  get depth(): number {
    return this.bits >>> DEPTH_SHIFT;
  }
  set depth(d: number) {
    this.bits = (d << DEPTH_SHIFT) | (this.bits & ((1 << DEPTH_SHIFT) - 1));
  }
  /** The machine keeps this stopped process among the few it has not parked yet (Machine.stopped). */
  get unparked(): boolean {
    return (this.bits & UNPARKED_BIT) !== 0;
  }
  set unparked(b: boolean) {
    this.bits = b ? this.bits | UNPARKED_BIT : this.bits & ~UNPARKED_BIT;
  }
  private get shares(): number {
    return (this.bits & SHARED_MASK) >> SHARED_SHIFT;
  }
  private set shares(s: number) {
    this.bits = (this.bits & ~SHARED_MASK) | (s << SHARED_SHIFT);
  }
  /** Its module and the function it starts in (shared: see Start). */
  private start: Start;
  get module(): Module {
    return this.start.module;
  }
  set module(m: Module) {
    this.start = startOf(m, this.start.fn);
  }
  /** Function the process starts in; it has no frames until it is first entered. */
  get entryFn(): number {
    return this.start.fn;
  }
  set entryFn(fn: number) {
    this.start = startOf(this.start.module, fn);
  }

  /** done(value) / yielded(value). */
  value = 0;
  /**
   * The fields most processes never set (Rare), in one object made when one
   * of them is first set to something else than its default: a process that
   * never faults, traps, stops for lack of a budget or owns files carries one
   * field for all of them.
   */
  private rare: Rare | null = null;

  private rareFields(): Rare {
    return (this.rare ??= new Rare());
  }

  get faultKind(): FaultKind | null {
    return this.rare === null ? null : this.rare.faultKind;
  }
  set faultKind(k: FaultKind | null) {
    if (this.rare !== null || k !== null) this.rareFields().faultKind = k;
  }
  /** The fault's detail as text (made from the interpreter's format and numbers when first read). */
  get faultDetail(): string {
    const r = this.rare;
    if (r === null) return "";
    const d = r.detail;
    if (typeof d === "string") return d;
    return (r.detail = detailText(d.format, d.a, d.b, d.c));
  }
  set faultDetail(text: string) {
    if (this.rare !== null || text !== "") this.rareFields().detail = text;
  }

  /** Takes the detail of the fault the cpu just reported, as it is (text or format). */
  takeDetail(cpu: Cpu): void {
    this.rareFields().detail = cpu.detailFormat === Detail.Text ? cpu.detail : { format: cpu.detailFormat, a: cpu.detailA, b: cpu.detailB, c: cpu.detailC };
  }
  /** Gas or words the refused instruction needs (out_of_gas / out_of_mem). */
  get need(): number {
    return this.rare === null ? 0 : this.rare.need;
  }
  set need(n: number) {
    if (this.rare !== null || n !== 0) this.rareFields().need = n;
  }
  get request(): CapRequest | null {
    return this.rare === null ? null : this.rare.request;
  }
  set request(r: CapRequest | null) {
    if (this.rare !== null || r !== null) this.rareFields().request = r;
  }
  /** The value a trapped capability call returns when resumed. */
  get answer(): number {
    return this.rare === null ? 0 : this.rare.answer;
  }
  set answer(v: number) {
    if (this.rare !== null || v !== 0) this.rareFields().answer = v;
  }
  /** Host-side words the process holds outside its memory (snapshot bytes, array results); charged. */
  get inbox(): Int32Array | null {
    return this.rare === null ? null : this.rare.inbox;
  }
  set inbox(words: Int32Array | null) {
    if (this.rare !== null || words !== null) this.rareFields().inbox = words;
  }
  /** The file tree this process owns: only a root has one, made when first needed (process/files.ts). */
  get files(): FileTree | null {
    return this.rare === null ? null : this.rare.files;
  }
  set files(tree: FileTree | null) {
    if (this.rare !== null || tree !== null) this.rareFields().files = tree;
  }
  private get cachedPath(): string | null {
    return this.rare === null ? null : this.rare.path;
  }
  private set cachedPath(path: string | null) {
    if (this.rare !== null || path !== null) this.rareFields().path = path;
  }
  /** Handle of the child this process is resuming (waiting in RESUME), or 0: kept in its children table. */
  get waiting(): number {
    return this.children.waiting;
  }
  set waiting(h: number) {
    if (h !== 0 || this.children !== NO_CHILDREN) this.family().waiting = h;
  }
  /** The handle of the next child this process spawns: kept in its children table. */
  get nextHandle(): number {
    return this.children.nextHandle;
  }
  set nextHandle(h: number) {
    if (h !== 1 || this.children !== NO_CHILDREN) this.family().nextHandle = h;
  }
  /** Capabilities whose calls stop this process for its parent to answer, sorted (most trap none: rare). */
  get traps(): string[] {
    return this.rare === null ? NO_TRAPS : this.rare.traps;
  }
  set traps(names: string[]) {
    if (this.rare !== null || names.length !== 0) this.rareFields().traps = names;
  }

  // registers (see vm/interpreter.ts Cpu)
  pc = 0;
  sp = 0;
  bp = 0;
  fp = 0;
  stack: Int32Array;
  /** Call frames, 3 words each; none (NO_WORDS) until the process is first entered. */
  frames: Int32Array = NO_WORDS;
  /**
   * The stack or frames are shared, with processes decoded from the same
   * image record (image/decode.ts copyOf) or, for a parked process (park),
   * with every process in the same state, and are copied before the first
   * write (own): by the scheduler when it loads the process, by whatever
   * writes to them while it is stopped (wake, completeResume, reuse).
   * Setting it says both are shared.
   */
  get borrowed(): boolean {
    return this.shares !== 0;
  }
  set borrowed(b: boolean) {
    this.shares = b ? Shared.Stack | Shared.Frames : 0;
  }
  mem: Int32Array;
  memSize = 0;

  gasLimit: number;
  gasUsed = 0;
  memLimit: number;
  /** Footprint of the whole subtree, in words. */
  memUsed = 0;

  /** Capabilities held, sorted. */
  caps: string[];
  /** Children by handle: the shared empty table until the first is adopted. */
  children: Children<Process> = NO_CHILDREN;

  constructor(
    module: Module,
    entryFn: number,
    args: ArrayLike<number>,
    memory: Int32Array,
    gasLimit: number,
    memLimit: number,
    caps: string[],
    traps: string[],
    parent: Process | null,
    handle: number,
  ) {
    this.start = startOf(module, entryFn);
    this.parent = parent;
    this.handle = handle;
    // Ready, nothing shared, at its parent's depth plus one (the setters' work, without reading back bits
    // just set: a tree decoded from an image makes a process per record).
    if (parent !== null) this.bits = (((parent.bits >>> DEPTH_SHIFT) + 1) << DEPTH_SHIFT) | StatusCode.READY;
    this.gasLimit = gasLimit;
    this.memLimit = memLimit;
    this.caps = caps;
    if (traps.length !== 0) this.traps = traps;
    // Only the arguments until the entry frame is charged (on first entry, which makes room for it):
    // the host holds no more for a fresh child than it is charged.
    this.stack = args.length === 0 ? NO_WORDS : new Int32Array(args.length);
    for (let i = 0; i < args.length; i++) this.stack[i] = args[i];
    this.sp = args.length;
    this.mem = memory.length === 0 ? NO_WORDS : memory;
    this.memSize = memory.length;
  }

  /**
   * A process like this childless one in every field, at `handle` under
   * `parent` (this one's parent: the same depth), with `mem` for memory, its
   * own inbox and request, and this one's stack and frames until either is
   * written (borrowed, on both): a decoded record that repeats its sibling's
   * (image/decode.ts). Fields copied as they are, without the setters' checks
   * (each value passed them when this one was made).
   */
  twin(parent: Process, handle: number, mem: Int32Array): Process {
    const p = new Process(this.start.module, this.start.fn, NO_WORDS, mem, this.gasLimit, this.memLimit, this.caps, NO_TRAPS, parent, handle);
    this.shares = Shared.Stack | Shared.Frames;
    p.bits = this.bits;
    p.value = this.value;
    const r = this.rare;
    if (r !== null) {
      const c = (p.rare = new Rare());
      c.faultKind = r.faultKind;
      c.detail = r.detail;
      c.need = r.need;
      const req = r.request;
      if (req !== null) c.request = { cap: req.cap, args: req.args.map((a) => a.slice()) };
      c.answer = r.answer;
      if (r.inbox !== null) c.inbox = r.inbox.slice();
      c.traps = r.traps;
    }
    p.pc = this.pc;
    p.sp = this.sp;
    p.bp = this.bp;
    p.fp = this.fp;
    p.stack = this.stack;
    p.frames = this.frames;
    p.gasUsed = this.gasUsed;
    p.memUsed = this.memUsed;
    // A childless process has a table only for its next handle or the child it waits on.
    if (this.children !== NO_CHILDREN) {
      p.nextHandle = this.nextHandle;
      p.waiting = this.waiting;
    }
    return p;
  }

  /** Makes `c` this process's child at handle h. */
  adopt(h: number, c: Process): void {
    this.family().set(h, c);
  }

  /**
   * Makes the processes of `list` this childless process's children, `list`
   * its table's own array from now on: each one's parent is this one, their
   * handles increase, and every one is below nextHandle (image/decode.ts
   * reads a parent's children into one array at the length it declares).
   */
  adoptAll(list: Process[]): void {
    this.family().fill(list);
  }

  /** This process's own children table (made when first needed). */
  private family(): Children<Process> {
    if (this.children === NO_CHILDREN) this.children = new Children<Process>();
    return this.children;
  }

  /**
   * Makes the stack and frames this process's own (copies of what it shares:
   * see borrowed), with room for its top frame's whole operand stack (the
   * interpreter does not check bounds inside a frame) and for a few calls.
   * Buffers come from `spare` when it is given.
   */
  own(spare: SpareBuffers | null = null): void {
    const s = this.shares;
    if (s === 0) return;
    this.shares = 0;
    if ((s & Shared.Stack) !== 0) {
      let room = this.stack.length;
      // A parked process (one frame, base 0) holds no room for its frame: shared stacks do (decode.ts).
      if (this.fp === FRAME_WORDS) room = Math.max(room, this.module.nlocals[this.entryFn] + this.module.maxStack[this.entryFn]);
      this.stack = copied(this.stack, this.sp, Math.max(room, this.sp), spare);
    }
    if ((s & Shared.Frames) !== 0) this.frames = copied(this.frames, this.fp, this.fp === 0 ? this.frames.length : Math.max(this.frames.length, FIRST_FRAMES), spare);
  }

  /**
   * A process that stopped (yielded, trapped, out of a budget, faulted) and
   * holds only its bottom frame gives its frames, and with nothing on its
   * stack its stack, to `spare`, and keeps shared forms of them instead: the
   * frame [-1, 0, entryFn] and the empty stack. A suspended child then holds
   * no host buffer but its memory; own() gives it buffers again when it runs.
   */
  park(spare: SpareBuffers): void {
    // Not one that runs again (resumed since it stopped, or reused): its buffers are in use.
    if (this.status === StatusCode.READY || this.fp !== FRAME_WORDS || this.shares !== 0 || this.entryFn >= BOTTOM_SHARED) return;
    spare.give(this.frames);
    this.frames = bottomFrame(this.entryFn);
    let s = Shared.Frames;
    if (this.sp === 0) {
      spare.give(this.stack);
      this.stack = NO_WORDS;
      s |= Shared.Stack;
    }
    this.shares = s;
  }

  /**
   * A killed process going into the recycling bin drops each buffer longer
   * than REUSE_KEEP words, so what the bin holds for later spawns is bounded.
   */
  shed(): void {
    if (this.stack.length > REUSE_KEEP) {
      this.stack = NO_WORDS;
      this.sp = 0;
    }
    if (this.frames.length > REUSE_KEEP) {
      this.frames = NO_WORDS;
      this.fp = 0;
    }
    if (this.mem.length > REUSE_KEEP) {
      this.mem = NO_WORDS;
      this.memSize = 0;
    }
  }

  /**
   * Turns this process, dropped by its parent and childless, into a fresh one:
   * the same state as `new Process(...)` with `nargs` arguments from
   * `args[argAt..]` and a copy of `src[memAt, memAt + memLen)` as memory, but
   * keeping its host buffers when they fit (see REUSE_KEEP; a spawn then
   * allocates nothing). Only the scheduler calls this, for a process no one else can
   * reach any more.
   */
  reuse(
    module: Module,
    entryFn: number,
    args: Int32Array,
    argAt: number,
    nargs: number,
    src: Int32Array,
    memAt: number,
    memLen: number,
    gasLimit: number,
    memLimit: number,
    caps: string[],
    traps: string[],
    parent: Process,
    handle: number,
    keep: number,
  ): void {
    this.parent = parent;
    this.handle = handle;
    this.depth = parent.depth + 1;
    this.start = startOf(module, entryFn);
    this.status = StatusCode.READY;
    this.value = 0;
    // Fault, need, request, answer, inbox, files and path back at their defaults.
    this.rare = null;
    this.waiting = 0;
    this.pc = 0;
    this.bp = 0;
    this.fp = 0;
    if (this.borrowed) {
      this.stack = NO_WORDS;
      this.frames = NO_WORDS;
      this.borrowed = false;
    }
    // Buffers are kept only with at most `keep` words of room beyond what the fresh process needs
    // (its arguments, its memory): RecycleBin.room.
    let stack = this.stack;
    if (stack.length < nargs || stack.length > nargs + keep) stack = this.stack = nargs === 0 ? NO_WORDS : new Int32Array(nargs);
    for (let i = 0; i < nargs; i++) stack[i] = args[argAt + i];
    this.sp = nargs;
    if (this.frames.length > keep) this.frames = NO_WORDS;
    // Memory past memSize must read as zeros when it is grown (MGROW relies on it).
    let mem = this.mem;
    if (mem.length < memLen || mem.length > memLen + keep) mem = this.mem = memLen === 0 ? NO_WORDS : new Int32Array(memLen);
    else if (this.memSize - memLen > 64) mem.fill(0, memLen, this.memSize);
    // A few words one by one: fill() is a slow call for a few words (a GP case's output area).
    else for (let i = memLen; i < this.memSize; i++) mem[i] = 0;
    for (let i = 0; i < memLen; i++) mem[i] = src[memAt + i];
    this.memSize = memLen;
    this.gasLimit = gasLimit;
    this.gasUsed = 0;
    this.memLimit = memLimit;
    this.memUsed = 0;
    this.caps = caps;
    this.traps = traps;
    this.nextHandle = 1;
    this.cachedPath = null;
  }

  /**
   * Words this process itself occupies (without children): bookkeeping,
   * memory, inbox, a trapped request, and its frames, or while it has none
   * (fresh: not entered yet) the arguments waiting on its stack.
   */
  ownFootprint(): number {
    let words = PROCESS_WORDS + this.memSize;
    const r = this.rare;
    if (r !== null) words += (r.inbox?.length ?? 0) + requestWords(r.request) + (r.files?.words ?? 0);
    if (this.fp === 0) return words + this.sp;
    for (let i = 0; i < this.fp; i += Frame.Words) words += this.module.frameCost[this.frames[i + Frame.Fn]];
    return words;
  }

  /** A fresh process has not been entered yet (no frames, never ran). */
  get fresh(): boolean {
    return this.fp === 0 && this.status === StatusCode.READY;
  }

  get statusName(): StatusName {
    return STATUS_NAMES[this.status];
  }

  /**
   * "0" for a root, "0.3.1" for child 1 of child 3 of the root. Cached; see
   * invalidatePaths. Iterative (the tree may be thousands deep): up to the
   * nearest ancestor whose path is known, then down again, caching each.
   */
  get path(): string {
    if (this.cachedPath !== null) return this.cachedPath;
    const unknown: Process[] = [];
    let known: Process | null = this;
    while (known !== null && known.cachedPath === null) {
      unknown.push(known);
      known = known.parent;
    }
    let path = known === null ? "" : (known.cachedPath as string);
    for (let i = unknown.length - 1; i >= 0; i--) {
      const p = unknown[i];
      path = p.parent === null ? `${p.handle}` : `${path}.${p.handle}`;
      p.cachedPath = path;
    }
    return path;
  }

  /** Forgets cached paths of this subtree (after it is moved in the tree). Iterative. */
  invalidatePaths(): void {
    const todo: Process[] = [this];
    while (todo.length > 0) {
      const p = todo.pop() as Process;
      p.cachedPath = null;
      for (const c of p.children.values()) todo.push(c);
    }
  }

  /** The root of this process's tree. */
  get root(): Process {
    let p: Process = this;
    while (p.parent) p = p.parent;
    return p;
  }
}

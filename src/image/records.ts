// A process tree as msgpack: one record per process, in preorder, children in
// handle order (see format.ts F for the fields). Typed data — stacks, frames,
// memories, inboxes, request arguments — is binary, little endian, and only
// the live part of each array is written: stack[0, sp), frames[0, fp),
// mem[0, memSize). Iterative, whatever the depth of the tree.

import type { Process } from "../process/process.js";
import type { Module } from "../vm/module.js";
import { RECORD_FIELDS } from "./format.js";
import type { WireWriter } from "./wire.js";

const EMPTY = new Int32Array(0);

/** Children in handle order (insertion order already is; sorting guards canonicity). */
export function childrenOf(p: Process): readonly Process[] {
  const cs = p.children.list();
  for (let i = 1; i < cs.length; i++) {
    if (cs[i].handle < cs[i - 1].handle) {
      return [...cs].sort((a, b) => a.handle - b.handle);
    }
  }
  return cs;
}

/** The processes of a subtree in preorder. */
export function preorder(root: Process): Process[] {
  const out: Process[] = [root];
  if (root.children.size === 0) return out;
  // The open parents' children lists, and the next child of each: no list of all that is left to visit.
  const lists: (readonly Process[])[] = [childrenOf(root)];
  const next: number[] = [0];
  while (lists.length > 0) {
    const top = lists.length - 1;
    const cs = lists[top];
    const k = next[top];
    if (k === cs.length) {
      lists.pop();
      next.pop();
      continue;
    }
    next[top] = k + 1;
    const p = cs[k];
    out.push(p);
    if (p.children.size > 0) {
      lists.push(childrenOf(p));
      next.push(0);
    }
  }
  return out;
}

/**
 * The modules an image of these trees (each given in preorder) needs: every
 * module a process runs (and the `extra` ones: its checkpoints') and,
 * transitively, the linked modules `resolve` knows, each once, sorted by digest.
 */
export function modulesOf(trees: readonly (readonly Process[])[], resolve: (digest: string) => Module | undefined, extra: readonly Module[] = []): Module[] {
  const found = new Map<string, Module>();
  const todo: Module[] = [];
  const add = (m: Module): void => {
    if (found.has(m.digest)) return;
    found.set(m.digest, m);
    todo.push(m);
  };
  for (const procs of trees) {
    // Processes of a tree mostly run one module: look up only where it changes.
    let last: Module | null = null;
    for (const p of procs) {
      if (p.module === last) continue;
      last = p.module;
      add(last);
    }
  }
  for (const m of extra) add(m);
  while (todo.length > 0) {
    const m = todo.pop() as Module;
    for (const l of m.links ?? []) {
      const linked = resolve(l);
      if (linked) add(linked);
    }
  }
  return [...found.values()].sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
}

function sameWords(a: Int32Array, b: Int32Array, n: number): boolean {
  if (a === b) return true;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Whether p's record and q's are the same bytes after the handle: every field
 * writeTree writes after it (in its order) is equal (a trapped request is
 * never: such records are rare). What makes writeTree's copies exact; a field
 * added to the record is added here too (test/image-repeat.test.ts changes
 * each field of a process in turn and fails otherwise).
 */
export function sameRecord(p: Process, q: Process): boolean {
  return (
    p.module === q.module &&
    p.entryFn === q.entryFn &&
    p.status === q.status &&
    p.value === q.value &&
    p.faultKind === q.faultKind &&
    p.faultDetail === q.faultDetail &&
    p.need === q.need &&
    p.request === null &&
    q.request === null &&
    p.answer === q.answer &&
    p.waiting === q.waiting &&
    (p.inbox === null ? q.inbox === null : q.inbox !== null && p.inbox.length === q.inbox.length && sameWords(p.inbox, q.inbox, p.inbox.length)) &&
    p.pc === q.pc &&
    p.bp === q.bp &&
    p.sp === q.sp &&
    sameWords(p.stack, q.stack, p.sp) &&
    p.fp === q.fp &&
    sameWords(p.frames, q.frames, p.fp) &&
    p.memSize === q.memSize &&
    sameWords(p.mem, q.mem, p.memSize) &&
    p.gasLimit === q.gasLimit &&
    p.gasUsed === q.gasUsed &&
    p.memLimit === q.memLimit &&
    p.memUsed === q.memUsed &&
    sameNames(p.caps, q.caps) &&
    sameNames(p.traps, q.traps) &&
    p.nextHandle === q.nextHandle &&
    p.children.size === q.children.size
  );
}

/**
 * Writes a tree, given in preorder (procs[0] its root: preorder()), as an
 * array of records. `index` maps module digests to positions in the image's
 * module list. In state mode (for the execution-state digest) the limits and
 * `need` are written as nil.
 *
 * A record that is its previous sibling's but for the handle (sameRecord: a
 * parent's many like children) is the same bytes after the handle, so those
 * are copied from the sibling's (WireWriter.repeat) rather than encoded again:
 * the decoder's copies (image/decode.ts) mirror this. `repeat` false: every
 * record encoded (tests compare the two).
 */
export function writeTree(w: WireWriter, procs: readonly Process[], index: ReadonlyMap<string, number>, state: boolean, repeat = true): void {
  const root = procs[0];
  w.array(procs.length);
  let lastModule: Module | null = null;
  let mi = -1;
  // The last process written whose parent is the next one's, and its record's bytes after the handle.
  let prev: Process | null = null;
  let prevFrom = 0;
  let prevTo = 0;
  for (let k = 0; k < procs.length; k++) {
    const p = procs[k];
    w.array(RECORD_FIELDS).int(p === root ? 0 : p.handle);
    if (repeat && prev !== null && prev.parent === p.parent && sameRecord(p, prev)) {
      const from = w.offset();
      if (w.repeat(prevFrom, prevTo)) {
        // The next repeats copy from this one: the nearest bytes, in the buffer being written.
        prevFrom = from;
        prevTo = w.offset();
        prev = p;
        continue;
      }
    }
    if (p.module !== lastModule) {
      lastModule = p.module;
      mi = index.get(p.module.digest) ?? -1;
      if (mi < 0) throw new Error(`internal: module ${p.module.digest} missing from the image's module list`);
    }
    prevFrom = w.offset();
    w.int(mi).int(p.entryFn).int(p.status).int(p.value);
    if (p.faultKind === null) w.nil();
    else w.str(p.faultKind);
    w.str(p.faultDetail);
    if (state) w.nil();
    else w.int(p.need);
    const req = p.request;
    if (req === null) w.nil();
    else {
      w.array(2).str(req.cap).array(req.args.length);
      for (const a of req.args) w.words(a, a.length);
    }
    w.int(p.answer).int(p.waiting);
    w.words(p.inbox ?? EMPTY, p.inbox?.length ?? 0);
    w.int(p.pc).int(p.bp);
    w.words(p.stack, p.sp).words(p.frames, p.fp).words(p.mem, p.memSize);
    if (state) w.nil();
    else w.int(p.gasLimit);
    w.int(p.gasUsed);
    if (state) w.nil();
    else w.int(p.memLimit);
    w.int(p.memUsed);
    // Indexed loops: grant lists are of several shapes (shared, frozen), where for-of is slow.
    const caps = p.caps;
    w.array(caps.length);
    for (let i = 0; i < caps.length; i++) w.str(caps[i]);
    const traps = p.traps;
    w.array(traps.length);
    for (let i = 0; i < traps.length; i++) w.str(traps[i]);
    w.int(p.nextHandle).int(p.children.size);
    prevTo = w.offset();
    prev = p;
  }
}

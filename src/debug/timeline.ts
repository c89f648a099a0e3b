// The timeline of a recorded run: every instruction it executed, numbered,
// and reachable (spec/trace-format.md §8, "Steps").
//
// A step is one instruction that runs: it is charged its gas, and every
// instruction costs at least one unit. A refused instruction (out of gas or
// memory) and a faulting one do nothing and are not steps. Steps are counted
// over the whole tree from the initial state (step 0), across suspensions.
// G(k), the root's gasUsed after k steps, grows strictly with k, so position
// k is where a replay stopped at G(k) stands: after step k, before step k+1
// (a process lacking the budget for its next instruction has stopped there;
// a root that stopped there has not yet seen the host events that follow).
// The last position is the end of the run, every event applied.
//
// Nothing per step is stored. The index keeps (step, gas) samples every
// SAMPLE steps and restore points (encoded trees) every RESTORE steps, built
// once by a counting replay as far as it is needed. Reaching step k restores
// the nearest restore point, replays by gas at full speed to the nearest
// sample, and counts the few steps left with the machine's step hook.

import { captureCheckpoint } from "../image/debug.js";
import type { DecodedImage } from "../image/decode.js";
import type { Checkpoint } from "../image/format.js";
import type { Process } from "../process/process.js";
import { traceFromWire, type StartEvent } from "../trace/trace.js";
import { RarError } from "../vm/errors.js";
import type { Module } from "../vm/module.js";
import { StatusCode } from "../vm/opcodes.js";
import { Replayer, type Recording } from "./replayer.js";

/** Steps between (step, gas) samples: at most this many are counted one by one to reach any step. */
export const SAMPLE = 1024;
/** Steps between restore points (at full speed, a few milliseconds of replay). */
export const RESTORE = 1 << 18;
/** Words all restore points may hold together (their trees' footprints); past it every other one is dropped. */
const RESTORE_WORDS = 1 << 26;

/** Called before each instruction a counting replay announces; `steps` have run before it. */
export type Watch = (p: Process, pc: number, steps: number, fp: number) => void;

/** A process that stopped (fault, out of gas or memory) during a counting replay, and at which position. */
export interface StopSeen {
  step: number;
  /** Its path when it stopped (a parent may kill it right after). */
  path: string;
}

/** A stop as a counting replay sees it: steps run before it, the process and its path then. */
export interface StopEvent {
  steps: number;
  process: Process;
  path: string;
}

interface RestorePoint {
  step: number;
  /** null: the initial state (or a slice's first checkpoint is used through `checkpoint`). */
  checkpoint: Checkpoint | null;
}

export class Timeline {
  readonly rec: Recording;
  /** The first and last positions one may visit (a slice's range; else 0 and the end). */
  readonly first: number;
  private limit: number;
  /** Samples: G(step) at steps first, first+SAMPLE, ... up to the frontier. */
  private readonly sampleGas: number[] = [];
  private readonly points: RestorePoint[] = [];
  /** The counting replay that built the index so far, at position `frontier`. */
  private front: Replayer;
  private frontier: number;
  /** The last position, once the counting replay reached the end of the run (or of the slice). */
  private last: number | null = null;
  private readonly resolve: (d: string) => Module | undefined;
  /** Source texts by file (from the debug part), for listings. */
  readonly sources: ReadonlyMap<string, string>;
  /** Modules of the image. */
  readonly modules: readonly Module[];

  constructor(img: DecodedImage) {
    const trace = traceFromWire(img.meta.trace, "trace");
    const events = trace.events();
    const start = events[0];
    if (!start || start.kind !== "start")
      throw new RarError("usage.no_history", "the image has no recorded history (no start event): there is no run to step through");
    const byDigest = new Map(img.modules.map((m) => [m.digest, m]));
    this.resolve = (d) => byDigest.get(d);
    this.modules = img.modules;
    const debug = img.meta.debug ?? null;
    const slice = debug?.slice ?? null;
    this.rec = { events, start: start as StartEvent, module: this.resolve, endGas: img.root.gasUsed, slice: slice !== null };
    this.sources = new Map(debug?.sources ?? []);
    if (slice) {
      const c = debug?.checkpoints[0];
      if (!c || c.step === null || c.step > slice.from) throw new RarError("image.slice", "a trace slice starts at a checkpoint whose step is known", "debug");
      this.first = slice.from;
      this.limit = slice.to;
      this.points.push({ step: c.step, checkpoint: c });
      this.front = Replayer.fromCheckpoint(this.rec, c);
      this.frontier = c.step;
    } else {
      this.first = 0;
      this.limit = Infinity;
      this.points.push({ step: 0, checkpoint: null });
      this.front = Replayer.fromStart(this.rec);
      this.frontier = 0;
      // Position 0: the root entered, nothing run.
      this.positionAtGas(this.front, 0);
    }
    this.sampleGas.push(this.front.gasUsed);
    this.sampleBase = this.frontier;
  }

  private readonly sampleBase: number;

  /** The last position, counting the whole run if it is not known yet. */
  end(): number {
    while (this.last === null) this.extend(this.frontier + RESTORE);
    return this.last;
  }

  /** The last position if already known (null otherwise). */
  get knownEnd(): number | null {
    return this.last;
  }

  /** Positions a replay at gas g (an exact position's G), stopping at the first root stop there. */
  private positionAtGas(rp: Replayer, g: number): void {
    for (;;) {
      const r = rp.advance(g);
      if (r !== "stopped" || rp.gasUsed >= g) return;
    }
  }

  /**
   * Runs `n` steps from rp's position (fewer at the end of the run), counting
   * them with the step hook; `watch` sees every announced instruction and
   * `stops` every process that stops. Returns the steps run.
   */
  static count(rp: Replayer, n: number, watch?: Watch, stops?: (s: StopEvent) => void): number {
    const m = rp.machine;
    let done = 0;
    let last = rp.gasUsed;
    let prev: Process | null = null;
    const cpu = m.cpu;
    m.onStep = (p: Process, pc: number) => {
      const now = rp.root.gasUsed + m.gasInFlight;
      if (now !== last) {
        done++;
        last = now;
      }
      if (stops && prev !== null && prev !== p) {
        // Control moved up from a descendant: the child of p on the way to prev stopped.
        let c: Process | null = prev;
        while (c !== null && c.parent !== p) c = c.parent;
        if (c !== null && (c.status === StatusCode.FAULT || c.status === StatusCode.OUT_OF_GAS || c.status === StatusCode.OUT_OF_MEM))
          stops({ steps: done, process: c, path: c.path });
      }
      prev = p;
      watch?.(p, pc, done, cpu.fp);
    };
    try {
      while (done < n) {
        const before = done;
        let r = rp.advance(rp.gasUsed + (n - done));
        if (rp.gasUsed !== last) {
          done++;
          last = rp.gasUsed;
        }
        // The next instruction alone costs more than the steps left: let exactly it run
        // (a bulk one says what it needs in two goes: its base gas, then all of it).
        for (let tries = 0; r === "reached" && done === before && tries < 8; tries++) {
          r = rp.advance(rp.gasUsed + Math.max(1, m.cpu.need));
          if (rp.gasUsed !== last) {
            done++;
            last = rp.gasUsed;
          }
        }
        if (r === "stopped") {
          const st = rp.root.status;
          if (stops && (st === StatusCode.FAULT || st === StatusCode.OUT_OF_GAS || st === StatusCode.OUT_OF_MEM)) stops({ steps: done, process: rp.root, path: rp.root.path });
          prev = null;
        }
        if (r === "end" || r === "diverged") break;
      }
    } finally {
      m.onStep = undefined;
    }
    return done;
  }

  /** Extends the index to position `target` (or the end of the run). */
  private extend(target: number): void {
    const fr = this.front;
    while (this.last === null && this.frontier < target) {
      const chunk = Math.min(SAMPLE, this.limit - this.frontier);
      const n = chunk > 0 ? Timeline.count(fr, chunk) : 0;
      if (fr.divergence) throw new RarError("trace.divergence", fr.divergence);
      this.frontier += n;
      if (n < chunk || this.frontier >= this.limit) {
        this.settle(fr);
        this.last = this.frontier;
        break;
      }
      this.sampleGas.push(fr.gasUsed);
      if ((this.frontier - this.points[this.points.length - 1].step) >= RESTORE && fr.running && fr.root.status === StatusCode.READY) {
        this.points.push({ step: this.frontier, checkpoint: captureCheckpoint(fr.root, fr.gasUsed, fr.cursor, this.frontier, this.resolve) });
        this.thinPoints();
      }
    }
  }

  /** At the end of the run: applies what host events remain (the image's final state). */
  private settle(rp: Replayer): void {
    if (this.limit !== Infinity) return;
    for (let i = 0; i < 1_000_000; i++) {
      const r = rp.advance(Infinity);
      if (r === "end" || r === "diverged") return;
    }
  }

  private thinPoints(): void {
    const words = this.points.reduce((n, p) => n + (p.checkpoint?.words ?? 0), 0);
    if (words <= RESTORE_WORDS || this.points.length < 3) return;
    const kept = this.points.filter((_, i) => i === 0 || i % 2 === 0);
    this.points.length = 0;
    this.points.push(...kept);
  }

  /**
   * Moves rp, standing at position `step`, forward to position k when that is
   * near (a few samples): counting on is cheaper than restoring. Null when
   * k is behind or far.
   */
  forward(rp: Replayer, step: number, k: number): number | null {
    if (k < step || k - step > 4 * SAMPLE || rp.divergence) return null;
    if (this.last === null && k > this.frontier) this.extend(k);
    const target = this.last !== null ? Math.min(k, this.last) : k;
    if (this.last !== null && step === this.last) return step;
    const at = step + Timeline.count(rp, target - step);
    if (this.last !== null && at === this.last) this.settle(rp);
    if (rp.divergence) throw new RarError("trace.divergence", rp.divergence);
    return at;
  }

  /** A replay standing at position k (clamped to the visitable range). */
  at(k: number): { replayer: Replayer; step: number } {
    let step = Math.max(this.first, Math.floor(k));
    if (this.last === null && step > this.frontier) this.extend(step);
    if (this.last !== null && step > this.last) step = this.last;
    let point = this.points[0];
    for (const p of this.points) if (p.step <= step) point = p;
    const rp = point.checkpoint === null ? Replayer.fromStart(this.rec) : Replayer.fromCheckpoint(this.rec, point.checkpoint);
    let at = point.step;
    if (point.checkpoint === null) this.positionAtGas(rp, 0);
    const si = Math.floor((step - this.sampleBase) / SAMPLE);
    const sampleStep = this.sampleBase + si * SAMPLE;
    if (sampleStep > at) {
      this.positionAtGas(rp, this.sampleGas[si]);
      at = sampleStep;
    }
    if (step > at) at += Timeline.count(rp, step - at);
    if (this.last !== null && at === this.last) this.settle(rp);
    if (rp.divergence) throw new RarError("trace.divergence", rp.divergence);
    return { replayer: rp, step: at };
  }
}

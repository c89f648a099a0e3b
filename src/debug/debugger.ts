// The time-travel debugger's commands (CLI.md "Inspecting a run"): moving
// through a recorded run's timeline (step, next, finish, back, continue,
// reverse-continue, jump) and looking at where it stands (where, stack,
// locals, mem, caps, children, why). Every command is text in, text out;
// the CLI feeds it a script or a terminal.
//
// The focus is the process control is in at the current position (the one
// that runs the next step: the end of the root's chain of waiting processes),
// so stepping follows control into children and back.

import type { DecodedImage } from "../image/decode.js";
import type { Process } from "../process/process.js";
import { callChain, describeFault, formatLocation, locate } from "../process/report.js";
import { deepest } from "../process/control.js";
import { describeEvent } from "../trace/events.js";
import { RarError } from "../vm/errors.js";
import { sourceAt, type Module } from "../vm/module.js";
import { Frame, OPS, StatusCode } from "../vm/opcodes.js";
import { hexWord, memView, parseWord } from "./forensics.js";
import type { Replayer } from "./replayer.js";
import { Timeline, type StopSeen } from "./timeline.js";

/** Longest scan backwards before reverse-continue gives up doubling its window: the whole run. */
const BACK_WINDOW = 1 << 16;
/** Most capability events `caps` lists (the latest). */
const CAPS_SHOWN = 50;
/** Most stack words and locals shown. */
const WORDS_SHOWN = 64;

interface Breakpoint {
  id: number;
  what: string;
  /** pcs per module digest. */
  pcs: Map<string, Set<number>>;
}

/** Why the debugger stands where it is. */
type Reason = { kind: "start" | "step" | "jump" | "end" } | { kind: "breakpoint"; bp: Breakpoint } | { kind: "stop"; stop: StopSeen };

/** "file:line" of a pc, or "?" when the module has no source map. */
export function lineOf(m: Module, pc: number): string {
  const s = sourceAt(m, pc);
  return s ? `${s.file}:${s.line}` : "?";
}

function lineKey(m: Module, pc: number): string {
  const s = sourceAt(m, pc);
  return s ? `${s.file}:${s.line}` : `pc${pc}`;
}

/** The most arguments each command takes (break takes its whole rest; an unknown command is refused by name). */
const ARGS_MAX: Readonly<Record<string, number>> = {
  step: 1, s: 1, back: 1, b: 1, jump: 1, j: 1, mem: 2,
  next: 0, n: 0, finish: 0, continue: 0, c: 0, "reverse-continue": 0, rc: 0,
  where: 0, w: 0, stack: 0, bt: 0, locals: 0, caps: 0, children: 0, why: 0, quit: 0, q: 0, help: 0,
};

export class Debugger {
  readonly timeline: Timeline;
  private view: Replayer;
  private step: number;
  private reason: Reason = { kind: "start" };
  private readonly breakpoints: Breakpoint[] = [];
  quit = false;

  constructor(img: DecodedImage) {
    this.timeline = new Timeline(img);
    const { replayer, step } = this.timeline.at(this.timeline.first);
    this.view = replayer;
    this.step = step;
  }

  /** The position (step number) the debugger stands at. */
  get position(): number {
    return this.step;
  }

  get root(): Process {
    return this.view.root;
  }

  /** The process control is in: the one that runs the next step. */
  get focus(): Process {
    return deepest(this.view.root);
  }

  private goto(k: number, reason: Reason): void {
    const near = this.timeline.forward(this.view, this.step, k);
    if (near !== null) this.step = near;
    else {
      const { replayer, step } = this.timeline.at(k);
      this.view = replayer;
      this.step = step;
    }
    const end = this.timeline.knownEnd;
    this.reason = end !== null && this.step === end && reason.kind !== "stop" && reason.kind !== "breakpoint" ? { kind: "end" } : reason;
  }

  /** Runs one command line; returns its output (lines, each ending in a newline). */
  run(line: string): string {
    const [cmd, ...args] = line.trim().split(/\s+/);
    if (cmd === undefined || cmd === "") return "";
    // A surplus argument is refused, never dropped: `next 5` must not step one line.
    const most = Object.hasOwn(ARGS_MAX, cmd) ? ARGS_MAX[cmd] : Infinity;
    if (args.length > most)
      throw new RarError("usage.debug_arg", `${cmd}: takes ${most === 0 ? "no argument" : `at most ${most} argument${most === 1 ? "" : "s"}`}, not '${args.join(" ").slice(0, 40)}'`);
    const n = (i: number, fallback: number): number => {
      const a = args[i];
      if (a === undefined) return fallback;
      if (!/^\d{1,15}$/.test(a.replace(/_/g, ""))) throw new RarError("usage.debug_arg", `${cmd}: '${a}' is not a count`);
      return Number(a.replace(/_/g, ""));
    };
    switch (cmd) {
      case "step":
      case "s":
        this.goto(this.step + n(0, 1), { kind: "step" });
        return this.where();
      case "back":
      case "b":
        this.goto(Math.max(this.timeline.first, this.step - n(0, 1)), { kind: "step" });
        return this.where();
      case "jump":
      case "j":
        if (args[0] === undefined) throw new RarError("usage.debug_arg", "jump takes a step number (jump 0, jump 1200, jump end)");
        this.goto(args[0] === "end" ? this.timeline.end() : n(0, 0), { kind: "jump" });
        return this.where();
      case "next":
      case "n":
        return this.next(false);
      case "finish":
        return this.next(true);
      case "continue":
      case "c":
        return this.continueForward();
      case "reverse-continue":
      case "rc":
        return this.continueBackward();
      case "break":
        return this.addBreak(args.join(" "));
      case "where":
      case "w":
        return this.where();
      case "stack":
      case "bt":
        return this.stack();
      case "locals":
        return this.locals();
      case "mem":
        return this.mem(args);
      case "caps":
        return this.caps();
      case "children":
        return this.children();
      case "why":
        return this.why();
      case "quit":
      case "q":
        this.quit = true;
        return "";
      case "help":
        return "commands: step [N] | next | finish | back [N] | continue | reverse-continue | break FILE:LINE | break FUNC | jump STEP | where | stack | locals | mem ADDR [COUNT] | caps | children | why | quit\n";
      default:
        throw new RarError("usage.debug_command", `unknown command '${cmd.slice(0, 40)}' (try help)`);
    }
  }

  /** One line: step, process path, function, FILE:LINE, pc, gas used. */
  where(): string {
    const p = this.focus;
    const started = p.fp > 0 || p.status === StatusCode.DONE;
    const pc = started ? p.pc : p.module.entries[p.entryFn];
    const loc = locate(p, pc);
    const st = p.status === StatusCode.READY ? "" : `  ${p.statusName}`;
    return `step ${this.step}  process ${p.path}  ${loc.function}  ${lineOf(p.module, pc)}  pc ${pc}  gas ${p.gasUsed}${st}\n`;
  }

  private stack(): string {
    const p = this.focus;
    const chain = callChain(p);
    if (chain.length === 0) return `process ${p.path}: no frames (${p.fp === 0 && p.status !== StatusCode.DONE ? "not started" : p.statusName})\n`;
    const lines = chain.map((l, i) => `#${i}  ${l.function}  ${l.source ? l.source.replace(/:\d+$/, "") : "?"}  pc ${l.pc}`);
    const fn = p.frames[p.fp - Frame.Words + Frame.Fn];
    const base = p.bp + p.module.nlocals[fn];
    const words = Array.from(p.stack.subarray(base, p.sp));
    lines.push(`operands (${words.length}): ${words.slice(-WORDS_SHOWN).join(" ")}${words.length > WORDS_SHOWN ? " …" : ""}`);
    return lines.join("\n") + "\n";
  }

  private locals(): string {
    const p = this.focus;
    if (p.fp === 0) return `process ${p.path}: no frame\n`;
    const fn = p.frames[p.fp - Frame.Words + Frame.Fn];
    const m = p.module;
    const n = m.nlocals[fn];
    const lines = [`${m.functions[fn].name}: ${m.nparams[fn]} parameter(s), ${n} local(s)`];
    for (let i = 0; i < Math.min(n, WORDS_SHOWN); i++) {
      const v = p.stack[p.bp + i];
      lines.push(`  ${i < m.nparams[fn] ? "param" : "local"} ${i} = ${v}  (${hexWord(v)})`);
    }
    if (n > WORDS_SHOWN) lines.push(`  … ${n - WORDS_SHOWN} more`);
    return lines.join("\n") + "\n";
  }

  private mem(args: string[]): string {
    if (args[0] === undefined) throw new RarError("usage.debug_arg", "mem takes an address and an optional count (mem 0 16)");
    const addr = parseWord(args[0], "mem address");
    const count = args[1] === undefined ? 16 : parseWord(args[1], "mem count");
    if (addr < 0 || count < 0) throw new RarError("usage.debug_arg", "mem: address and count are not negative");
    const p = this.focus;
    const v = memView(p, addr, Math.min(count, 4096));
    const lines = [`process ${p.path} memory ${v.addr}..${v.addr + v.words.length} of ${v.memSize}`];
    v.words.forEach((w, i) => lines.push(`  ${v.addr + i}: ${hexWord(w)} ${w}`));
    return lines.join("\n") + "\n";
  }

  private caps(): string {
    const events = this.view.rec.events;
    const calls: string[] = [];
    for (let i = 0; i < this.view.cursor && i < events.length; i++) {
      const e = events[i];
      if (e.kind === "cap" || e.kind === "cap_error") calls.push(`  event ${i}: ${describeEvent(e)}`);
    }
    const p = this.focus;
    const lines = [`process ${p.path} holds [${p.caps.join(", ")}]${p.traps.length > 0 ? ` and traps [${p.traps.join(", ")}] for its parent` : ""}`];
    lines.push(`${calls.length} capability call(s) answered by the host so far${calls.length > CAPS_SHOWN ? ` (the last ${CAPS_SHOWN})` : ""}:`);
    lines.push(...calls.slice(-CAPS_SHOWN));
    for (const q of this.processes())
      if (q.status === StatusCode.CAP_CALL && q.request)
        lines.push(`trapped: process ${q.path} calls ${q.request.cap}(${q.request.args.map((a) => (a.length === 1 ? String(a[0]) : `[${a.length} words]`)).join(", ")}), waiting for its parent's answer`);
    return lines.join("\n") + "\n";
  }

  private processes(): Process[] {
    const out: Process[] = [];
    const todo = [this.view.root];
    while (todo.length > 0) {
      const p = todo.pop() as Process;
      out.push(p);
      for (const c of p.children.values()) todo.push(c);
    }
    return out;
  }

  private children(): string {
    const p = this.focus;
    if (p.children.size === 0) return `process ${p.path} has no children\n`;
    const lines: string[] = [];
    for (const c of p.children.values()) {
      const at = c.fp > 0 ? ` at ${formatLocation(locate(c, c.pc))}` : "";
      const val = c.status === StatusCode.DONE || c.status === StatusCode.YIELDED ? ` value ${c.value}` : "";
      lines.push(`${c.path}  ${c.statusName}${val}  gas ${c.gasUsed}/${c.gasLimit}  mem ${c.memUsed}/${c.memLimit}${at}`);
    }
    return lines.join("\n") + "\n";
  }

  private addBreak(spec: string): string {
    if (spec === "") throw new RarError("usage.debug_arg", "break takes FILE:LINE or a function name");
    const pcs = new Map<string, Set<number>>();
    const m = /^(.+):(\d+)$/.exec(spec);
    for (const mod of this.timeline.modules) {
      const set = new Set<number>();
      if (m) {
        const [, file, lineText] = m;
        const line = Number(lineText);
        const sm = mod.sourceMap;
        if (sm) {
          const e = sm.entries;
          for (let i = 0; i < e.length; i += 4) {
            const f = sm.files[e[i + 1]] ?? "";
            if (e[i + 2] === line && (f === file || f.endsWith(`/${file}`)) && mod.heights[e[i]] >= 0) set.add(e[i]);
          }
        }
      } else {
        mod.functions.forEach((f) => {
          if (f.name === spec) set.add(f.entry);
        });
      }
      if (set.size > 0) pcs.set(mod.digest, set);
    }
    if (pcs.size === 0) throw new RarError("usage.no_location", `break: no code at '${spec.slice(0, 80)}' (FILE:LINE of a statement, or a function name)`);
    const bp = { id: this.breakpoints.length + 1, what: spec, pcs };
    this.breakpoints.push(bp);
    const n = [...pcs.values()].reduce((k, s) => k + s.size, 0);
    return `breakpoint ${bp.id} at ${spec} (${n} location${n === 1 ? "" : "s"})\n`;
  }

  private breakAt(p: Process, pc: number): Breakpoint | null {
    for (const b of this.breakpoints) if (b.pcs.get(p.module.digest)?.has(pc)) return b;
    return null;
  }

  /**
   * Scans forward from position `from` (a fresh replay) for the first
   * position after it where `stopHere` holds or a process stops; null at the end.
   */
  private scan(from: number, stopHere: (p: Process, pc: number, fp: number) => Breakpoint | true | null, limit = Infinity): { step: number; reason: Reason } | null {
    const { replayer } = this.timeline.at(from);
    let found: { step: number; reason: Reason } | null = null;
    const chunk = 1 << 16;
    let at = from;
    while (found === null && at - from < limit) {
      const n = Timeline.count(
        replayer,
        chunk,
        (p, pc, steps, fp) => {
          if (found !== null || steps === 0) return;
          const hit = stopHere(p, pc, fp);
          if (hit === true) found = { step: at + steps, reason: { kind: "step" } };
          else if (hit !== null) found = { step: at + steps, reason: { kind: "breakpoint", bp: hit } };
        },
        (s) => {
          if (found === null && s.steps > 0) found = { step: at + s.steps, reason: { kind: "stop", stop: { step: at + s.steps, path: s.path } } };
        },
      );
      at += n;
      if (n < chunk) break;
    }
    return found;
  }

  private continueForward(): string {
    const hit = this.scan(this.step, (p, pc) => this.breakAt(p, pc));
    if (hit) this.goto(hit.step, hit.reason);
    else this.goto(this.timeline.end(), { kind: "end" });
    return this.stopLine() + this.where();
  }

  private continueBackward(): string {
    const first = this.timeline.first;
    let window = 1024;
    let hi = this.step;
    while (hi > first) {
      const lo = Math.max(first, hi - window);
      let last: { step: number; reason: Reason } | null = null;
      const { replayer } = this.timeline.at(lo);
      Timeline.count(
        replayer,
        hi - lo,
        (p, pc, steps) => {
          const b = this.breakAt(p, pc);
          if (b && lo + steps < this.step && (steps > 0 || lo === first)) last = { step: lo + steps, reason: { kind: "breakpoint", bp: b } };
        },
        (s) => {
          if (lo + s.steps < this.step) last = { step: lo + s.steps, reason: { kind: "stop", stop: { step: lo + s.steps, path: s.path } } };
        },
      );
      if (last !== null) {
        const l = last as { step: number; reason: Reason };
        this.goto(l.step, l.reason);
        return this.stopLine() + this.where();
      }
      hi = lo;
      window = Math.min(window * 2, BACK_WINDOW * 16);
    }
    this.goto(first, { kind: "start" });
    return `at the start of the ${first > 0 ? "slice" : "run"}\n` + this.where();
  }

  /** next (over calls and children) or finish (until the current function returns). */
  private next(finish: boolean): string {
    // The scan runs its own replay: processes are matched by path, not identity.
    const p = this.focus;
    const path = p.path;
    const depth = p.fp;
    const line = lineKey(p.module, p.pc);
    const inside = (q: Process): boolean => q.path.startsWith(`${path}.`);
    const hit = this.scan(this.step, (q, pc, fp) => {
      if (q.path === path) {
        if (fp < depth) return true;
        if (!finish && fp === depth && lineKey(q.module, pc) !== line) return true;
        return this.breakAt(q, pc);
      }
      if (!inside(q)) return true; // control left p: it stopped or returned to its parent
      return this.breakAt(q, pc);
    });
    if (hit) this.goto(hit.step, hit.reason);
    else this.goto(this.timeline.end(), { kind: "end" });
    return this.stopLine() + this.where();
  }

  private stopLine(): string {
    const r = this.reason;
    switch (r.kind) {
      case "breakpoint":
        return `breakpoint ${r.bp.id} (${r.bp.what})\n`;
      case "stop":
        return `stopped: process ${r.stop.path} ${this.stoppedText(r.stop.step, r.stop.path)}\n`;
      case "end":
        return `end of the ${this.timeline.first > 0 || this.timeline.knownEnd !== null ? "run" : "run"}: root ${this.view.root.statusName}${this.view.root.status === StatusCode.DONE ? ` value ${this.view.root.value}` : ""}\n`;
      default:
        return "";
    }
  }

  /** What happened to process `path` right after position `step`, as the replay one step on shows it. */
  private stoppedText(step: number, path: string): string {
    const q = this.processAfter(step, path);
    return q ? q.statusName : "stopped";
  }

  /** Process `path` as it is one step after position `step` (its stop applied). */
  private processAfter(step: number, path: string): Process | null {
    const { replayer } = this.timeline.at(step);
    Timeline.count(replayer, 1);
    return findPath(replayer.root, path);
  }

  /** Explains the current stop: a fault with its line and callers, or who ran out of gas or memory and by how much. */
  why(): string {
    const lines: string[] = [];
    const r = this.reason;
    if (r.kind === "breakpoint") lines.push(`breakpoint ${r.bp.id} at ${r.bp.what}: process ${this.focus.path} is about to run ${lineOf(this.focus.module, this.focus.pc)}`);
    // Stops at this position: those the tree shows, and those the next step makes.
    const seen = new Set<string>();
    const explain = (q: Process, future: boolean): void => {
      if (seen.has(q.path)) return;
      seen.add(q.path);
      const when = future ? "at its next instruction" : "here";
      if (q.status === StatusCode.FAULT) lines.push(`process ${q.path} faults ${when}: ${describeFault(q)}`);
      else if (q.status === StatusCode.OUT_OF_GAS || q.status === StatusCode.OUT_OF_MEM) lines.push(exhaustion(q));
    };
    const { replayer } = this.timeline.at(this.step);
    const after: Process[] = [];
    Timeline.count(replayer, 1, undefined, (s) => {
      if (s.steps === 0) after.push(s.process);
    });
    for (const q of after) explain(q, true);
    const root = this.view.root;
    const atEnd = this.timeline.knownEnd === this.step;
    if (lines.length === 0 && atEnd) {
      if (root.status === StatusCode.DONE) lines.push(`the run ended: the root returned ${root.value}`);
      else explain(root, false);
    }
    if (lines.length === 0) {
      // A process on the focus chain stopped at this position (out of gas or memory), or the stop that brought us here.
      for (let q: Process | null = this.focus; q && lines.length === 0; q = q.parent) if (q.status !== StatusCode.READY && q.status !== StatusCode.DONE) explain(q, false);
      if (lines.length === 0 && r.kind === "stop") {
        const q = findPath(root, r.stop.path);
        if (q) explain(q, false);
      }
    }
    if (lines.length === 0) {
      const what = this.reason.kind === "start" ? "the start of the run" : `step ${this.step}`;
      lines.push(`nothing stopped here: ${what}; process ${this.focus.path} runs ${lineOf(this.focus.module, this.focus.pc)} next (${OPS[this.focus.module.code[this.focus.pc]]?.name ?? "?"})`);
    }
    return lines.join("\n") + "\n";
  }
}

function findPath(root: Process, path: string): Process | null {
  let p: Process | undefined = root;
  for (const h of path.split(".").slice(1)) {
    p = p.children.get(Number(h));
    if (!p) return null;
  }
  return p;
}

/** Who ran out on the chain, what the refused instruction needed and by how much it fell short. */
function exhaustion(e: Process): string {
  const gas = e.status === StatusCode.OUT_OF_GAS;
  const d = deepest(e);
  const left = gas ? e.gasLimit - e.gasUsed : e.memLimit - e.memUsed;
  const unit = gas ? "gas" : "words";
  const at = d.fp > 0 ? formatLocation(locate(d, d.pc)) : `entering ${d.module.functions[d.entryFn].name}`;
  const chain: string[] = [];
  for (let q: Process | null = d; q; q = q.parent) chain.push(`${q.path} ${gas ? q.gasLimit - q.gasUsed : q.memLimit - q.memUsed} left`);
  // A root stopped with its gas left (interruptRoot: a signal, --timeout, a slice) did not run out: the host stopped it.
  if (gas && e.parent === null && e.need <= left)
    return `the host interrupted the run here (a signal, a time limit or a quantum) with ${left} gas left of ${e.gasLimit}: process ${d.path} is at ${at}; the run is resumable`;
  const short = e.need > left ? `, short by ${e.need - left}` : "";
  return (
    `process ${e.path} ran out of ${gas ? "gas" : "memory"}: the next instruction of process ${d.path} (${at}) needs ${e.need} ${unit}; ` +
    `${e.path} had ${left} ${unit} left of its limit ${gas ? e.gasLimit : e.memLimit}${short}. Chain, innermost first: ${chain.join(", ")}`
  );
}

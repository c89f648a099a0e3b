// Peer sandboxes, measured on the same workloads as the VM in the same run:
// quickjs-emscripten (metered through its interrupt handler) and
// js-interpreter, both devDependencies. Two sets of workloads: the VM's
// `.rasm` loops (bench/workloads.ts, against the VM as a session runs it) and
// the six Ent programs (bench/ent-workloads.ts: the peer runs the plain-JS
// twin's text, against rar's interpreter alone, tiering off, since the
// interpreter is what cold code and GP candidates run on).
// interp_vs_quickjs_max is the worst interpreter / quickjs ratio over the Ent programs.

import { compileEnt, runEnt } from "./ent.js";
import { ENT_WORKLOADS, peerSource } from "./ent-workloads.js";
import { type BenchContext, type BenchGroup, type GroupResult, type Row, compile, fmt, median, pairedRatio, rounds, runGuest } from "./harness.js";
import { FIB_RASM, LOOP_RASM, MEMORY_RASM, nativeCount, nativeFib, nativeMemory } from "./workloads.js";

/** A peer: runs JS source to a number. */
interface Peer {
  name: string;
  /** What the peer is; shown in the table. */
  how: string;
  /** Size factor for the workloads (slow peers get smaller ones). */
  scale: number;
  /** ES5 only (no let, no typed arrays). */
  es5: boolean;
  evaluate(source: string): number;
  dispose(): void;
}

interface PeerWorkload {
  key: string;
  rasm: string;
  arg: (scale: number) => number;
  native: (n: number) => number;
  js: (n: number, es5: boolean) => string;
}

const WORKLOADS: readonly PeerWorkload[] = [
  {
    key: "loop",
    rasm: LOOP_RASM,
    arg: (s) => Math.max(1000, Math.round(2_000_000 * s)),
    native: nativeCount,
    js: (n) => `var i = 0; do { i = (i + 1) | 0; } while (i < ${n}); i;`,
  },
  {
    key: "fib",
    rasm: FIB_RASM,
    arg: (s) => (s >= 1 ? 27 : s >= 0.05 ? 20 : 15),
    native: nativeFib,
    js: (n) => `function fib(n) { return n < 2 ? n : (fib(n - 1) + fib(n - 2)) | 0; } fib(${n});`,
  },
  {
    key: "memory",
    rasm: MEMORY_RASM,
    arg: (s) => Math.max(1, Math.round(200 * s)),
    native: nativeMemory,
    js: (n, es5) => `
      var end = 4099, mem = ${es5 ? "[]" : "new Int32Array(end)"};
      ${es5 ? "for (var z = 0; z < end; z++) mem[z] = 0;" : ""}
      var pass = 0;
      do {
        var i = 3;
        do { mem[i] = (mem[i - 1] + i) | 0; i++; } while (i < end);
        pass++;
      } while (pass < ${n});
      mem[end - 1];`,
  },
];

// Minimal shapes of the peers' APIs (js-interpreter ships no types; these keep both loaded the same way).
interface QjsHandle {
  dispose(): void;
}
interface QjsContext {
  evalCode(code: string): unknown;
  unwrapResult(r: unknown): QjsHandle;
  getNumber(h: QjsHandle): number;
  dispose(): void;
}
interface QjsRuntime {
  setInterruptHandler(cb: () => boolean): void;
  newContext(): QjsContext;
  dispose(): void;
}
interface QjsModule {
  getQuickJS(): Promise<{ newRuntime(): QjsRuntime }>;
}
type JsInterpreterCtor = new (code: string) => { run(): boolean; value: unknown };

async function load(name: string): Promise<Record<string, unknown>> {
  try {
    return (await import(name)) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`peer ${name} does not load (a devDependency: run npm ci): ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function quickjs(): Promise<Peer> {
  const mod = await load("quickjs-emscripten");
  const qjs = await (mod as unknown as QjsModule).getQuickJS();
  const rt = qjs.newRuntime();
  let polls = 0;
  // Metering as a sandbox would do it: the handler runs periodically and could stop the guest.
  rt.setInterruptHandler(() => ++polls > Number.MAX_SAFE_INTEGER);
  const ctx = rt.newContext();
  return {
    name: "quickjs",
    how: "quickjs-emscripten with an interrupt handler",
    scale: 1,
    es5: false,
    evaluate(source) {
      const h = ctx.unwrapResult(ctx.evalCode(source));
      const v = ctx.getNumber(h);
      h.dispose();
      return v;
    },
    dispose() {
      ctx.dispose();
      rt.dispose();
    },
  };
}

async function jsInterpreter(): Promise<Peer> {
  const mod = await load("js-interpreter");
  const Interpreter = (mod.default ?? mod) as JsInterpreterCtor;
  return {
    name: "jsinterp",
    how: "js-interpreter (ES5 AST interpreter)",
    scale: 0.01,
    es5: true,
    evaluate(source) {
      const it = new Interpreter(source);
      it.run();
      return Number(it.value);
    },
    dispose() {},
  };
}

export async function runPeers(ctx: BenchContext): Promise<GroupResult> {
  const result: GroupResult = { metrics: {}, rows: [] };
  for (const load of [quickjs, jsInterpreter]) {
    const peer = await load();
    ctx.progress(`peers: ${peer.name}`);
    try {
      result.rows.push(...measurePeer(ctx, peer, result.metrics));
      result.rows.push(...measureEnt(ctx, peer, result.metrics));
    } finally {
      peer.dispose();
    }
  }
  const worst = Math.max(...ENT_WORKLOADS.map((w) => result.metrics[`ent_${w.key}_interp_vs_quickjs`]));
  result.metrics.interp_vs_quickjs_max = worst;
  result.rows.push({ label: "interp_vs_quickjs_max", value: `${fmt(worst)}x`, note: "rar's interpreter alone over quickjs + interrupt, worst Ent program (target <= 1)" });
  return result;
}

/** The Ent programs: the peer runs each twin's text, rar's interpreter (tiering off) the Ent program, on the same arguments. */
function measureEnt(ctx: BenchContext, peer: Peer, metrics: Record<string, number>): Row[] {
  const rows: Row[] = [];
  for (const w of ENT_WORKLOADS) {
    ctx.progress(`peers: ${peer.name} ${w.key}`);
    const args = w.args(peer.scale * ctx.scale);
    const src = peerSource(w, args, peer.es5);
    const modules = compileEnt(w.source, w.key);
    const expected = w.native(...args);
    const got = peer.evaluate(src);
    if (got !== expected) throw new Error(`${peer.name} ${w.key}: returned ${got}, expected ${expected}`);
    const interp = (): number => runEnt(modules, args, { enabled: false });
    if (interp() !== expected) throw new Error(`bench peers ${w.key}: the interpreter disagrees with plain JS`);
    const r = rounds({ peer: () => peer.evaluate(src), interp, native: () => w.native(...args) }, { reps: Math.max(3, Math.min(ctx.reps, 5)), warmup: 1 });
    const peerVsNative = pairedRatio(r.peer, r.native);
    const interpVsPeer = pairedRatio(r.interp, r.peer);
    metrics[`ent_${w.key}_${peer.name}_vs_native`] = peerVsNative;
    metrics[`ent_${w.key}_interp_vs_${peer.name}`] = interpVsPeer;
    rows.push({
      label: `ent_${w.key}_interp_vs_${peer.name}`,
      value: `${fmt(interpVsPeer)}x`,
      note: `${w.label(args)}: rar interpreter ${fmt(median(r.interp))} ms, ${peer.name} ${fmt(median(r.peer))} ms (${fmt(peerVsNative)}x plain JS)`,
    });
  }
  return rows;
}

function measurePeer(ctx: BenchContext, peer: Peer, metrics: Record<string, number>): Row[] {
  const rows: Row[] = [];
  for (const w of WORKLOADS) {
    const n = w.arg(peer.scale * ctx.scale);
    const src = w.js(n, peer.es5);
    const module = compile(w.rasm, `peer_${w.key}`);
    const expected = w.native(n);
    const got = peer.evaluate(src);
    if (got !== expected) throw new Error(`${peer.name} ${w.key}: returned ${got}, expected ${expected}`);
    const r = rounds(
      {
        peer: () => peer.evaluate(src),
        vm: () => runGuest(module, [n]).value,
        native: () => w.native(n),
      },
      { reps: Math.max(3, Math.min(ctx.reps, 5)), warmup: 1 },
    );
    const key = `${w.key}_${peer.name}_vs_native`;
    const peerVsNative = pairedRatio(r.peer, r.native);
    const vmVsPeer = pairedRatio(r.vm, r.peer);
    metrics[key] = peerVsNative;
    metrics[`${w.key}_vm_vs_${peer.name}`] = vmVsPeer;
    rows.push({
      label: key,
      value: `${fmt(peerVsNative)}x`,
      note: `${peer.how}: ${fmt(median(r.peer))} ms; rar VM ${fmt(median(r.vm))} ms (${fmt(vmVsPeer)}x the peer's time)`,
    });
  }
  return rows;
}

export const peersGroup: BenchGroup = { name: "peers", title: "Peer sandboxes (same workloads, same run)", run: runPeers };

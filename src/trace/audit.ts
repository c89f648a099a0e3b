// Audit (DESIGN §5): check an image's trace chain, replay it from the initial
// state, compare the replayed final state with the image's, and summarize:
// every capability call (which process made it, with what, and what came
// back), capabilities used and by which processes, gas and memory per
// process, digests and outcome.

import { decodeImage, type DecodedImage } from "../image/decode.js";
import { policyDigest, stateDigest } from "../image/digest.js";
import { hex } from "../vm/sha256.js";
import { preorder } from "../image/records.js";
import type { Process } from "../process/process.js";
import { describeFault } from "../process/report.js";
import { StatusCode } from "../vm/opcodes.js";
import { replay, type ReplayOptions } from "./replay.js";
import { TraceError } from "./chain.js";
import { traceFromWire } from "./decode.js";
import { describeEvent, isCallEvent } from "./events.js";
import type { Trace } from "./store.js";

export interface AuditProblem {
  /**
   * broken_link: the chain does not check; policy: the image's policy digest
   * is not that of the policy its trace records; divergence: replay differs;
   * final_state: replay ends elsewhere.
   */
  readonly kind: "broken_link" | "policy" | "divergence" | "final_state";
  /** Index of the first event concerned (for final_state: the number of events). */
  readonly index: number;
  readonly message: string;
  /** Hex chain digest before that event, when known. */
  readonly before?: string;
  /** Where the replay was (process, function, line), when known. */
  readonly state?: string;
}

export interface AuditCall {
  readonly index: number;
  readonly path: string;
  readonly cap: string;
  readonly text: string;
}

export interface AuditProcess {
  readonly path: string;
  readonly status: string;
  readonly result?: number;
  readonly fault?: string;
  readonly gasUsed: number;
  readonly gasLimit: number;
  readonly memUsed: number;
  readonly memLimit: number;
  readonly caps: readonly string[];
}

export interface AuditReport {
  readonly valid: boolean;
  readonly problem: AuditProblem | null;
  /** Hex digests: the image's content, its execution state, the replayed execution state, its initial state, the trace head. */
  readonly imageDigest: string;
  readonly digest: string;
  readonly replayDigest: string | null;
  readonly originDigest: string;
  readonly head: string;
  readonly events: number;
  /** The host's own events (every event but a capability call), by kind. */
  readonly host: Readonly<Record<string, number>>;
  /** Indices of the host's resume events: each starts a leg of the run (a migration, a refuel). */
  readonly resumes: readonly number[];
  /** The legs of the run, one per host resume: its event index and who ran it, when the host named itself (a cluster worker). */
  readonly legs: readonly { index: number; by?: string }[];
  /** Every capability call, in order. */
  readonly calls: readonly AuditCall[];
  /** Per capability: how many calls and which processes made them (sorted). */
  readonly capabilities: readonly { cap: string; calls: number; refused: number; paths: string[] }[];
  /** Every process of the image's tree, preorder. */
  readonly processes: readonly AuditProcess[];
  /** The root's outcome. */
  readonly outcome: { status: string; result?: number; fault?: string };
}

function processOf(p: Process): AuditProcess {
  const st = p.status;
  return {
    path: p.path,
    status: p.statusName,
    result: st === StatusCode.DONE || st === StatusCode.YIELDED ? p.value : undefined,
    fault: st === StatusCode.FAULT ? describeFault(p) : undefined,
    gasUsed: p.gasUsed,
    gasLimit: p.gasLimit,
    memUsed: p.memUsed,
    memLimit: p.memLimit,
    caps: [...p.caps],
  };
}

function summarizeCalls(trace: Trace | null): Pick<AuditReport, "calls" | "capabilities" | "host" | "resumes" | "legs"> {
  const calls: AuditCall[] = [];
  const caps = new Map<string, { calls: number; refused: number; paths: Set<string> }>();
  const host: Record<string, number> = {};
  const resumes: number[] = [];
  const legs: { index: number; by?: string }[] = [];
  const events = trace ? trace.events() : [];
  events.forEach((e, index) => {
    if (!isCallEvent(e)) {
      host[e.kind] = (host[e.kind] ?? 0) + 1;
      if (e.kind === "resume") {
        resumes.push(index);
        legs.push(e.by === undefined ? { index } : { index, by: e.by });
      }
      return;
    }
    calls.push({ index, path: e.path, cap: e.cap, text: describeEvent(e) });
    const c = caps.get(e.cap) ?? { calls: 0, refused: 0, paths: new Set<string>() };
    c.calls++;
    if (e.kind === "cap_error") c.refused++;
    c.paths.add(e.path);
    caps.set(e.cap, c);
  });
  const capabilities = [...caps.keys()].sort().map((cap) => {
    const c = caps.get(cap) as { calls: number; refused: number; paths: Set<string> };
    return { cap, calls: c.calls, refused: c.refused, paths: [...c.paths].sort() };
  });
  return { calls, capabilities, host, resumes, legs };
}

/** Audits a decoded image. */
export function auditDecoded(img: DecodedImage, opts: ReplayOptions = {}): AuditReport {
  const modules = new Map(img.modules.map((m) => [m.digest, m]));
  const resolve = (d: string): ReturnType<typeof modules.get> => modules.get(d);
  const digest = hex(stateDigest(img.root, img.meta.trace, resolve));
  const originDigest = hex(img.meta.origin.digest);
  const base = {
    imageDigest: img.imageDigest,
    digest,
    originDigest,
    head: hex(img.meta.trace.head),
    events: img.meta.trace.events.length,
    processes: preorder(img.root).map(processOf),
    outcome: (() => {
      const r = processOf(img.root);
      return { status: r.status, result: r.result, fault: r.fault };
    })(),
  };
  let trace: Trace;
  try {
    trace = traceFromWire(img.meta.trace, "trace");
  } catch (e) {
    if (!(e instanceof TraceError)) throw e;
    return {
      ...base,
      ...summarizeCalls(null),
      valid: false,
      replayDigest: null,
      problem: { kind: "broken_link", index: e.index, message: e.message },
    };
  }
  const summary = summarizeCalls(trace);
  const start = trace.length > 0 ? trace.at(0) : null;
  if (start?.kind === "start") {
    const recorded = hex(policyDigest(start.grants, start.policy));
    const claimed = hex(img.meta.policy);
    if (recorded !== claimed)
      return {
        ...base,
        ...summary,
        valid: false,
        replayDigest: null,
        problem: {
          kind: "policy",
          index: 0,
          message: `the image's policy digest ${claimed.slice(0, 16)}… is not that of the policy its start event records (${recorded.slice(0, 16)}…)`,
        },
      };
  }
  const r = replay({ trace, module: resolve, originDigest, endGas: img.root.gasUsed }, opts);
  if (r.divergence) {
    const d = r.divergence;
    return {
      ...base,
      ...summary,
      valid: false,
      replayDigest: null,
      problem: { kind: "divergence", index: d.index, message: d.message, before: d.before, state: d.state },
    };
  }
  const replayDigest = r.digest(img.meta.trace);
  if (replayDigest !== digest) {
    const rr = r.root as Process;
    return {
      ...base,
      ...summary,
      valid: false,
      replayDigest,
      problem: {
        kind: "final_state",
        index: trace.length,
        message: `the replay consumed all ${trace.length} events but ends in a different state (${replayDigest.slice(0, 16)}…, root ${rr.statusName}, gas ${rr.gasUsed}) than the image (${digest.slice(0, 16)}…, root ${img.root.statusName}, gas ${img.root.gasUsed})`,
        before: trace.headHex(),
      },
    };
  }
  return { ...base, ...summary, valid: true, replayDigest, problem: null };
}

/** Audits image bytes. Throws a RarError("image") when they are not a readable image. */
export function auditImage(bytes: Uint8Array, where = "image", opts: ReplayOptions = {}): AuditReport {
  return auditDecoded(decodeImage(bytes, { where }), opts);
}

/** The human report: "audit: valid" first, or what failed, then the summary. */
export function formatAudit(r: AuditReport): string {
  const lines: string[] = [];
  if (r.valid) lines.push("audit: valid");
  else {
    const p = r.problem as AuditProblem;
    const what = { broken_link: "broken link", policy: "policy digest", divergence: "divergence", final_state: "final state differs" }[p.kind];
    lines.push(`audit: INVALID: ${what} at event ${p.index}: ${p.message}`);
    if (p.state) lines.push(`  state before it: ${p.state}`);
    if (p.before) lines.push(`  chain digest before it: ${p.before}`);
  }
  const o = r.outcome;
  lines.push(`outcome: ${o.status}${o.result !== undefined ? ` result=${o.result}` : ""}${o.fault ? ` (${o.fault})` : ""}`);
  lines.push(`digests: state ${r.digest}  image ${r.imageDigest}`);
  lines.push(`         initial ${r.originDigest}  trace head ${r.head}`);
  const host = Object.keys(r.host)
    .sort()
    .map((k) => `${k} ${r.host[k]}`)
    .join(", ");
  lines.push(`trace: ${r.events} events (${r.calls.length} capability calls${host ? `; host: ${host}` : ""})`);
  if (r.legs.some((l) => l.by !== undefined)) {
    lines.push("legs (who ran each):");
    r.legs.forEach((l, k) => lines.push(`  leg ${k + 1} from event #${l.index}: ${l.by ?? "(host not named)"}`));
  }
  lines.push("capabilities used:");
  if (r.capabilities.length === 0) lines.push("  (none)");
  for (const c of r.capabilities)
    lines.push(`  ${c.cap}: ${c.calls} call(s)${c.refused ? `, ${c.refused} refused` : ""} by ${c.paths.join(", ")}`);
  lines.push("processes:");
  for (const p of r.processes) {
    const res = p.result !== undefined ? ` result=${p.result}` : "";
    lines.push(`  ${p.path} ${p.status}${res} gas ${p.gasUsed}/${p.gasLimit} mem ${p.memUsed}/${p.memLimit} caps [${p.caps.join(", ")}]`);
  }
  lines.push("calls:");
  for (const c of r.calls) lines.push(`  #${c.index} ${c.text}`);
  return lines.join("\n") + "\n";
}

// The embedding API: everything a host imports (package root, "rar").
// Guest code never touches a host object; only words cross the boundary.
// The machinery underneath (machine, processes, opcodes, assembler, module
// codec) is reachable from "rar/internals" (src/internals.ts) for tools and
// tests; it is not part of the host API and may change between versions.

// --- running a program -------------------------------------------------------

/** A host's handle on one process tree: start (or restore from an image), run, refuel, answer, snapshot. */
export { Session } from "./session.js";
/** Default root gas limit when SessionOptions.gas is not given. */
export { DEFAULT_GAS } from "./session.js";
/** Default root memory limit in words when SessionOptions.mem is not given. */
export { DEFAULT_MEM } from "./session.js";
/** Largest budget or refuel amount a host may pass: a safe integer, since budgets are counted exactly. */
export { LIMIT_MAX } from "./session.js";
/** Hex digest of a policy as images record it (the grants together with the policy text). */
export { policyDigest } from "./session.js";
/** Most words SessionOptions.args may take in the root's memory (integers, or texts for main(args: [[int]])). */
export { ARGS_WORDS_MAX } from "./session.js";
/** Options of Session.start / Session.fromImage: budgets, entry, args, grants or policy, handlers, I/O. */
export type { SessionOptions } from "./session.js";

/** One entry of a root's file tree (Session.files()). */
export type { FileEntry } from "./session.js";

/** The filesystem's error results: negative codes by name (spec/capabilities.md §4b). */
export { FS_ERRORS } from "./caps/filetree.js";
/** How long one Session.run may go on: an AbortSignal and/or a wall-clock timeout. */
export type { RunOptions } from "./session.js";
/** What a run ended with: status, value or fault line, gas and memory used and limits. */
export type { RunResult } from "./session.js";
/** A process status as a name: "done", "fault", "out_of_gas", "yielded", ... */
export type { StatusName } from "./process/process.js";
/** One capability call answered by the host, as SessionOptions.onCapCall sees it. */
export type { CapCallEvent } from "./process/scheduler.js";
/** SessionOptions.tiering: keep every module in the interpreter, or let hot modules be compiled to JavaScript (the default); results, gas and images are the same. */
export type { TieringOptions } from "./vm/tiering.js";

// --- compiling and loading code -------------------------------------------------

/** Compile an Ent program (main file + imports read through `readFile`) into code modules, entry first; throws a RarError of phase "compile". */
export { compileProgram } from "../lang/ent/compile.js";
/** Compile one Ent source text (imports only from the given `files`) into code modules, entry first. */
export { compileSource } from "../lang/ent/compile.js";
/** What compileProgram / compileSource return: the unverified modules (entry first) and the source texts. */
export type { CompiledProgram } from "../lang/ent/compile.js";
/** Verify an untrusted module definition into a runnable Module; throws a RarError naming function and offset. */
export { verify } from "./vm/verify.js";
/** A module definition as compiled or decoded (unverified) and a verified module (what Session.start takes). */
export type { Module, ModuleDef } from "./vm/module.js";

// --- policies -------------------------------------------------------------------

/** Build the root's policy (grants, denials, mocks, seed) from policy files and flags; throws RarError("policy"). */
export { loadPolicy } from "./caps/policy.js";
/** Check a module's capability manifest against grants before running it; throws RarError("policy") naming what is missing. */
export { negotiate } from "./caps/policy.js";
/** A resolved policy: what SessionOptions.policy takes. */
export type { Policy } from "./caps/policy.js";
/** Where loadPolicy reads from: policy files, allow/deny lists and custom capability signatures. */
export type { PolicySources } from "./caps/policy.js";

// --- host capabilities ------------------------------------------------------------

/** A host capability: a typed signature and a handler (sync or returning a Promise). */
export type { CapHandler } from "./caps/registry.js";
/** A capability's typed signature: argument types and result type. */
export type { CapSignature } from "./caps/registry.js";
/** A value crossing the boundary: an int or a word array. */
export type { CapValue } from "./caps/registry.js";
/** What a handler learns about its caller: process path, held scopes along the chain, largest result. */
export type { CapContext } from "./caps/registry.js";
/** The type of one capability argument or result: "int" or "array". */
export type { ValueType } from "./caps/registry.js";
/** The machine-readable contract of every built-in capability (what `rar caps --json` prints), sorted by name. */
export { capsContract } from "./caps/contract.js";
/** One capability's contract: version, named argument and result types, call convention, scope syntax, `:real`, gas, host effect, doc. */
export type { CapContract } from "./caps/contract.js";

// --- images, audit and replay -------------------------------------------------------

/** Decode and verify untrusted image bytes (throws a RarError of phase "image"); Session.fromImage resumes one. */
export { decodeImage } from "./image/decode.js";
/** Options of decodeImage and the decoded image it returns. */
export type { DecodeOptions, DecodedImage } from "./image/decode.js";
/** Describe a decoded image: header, policy, modules and the process tree with statuses and budgets. */
export { inspectImage } from "./image/inspect.js";
/** What inspectImage returns, for the image and for each process. */
export type { ImageReport, ProcessReport } from "./image/inspect.js";
/** Audit image bytes: check the trace chain and replay the run without the host, reporting problems and calls. */
export { auditImage } from "./trace/audit.js";
/** Format an AuditReport as the text `rar audit` prints. */
export { formatAudit } from "./trace/audit.js";
/** What auditImage returns, its problems, calls and processes. */
export type { AuditReport, AuditProblem, AuditCall, AuditProcess } from "./trace/audit.js";
/** Replay a recorded trace against its modules and report the first divergence, if any. */
export { replay } from "./trace/replay.js";
/** replay's source, options and result, and the divergence it may find. */
export type { ReplaySource, ReplayOptions, ReplayResult, Divergence } from "./trace/replay.js";

// --- errors -----------------------------------------------------------------------

/** The error thrown for bad host input: phase, kind, message and location (guest faults are statuses, never exceptions). */
export { RarError } from "./vm/errors.js";
/** The phase a RarError belongs to: "usage", "decode", "verify", "compile", "image", "policy", "trace" or "io". */
export type { Phase } from "./vm/errors.js";
/** A RarError's key in the error catalogue, "phase.kind" (spec/errors.md lists them all), and its kind. */
export type { ErrorKey, ErrorKind } from "./vm/errors.js";
/** The name of a guest fault kind, as RunResult.fault and images report it. */
export type { FaultKind } from "./vm/errors.js";

import { decodeBundle } from "./vm/module.js";
import type { Module } from "./vm/module.js";
import { verifyBundle } from "./vm/verify.js";

/** Decode and verify `.rmod` bundle bytes in one step: the entry module first, then the modules it links. */
export function loadModules(bytes: Uint8Array): Module[] {
  return verifyBundle(decodeBundle(bytes));
}

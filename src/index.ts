// The embedding API: everything a host imports. Guest code never touches a
// host object; only words cross the boundary.

/** Assemble `.rasm` text into a module definition (unverified). */
export { assemble } from "../lang/asm.js";
/** Disassemble a module into `.rasm` text that assembles back to the same code. */
export { disassemble } from "../lang/disasm.js";
/** Compile an Ent program (main file + imports read through `readFile`) into code modules, entry first; throws a RarError of phase "compile". */
export { compileProgram } from "../lang/ent/compile.js";
/** Compile one Ent source text (imports only from the given `files`) into code modules, entry first. */
export { compileSource } from "../lang/ent/compile.js";
/** Verify an untrusted module definition; throws a RarError naming function and offset. */
export { verify } from "./vm/verify.js";
/** Canonical `.rmod` encoding and decoding (decode results must still be verified). */
export { encodeModule, decodeModule, encodeBundle, decodeBundle } from "./vm/module.js";
export { verifyBundle } from "./vm/verify.js";
export type { Module, ModuleDef, FunctionDef, SourceMap } from "./vm/module.js";
/** Errors: RarError for bad input (kind, message, where); fault kinds for guests. */
export { RarError, FAULTS, type FaultKind } from "./vm/errors.js";
/** The instruction set table and guest status codes. */
export { OPS, StatusCode } from "./vm/opcodes.js";
/** Capabilities: typed host handlers. */
export { CapRegistry, type CapHandler, type CapSignature, type CapValue } from "./caps/registry.js";
/** The process tree and the machine that runs it. */
export { Process, type StatusName } from "./process/process.js";
export { Machine, type MachineOptions, type CapCallEvent } from "./process/scheduler.js";
/** Policies: grants, denials and mocks for the root; negotiation against a module's manifest. */
export { loadPolicy, negotiate, type Policy, type PolicySources } from "./caps/policy.js";
/** Traces: the hash-chained record of everything nondeterministic; replay and audit. */
export { Trace, type TraceEvent } from "./trace/trace.js";
export { replay, type ReplayOptions, type ReplayResult, type Divergence } from "./trace/replay.js";
export { auditImage, formatAudit, type AuditReport } from "./trace/audit.js";
/** Images: decode (verify) untrusted image bytes and describe them. */
export { decodeImage } from "./image/decode.js";
export { inspectImage } from "./image/inspect.js";
/** A host's handle on one process tree: start, run, refuel, resume. */
export { setCompiledTier } from "./vm/execute.js";
export { Session, DEFAULT_GAS, DEFAULT_MEM, LIMIT_MAX, policyDigest, type SessionOptions, type RunOptions, type RunResult } from "./session.js";

import { decodeBundle } from "./vm/module.js";
import type { Module } from "./vm/module.js";
import { verifyBundle } from "./vm/verify.js";

/** Decode and verify `.rmod` bundle bytes in one step: the entry module first, then the modules it links. */
export function loadModules(bytes: Uint8Array): Module[] {
  return verifyBundle(decodeBundle(bytes));
}

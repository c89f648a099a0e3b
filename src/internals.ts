// The second entry point ("rar/internals"): the machinery under the host API,
// for tools, benchmarks and tests that drive the VM directly. Hosts import the
// package root (src/index.ts) instead; nothing here is a stable API.

/** Assemble `.rasm` text into a module definition (unverified). */
export { assemble } from "../lang/asm.js";
/** Disassemble a module into `.rasm` text that assembles back to the same code. */
export { disassemble } from "../lang/disasm.js";
/** The bytecode emitter every code generator builds modules with (the Ent compiler, the GP harness): labels, stack height, locals, static gas. */
export { ModuleEmitter, FnEmitter, Label, type Body, type LimitFail, type SourcePos } from "../lang/emit.js";
/** Canonical `.rmod` encoding and decoding of one module or a bundle (decoded modules must still be verified). */
export { encodeModule, decodeModule, encodeBundle, decodeBundle } from "./vm/module.js";
/** The module format's hard limits (functions, code words, links, ...). */
export { MODULE_LIMITS } from "./vm/module.js";
/** SHA-256 of bytes as hex, the digest modules and images are named by. */
export { digestBytes } from "./vm/module.js";
/** Verify a decoded bundle: the entry module and the modules it links, each verified. */
export { verifyBundle } from "./vm/verify.js";
/** The parts of a module definition: functions and the source map. */
export type { FunctionDef, SourceMap } from "./vm/module.js";
/** Every guest fault kind with its message. */
export { FAULTS } from "./vm/errors.js";
/** The instruction set table (one row per opcode), the opcode numbers and the guest status codes. */
export { OPS, Op, StatusCode } from "./vm/opcodes.js";
// Word arrays and arrays of doubles carved from shared buffers (GP genomes, code, errors).
export { copyWords, newFloats, newWords } from "./vm/slab.js";
/** The registry of capability handlers a machine answers calls from. */
export { CapRegistry } from "./caps/registry.js";
/** One process of the tree: code, memory, stack, budgets, status. */
export { Process } from "./process/process.js";
/** Words every process is charged for its bookkeeping, besides its memory, stack and frames. */
export { PROCESS_WORDS } from "./process/process.js";
/** One line describing a faulted process: kind, detail, path, function, source line, callers. */
export { describeFault } from "./process/report.js";
/** The scheduler that runs a process tree, and its options. */
export { Machine, type MachineOptions } from "./process/scheduler.js";
/** The hash-chained trace of everything nondeterministic, and one event of it. */
export { Trace, type TraceEvent } from "./trace/trace.js";

// Code modules: the unit of code shared by processes. A module is built by the
// assembler or compiler as a ModuleDef, then verified into a Module (see
// verify.ts), which carries what verification derived (max stack heights,
// frame costs) and its content digest. The `.rmod` file is the canonical
// msgpack encoding of a ModuleDef.

// The pure-JS entry: msgpackr's default Node entry probes for a native addon, which costs start-up time.
import { Packr } from "msgpackr/pack";
import { RarError } from "./errors.js";
import { scan } from "./scan.js";
import { sha256Hex } from "./sha256.js";

export interface FunctionDef {
  readonly name: string;
  readonly nparams: number;
  /** Local slots including the parameters (nlocals >= nparams). */
  readonly nlocals: number;
  /** First code word of the function. */
  readonly entry: number;
  /** One past its last code word. Functions tile the code array in order. */
  readonly end: number;
}

/** pc -> source position. `entries` holds quads (pc, file index, line, column), sorted by pc. */
export interface SourceMap {
  readonly files: readonly string[];
  readonly entries: Int32Array;
}

export interface ModuleDef {
  readonly name: string;
  /** The capability manifest: every capability the code may call, by name. */
  readonly caps: readonly string[];
  readonly functions: readonly FunctionDef[];
  readonly code: Int32Array;
  readonly sourceMap?: SourceMap;
  /** Digests of the modules SPAWNX may start (untrusted imports). Empty for most modules. */
  readonly links?: readonly string[];
  /**
   * Manifest entries the module only traps for its children (trap masks
   * index the manifest) and never needs to hold: negotiation skips them.
   */
  readonly trapOnly?: readonly string[];
}

/** A verified module. Only verify() makes these. */
export interface Module extends ModuleDef {
  readonly digest: string;
  /** Per function: maximum operand stack height, derived by the verifier. */
  readonly maxStack: Int32Array;
  /** Per function: words charged when a frame is pushed (nlocals + maxStack + FRAME_WORDS, opcodes.ts). */
  readonly frameCost: Int32Array;
  readonly nparams: Int32Array;
  readonly nlocals: Int32Array;
  readonly entries: Int32Array;
  /** Canonical encoding, kept for images and SPAWNC comparisons. */
  readonly bytes: Uint8Array;
  /** Quickened code the interpreter dispatches on (same layout as `code`; see quicken.ts). */
  readonly fast: Int32Array;
  /** Per function, packed for the interpreter's CALL: CallInfo.Words words each (see CallInfo). */
  readonly callInfo: Int32Array;
  /** Operand-stack height before the instruction at each pc; -1 where no reachable instruction starts. */
  readonly heights: Int32Array;
}

/** The fields of one function in Module.callInfo. A const enum: the hot loop reads literals. */
export const enum CallInfo {
  Entry = 0,
  NParams = 1,
  NLocals = 2,
  /** frameCost */
  Cost = 3,
  Words = 4,
}

/** Tag of a module's wire form; the `.rmod` file wraps modules in a versioned bundle. */
export const MODULE_TAG = "mod";
export const BUNDLE_MAGIC = "rmod";
export const BUNDLE_VERSION = 1;
/** Hard bounds that keep decoding of untrusted modules cheap. */
export const MODULE_LIMITS = {
  functions: 65_536,
  codeWords: 16 * 1024 * 1024,
  caps: 32,
  locals: 65_536,
  nameLength: 256,
  files: 1024,
  links: 256,
  bundle: 1024,
  /** msgpack arrays nested in a bundle (bundle, modules, module, functions, function: 5). */
  nesting: 8,
} as const;

export const packr = new Packr({ useRecords: false, variableMapSize: true, mapsAsObjects: true });

export function int32ToBytes(a: Int32Array): Uint8Array {
  // Node is little-endian; the format is little-endian. Copy so the view is exact.
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

export function bytesToInt32(b: Uint8Array): Int32Array {
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Int32Array(copy.buffer, 0, b.byteLength >> 2);
}

/** The canonical msgpack form of a module definition; its digest is the sha-256 of its encoding. */
export function moduleToWire(def: ModuleDef): unknown[] {
  return [
    MODULE_TAG,
    def.name,
    [...def.caps],
    def.functions.map((f) => [f.name, f.nparams, f.nlocals, f.entry, f.end]),
    int32ToBytes(def.code),
    def.sourceMap ? [...def.sourceMap.files] : [],
    def.sourceMap ? int32ToBytes(def.sourceMap.entries) : new Uint8Array(0),
    [...(def.links ?? [])],
    [...(def.trapOnly ?? [])],
  ];
}

/** Canonical bytes of one module (what its digest covers). */
export function encodeModule(def: ModuleDef): Uint8Array {
  return packr.pack(moduleToWire(def));
}

/** SHA-256 of bytes, hex (a module's digest). */
export function digestBytes(bytes: Uint8Array): string {
  return sha256Hex(bytes);
}

function isInt(x: unknown, lo: number, hi: number): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= lo && x <= hi;
}

function isName(x: unknown): x is string {
  return typeof x === "string" && x.length <= MODULE_LIMITS.nameLength;
}

/** Checks the shape of a decoded wire value and builds a ModuleDef. Semantics are verify()'s job. */
export function moduleFromWire(w: unknown, where = "module"): ModuleDef {
  if (!Array.isArray(w) || w.length !== 9) throw new RarError("decode.shape", "not a module (expected a 9-element array)", where);
  const [tag, name, caps, fns, code, files, map, links, trapOnly] = w as unknown[];
  if (tag !== MODULE_TAG) throw new RarError("decode.magic", `not a module (tag ${JSON.stringify(tag)})`, where);
  if (!isName(name)) throw new RarError("decode.shape", "name must be a short string", where);
  if (!Array.isArray(caps) || caps.length > MODULE_LIMITS.caps || !caps.every(isName))
    throw new RarError("decode.shape", `caps must be at most ${MODULE_LIMITS.caps} names`, where);
  if (!Array.isArray(fns) || fns.length === 0 || fns.length > MODULE_LIMITS.functions)
    throw new RarError("decode.shape", "functions must be a non-empty array", where);
  const functions: FunctionDef[] = [];
  for (let i = 0; i < fns.length; i++) {
    const f: unknown = fns[i];
    if (
      !Array.isArray(f) ||
      f.length !== 5 ||
      !isName(f[0]) ||
      !isInt(f[1], 0, 255) ||
      !isInt(f[2], 0, MODULE_LIMITS.locals) ||
      !isInt(f[3], 0, MODULE_LIMITS.codeWords) ||
      !isInt(f[4], 0, MODULE_LIMITS.codeWords)
    )
      throw new RarError("decode.shape", "function entry must be [name, nparams, nlocals, entry, end]", `${where}: function ${i}`);
    functions.push({ name: f[0], nparams: f[1], nlocals: f[2], entry: f[3], end: f[4] });
  }
  if (!(code instanceof Uint8Array) || code.byteLength % 4 !== 0 || code.byteLength / 4 > MODULE_LIMITS.codeWords)
    throw new RarError("decode.shape", "code must be binary, a multiple of 4 bytes", where);
  if (!Array.isArray(files) || files.length > MODULE_LIMITS.files || !files.every((f) => typeof f === "string"))
    throw new RarError("decode.shape", "source map files must be strings", where);
  if (!(map instanceof Uint8Array) || map.byteLength % 16 !== 0)
    throw new RarError("decode.shape", "source map must be binary quads", where);
  if (!Array.isArray(links) || links.length > MODULE_LIMITS.links || !links.every(isDigest))
    throw new RarError("decode.shape", "links must be module digests (64 hex digits)", where);
  const entries = bytesToInt32(map);
  const sourceMap = files.length > 0 || entries.length > 0 ? { files: files as string[], entries } : undefined;
  if (!Array.isArray(trapOnly) || !trapOnly.every((t) => typeof t === "string" && (caps as string[]).includes(t)))
    throw new RarError("decode.shape", "trapOnly must list manifest entries", where);
  const def: ModuleDef = { name, caps: caps as string[], functions, code: bytesToInt32(code), sourceMap };
  return {
    ...def,
    ...(links.length > 0 ? { links: links as string[] } : {}),
    ...(trapOnly.length > 0 ? { trapOnly: trapOnly as string[] } : {}),
  };
}

export function isDigest(x: unknown): x is string {
  return typeof x === "string" && /^[0-9a-f]{64}$/.test(x);
}

/**
 * Scanned first (no recursion, bounded nesting), because msgpackr decodes
 * nested arrays by recursion: code bytes a guest hands to SPAWNC, nested
 * 100,000 deep, would otherwise run the host out of stack.
 */
function unpackUntrusted(bytes: Uint8Array, where: string): unknown {
  scan(bytes, MODULE_LIMITS.nesting, where, "decode");
  try {
    return packr.unpack(bytes);
  } catch (e) {
    throw new RarError("decode.msgpack", `not valid msgpack (${(e as Error).message})`, where);
  }
}

/** Decodes one module's untrusted wire bytes into an (unverified) ModuleDef. */
export function decodeModule(bytes: Uint8Array, where = "module"): ModuleDef {
  return moduleFromWire(unpackUntrusted(bytes, where), where);
}

/** A `.rmod` file: the entry module first, then every module it links (each once). */
export function encodeBundle(modules: readonly ModuleDef[]): Uint8Array {
  return packr.pack([BUNDLE_MAGIC, BUNDLE_VERSION, modules.map(moduleToWire)]);
}

/** Decodes a `.rmod` bundle; the caller verifies each module and resolves links. */
export function decodeBundle(bytes: Uint8Array, where = "module"): ModuleDef[] {
  const w = unpackUntrusted(bytes, where);
  if (!Array.isArray(w) || w.length !== 3) throw new RarError("decode.shape", "not a .rmod bundle (expected [magic, version, modules])", where);
  if (w[0] !== BUNDLE_MAGIC) throw new RarError("decode.magic", `bad magic ${JSON.stringify(w[0])}`, where);
  if (w[1] !== BUNDLE_VERSION) throw new RarError("decode.version", `unsupported .rmod version ${String(w[1])}`, where);
  const mods = w[2];
  if (!Array.isArray(mods) || mods.length === 0 || mods.length > MODULE_LIMITS.bundle)
    throw new RarError("decode.shape", "a bundle holds 1..1024 modules", where);
  return mods.map((m, i) => moduleFromWire(m, `${where}: module ${i}`));
}

/** Source position of a pc, if the module has a source map. */
export function sourceAt(m: ModuleDef, pc: number): { file: string; line: number; col: number } | undefined {
  const sm = m.sourceMap;
  if (!sm || sm.entries.length === 0) return undefined;
  const e = sm.entries;
  let lo = 0;
  let hi = e.length / 4 - 1;
  if (e[0] > pc) return undefined;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (e[mid * 4] <= pc) lo = mid;
    else hi = mid - 1;
  }
  return { file: sm.files[e[lo * 4 + 1]] ?? "?", line: e[lo * 4 + 2], col: e[lo * 4 + 3] };
}

/** The function containing pc, by index, or -1. */
export function functionAt(m: ModuleDef, pc: number): number {
  const fs = m.functions;
  let lo = 0;
  let hi = fs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (pc < fs[mid].entry) hi = mid - 1;
    else if (pc >= fs[mid].end) lo = mid + 1;
    else return mid;
  }
  return -1;
}

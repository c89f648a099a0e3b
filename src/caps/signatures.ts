// The one table of the built-in capabilities: per family its version, typed
// and named arguments and result, call convention, scope syntax, whether it
// changes the world outside the process tree, and a one-line doc. Everything
// else derives from it: the runtime's argument marshalling, the compiler's
// call sites, the policy's scope rules (registry.ts, policy.ts, fs.ts), the
// host-effect set (builtins.ts), `rar caps` and the table of
// spec/capabilities.md (contract.ts, scripts/gen-caps.ts).
//
// An array argument takes two words (ptr, len); an array result goes to the
// caller's inbox and the call pushes its length.

export type ValueType = "int" | "array";

/** What a call passes and returns: all the runtime needs to marshal it. */
export interface CapSignature {
  readonly args: readonly ValueType[];
  readonly result: ValueType;
}

/**
 * What a family's scope (`family:SCOPE`) means:
 * - none: takes no scope;
 * - real: its one scope, `:real`, selects the host's real clock or generator
 *   instead of the virtual one (only `:real` covers it);
 * - dir: required; a host directory (`fs.read:DIR`, checked on real paths;
 *   relative guest paths reach it), or a view of the process tree's own file
 *   tree (`fs.read:tree:/notes`; absolute guest paths reach it);
 * - prefix: optional; reaches only keys equal to it or below it (`kv.get:app`);
 * - key: required; one name matched exactly (`env.get:HOME` reaches HOME only);
 * - origin: required; one web origin (scheme://host[:port]) matched exactly on
 *   the origin of the URL a call passes (`net.fetch:http://127.0.0.1:8080`).
 */
export type ScopeKind = "none" | "real" | "dir" | "prefix" | "key" | "origin";

/** Sync: the handler returns the result; async: it may return a promise, and the caller waits without blocking the host. */
export type CallConvention = "sync" | "async";

/** One built-in capability: its signature and everything its contract says. */
export interface CapSpec extends CapSignature {
  /** The only version: names may be written `family@1`. */
  readonly version: 1;
  /** Names of the arguments, one per entry of `args`. */
  readonly names: readonly string[];
  /** What the result is, in a word or two. */
  readonly returns: string;
  readonly call: CallConvention;
  readonly scope: ScopeKind;
  /** Whether a call changes something outside the process tree (files in host directories, a kv store's file). */
  readonly effect: boolean;
  readonly doc: string;
}

export const BUILTIN_SIGNATURES: Readonly<Record<string, CapSpec>> = {
  "io.print": { version: 1, args: ["array"], names: ["text"], result: "int", returns: "0", call: "sync", scope: "none", effect: false, doc: "write the code points as one line to stdout (invalid code points as U+FFFD)" },
  "io.read": { version: 1, args: [], names: [], result: "array", returns: "text", call: "sync", scope: "none", effect: false, doc: "the next line of stdin with its newline; [] at end of input" },
  "clock.now": { version: 1, args: [], names: [], result: "int", returns: "ms", call: "sync", scope: "real", effect: false, doc: "a wrapping 32-bit millisecond tick counter (virtual: 0, 1, 2, ... unless :real)" },
  "random.u32": { version: 1, args: [], names: [], result: "int", returns: "word", call: "sync", scope: "real", effect: false, doc: "32 random bits (virtual: a fixed function of the seed and the call count unless :real)" },
  "kv.get": { version: 1, args: ["array"], names: ["key"], result: "array", returns: "value", call: "sync", scope: "prefix", effect: false, doc: "the words stored under the text key; [] when absent" },
  "kv.put": { version: 1, args: ["array", "array"], names: ["key", "value"], result: "int", returns: "0", call: "sync", scope: "prefix", effect: true, doc: "store an array of words under the text key (a host effect when the store is a file)" },
  "fs.read": { version: 1, args: ["array"], names: ["path"], result: "array", returns: "bytes", call: "sync", scope: "dir", effect: false, doc: "a regular file's bytes, one per word" },
  "fs.write": { version: 1, args: ["array", "array"], names: ["path", "bytes"], result: "int", returns: "n", call: "sync", scope: "dir", effect: true, doc: "create or replace a file with bytes 0..255; returns their count" },
  "fs.stat": { version: 1, args: ["array"], names: ["path"], result: "int", returns: "size", call: "sync", scope: "dir", effect: false, doc: "a file's size in bytes; -1 missing, -2 a directory, -3 anything else" },
  "fs.list": { version: 1, args: ["array"], names: ["path"], result: "array", returns: "text", call: "sync", scope: "dir", effect: false, doc: "a directory's names, sorted, one per line, directories with a trailing /" },
  "fs.mkdir": { version: 1, args: ["array"], names: ["path"], result: "int", returns: "0", call: "sync", scope: "dir", effect: true, doc: "create a directory and its missing parents" },
  "fs.remove": { version: 1, args: ["array"], names: ["path"], result: "int", returns: "0", call: "sync", scope: "dir", effect: true, doc: "remove a file, a symlink or an empty directory" },
  "fs.rename": { version: 1, args: ["array", "array"], names: ["from", "to"], result: "int", returns: "0", call: "sync", scope: "dir", effect: true, doc: "rename within the caller's scopes" },
  "fs.info": { version: 1, args: ["array"], names: ["path"], result: "array", returns: "[kind, size, mode]", call: "sync", scope: "dir", effect: false, doc: "kind (1 file, 2 directory, 3 link, 4 other), size (a file's bytes, a link's characters, 0 for a directory) and permission bits, following links" },
  "fs.lstat": { version: 1, args: ["array"], names: ["path"], result: "array", returns: "[kind, size, mode]", call: "sync", scope: "dir", effect: false, doc: "as fs.info, but a link is described itself (kind 3, size: its target's length)" },
  "fs.readdir": { version: 1, args: ["array"], names: ["path"], result: "array", returns: "text", call: "sync", scope: "dir", effect: false, doc: "a directory's entries, sorted, one per line, each its kind letter (f d l o), a space and its name" },
  "fs.exists": { version: 1, args: ["array"], names: ["path"], result: "int", returns: "0 or 1", call: "sync", scope: "dir", effect: false, doc: "1 when the path leads to something (following links), else 0; EACCES (-13) outside the caller's view" },
  "fs.readlink": { version: 1, args: ["array"], names: ["path"], result: "array", returns: "text", call: "sync", scope: "dir", effect: false, doc: "a link's target as written (file tree only)" },
  "fs.write_at": { version: 1, args: ["array", "int", "array"], names: ["path", "offset", "bytes"], result: "int", returns: "n", call: "sync", scope: "dir", effect: true, doc: "write bytes at an offset, creating the file and zero-filling a gap; returns their count" },
  "fs.truncate": { version: 1, args: ["array", "int"], names: ["path", "size"], result: "int", returns: "0", call: "sync", scope: "dir", effect: true, doc: "cut a file to size bytes or extend it with zeros" },
  "fs.chmod": { version: 1, args: ["array", "int"], names: ["path", "mode"], result: "int", returns: "0", call: "sync", scope: "dir", effect: true, doc: "set the permission bits (0 to 0o777), following links" },
  "fs.symlink": { version: 1, args: ["array", "array"], names: ["path", "target"], result: "int", returns: "0", call: "sync", scope: "dir", effect: true, doc: "make a link at path to target (file tree only; the target must lie in the maker's view)" },
  "io.eprint": { version: 1, args: ["array"], names: ["text"], result: "int", returns: "0", call: "sync", scope: "none", effect: false, doc: "write the code points as one line to stderr, the program's own error stream" },
  "random.bytes": { version: 1, args: ["int"], names: ["n"], result: "array", returns: "bytes", call: "sync", scope: "real", effect: false, doc: "n random bytes 0..255, one per word, n from 0 to 65536 (virtual: from the seed, a stream apart from random.u32, unless :real)" },
  "clock.mono": { version: 1, args: [], names: [], result: "int", returns: "ms", call: "sync", scope: "real", effect: false, doc: "a monotonic millisecond clock (virtual: +1 per read, +ms per sleep, unless :real)" },
  "clock.sleep": { version: 1, args: ["int"], names: ["ms"], result: "int", returns: "0", call: "async", scope: "real", effect: false, doc: "advance the virtual monotonic clock by ms; with :real, wait ms without blocking the host (async: runAsync only)" },
  "env.get": { version: 1, args: ["array"], names: ["key"], result: "array", returns: "value", call: "sync", scope: "key", effect: false, doc: "the value of one host environment variable granted by name; [] when unset" },
  "log.write": { version: 1, args: ["int", "array"], names: ["level", "text"], result: "int", returns: "0", call: "sync", scope: "none", effect: false, doc: "a log record (level 0 debug .. 3 error) delivered to the host (SessionOptions.onLog, --log FILE)" },
  "net.fetch": { version: 1, args: ["array"], names: ["url"], result: "array", returns: "response", call: "async", scope: "origin", effect: false, doc: "HTTP GET of a URL of a granted origin: [status, body bytes one per word]; same-origin redirects only, bounded by headroom and a deadline (async: runAsync only)" },
};

/** The built-in families, sorted (never host iteration order). */
export const BUILTIN_NAMES: readonly string[] = Object.keys(BUILTIN_SIGNATURES).sort();

/** The built-in families whose scope is of `kind`. */
export function familiesScoped(kind: ScopeKind): ReadonlySet<string> {
  return new Set(BUILTIN_NAMES.filter((n) => BUILTIN_SIGNATURES[n].scope === kind));
}

/** The spec of a built-in capability; scoped names (`fs.read:/data`) use their family's. */
export function builtinSignature(name: string): CapSpec | undefined {
  const base = name.replace(/@1$/, "").replace(/:.*$/, "");
  return Object.prototype.hasOwnProperty.call(BUILTIN_SIGNATURES, base) ? BUILTIN_SIGNATURES[base] : undefined;
}

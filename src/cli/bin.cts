#!/usr/bin/env node
// The `rar` command as installed (package.json `bin`). It starts the CLI from
// one pre-built CommonJS file, bundle.cjs, with the V8 code cache made for it
// when it was built (scripts/build-cli.ts), so a start neither resolves and
// links the ~40 modules of dist/src nor compiles the code it runs (CLI.md:
// `rar run` of hello world within 1.5x a bare `node -e 0`).
//
// The code cache is only a shortcut and is safe to lose: it is offered to V8
// only when it was made from this very bundle (it begins with the stamp on the
// bundle's last line), and V8 itself refuses one made by another V8 version or
// with other flags; either way the bundle compiles as usual, silently. Nothing
// is written at run time. Without a bundle (a checkout where only tsc ran) the
// command runs the unbundled CLI, dist/src/cli/main.js, the same code.
//
// CommonJS (.cts), and nothing but Node's own modules: this file is loaded on
// every start, before any cache helps.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Script } from "node:vm";

/** The bundled CLI, written by scripts/build-cli.ts beside this file. */
export const BUNDLE = join(__dirname, "bundle.cjs");
/** V8's code cache for BUNDLE: the bundle's stamp line, then V8's bytes. */
export const CODE_CACHE = join(__dirname, "bundle.cache");
/** The last line of BUNDLE begins with this, followed by the SHA-256 of what precedes it. */
export const STAMP_PREFIX = "//# rarBundle=";

/**
 * The bundle's source as V8 compiles it: Node's CommonJS wrapper around it,
 * and its `#!` line turned into a comment of the same length, so lines and
 * columns (and the source map) still match the file.
 */
export function wrappedSource(bundle: string): string {
  const body = bundle.startsWith("#!") ? "//" + bundle.slice(2) : bundle;
  return `(function (exports, require, module, __filename, __dirname) { ${body}\n});`;
}

/** The stamp line that ties a code cache to one bundle's text ("" when the bundle has none). */
export function stampOf(bundle: string): string {
  const at = bundle.lastIndexOf("\n" + STAMP_PREFIX);
  return at < 0 ? "" : bundle.slice(at + 1).trimEnd();
}

/** The contents of a code cache file for `bundle`: its stamp line, then V8's bytes. */
export function codeCacheFile(bundle: string, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(stampOf(bundle) + "\n", "latin1"), data]);
}

/** V8's bytes from a code cache file (CODE_CACHE unless said), if that file was made from `bundle`. */
export function readCodeCache(bundle: string, path = CODE_CACHE): Buffer | undefined {
  const stamp = stampOf(bundle);
  if (stamp === "") return undefined;
  try {
    const file = readFileSync(path);
    const head = stamp + "\n";
    return file.toString("latin1", 0, head.length) === head ? file.subarray(head.length) : undefined;
  } catch {
    return undefined;
  }
}

/** Compiles the bundle, with V8's code cache when one is given (V8 checks it and, if it refuses it, compiles anew: `cachedDataRejected`). */
export function compileBundle(bundle: string, cachedData?: Buffer): Script {
  return new Script(wrappedSource(bundle), { filename: BUNDLE, cachedData });
}

/** Runs the compiled bundle as Node would run the file: the CLI parses process.argv and sets process.exitCode. */
export function runBundle(script: Script): void {
  const start = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;
  const bundleModule = { exports: {}, filename: BUNDLE, id: BUNDLE };
  start.call(bundleModule.exports, bundleModule.exports, createRequire(BUNDLE), bundleModule, BUNDLE, __dirname);
}

/**
 * Where the signals that come before the CLI has started wait for it, by a
 * global symbol (this file imports nothing of rar's; src/cli/interrupt.ts
 * takes them over under the same key).
 */
const EARLY_SIGNALS = Symbol.for("rar.earlySignals");

/**
 * SIGINT and SIGTERM while the bundle loads are noted, not obeyed: `run`,
 * `resume` and `trace` then suspend at their first instruction boundary and
 * write the image (CLI.md); any other command re-raises them at once.
 */
function noteEarlySignals(): void {
  const got: NodeJS.Signals[] = [];
  const note = (s: NodeJS.Signals): void => void got.push(s);
  process.on("SIGINT", note);
  process.on("SIGTERM", note);
  const release = (): readonly NodeJS.Signals[] => {
    process.off("SIGINT", note);
    process.off("SIGTERM", note);
    return got;
  };
  (globalThis as Record<symbol, unknown>)[EARLY_SIGNALS] = release;
}

function main(): void {
  noteEarlySignals();
  let bundle: string;
  try {
    bundle = readFileSync(BUNDLE, "utf8");
  } catch {
    void import("./main.js");
    return;
  }
  runBundle(compileBundle(bundle, readCodeCache(bundle)));
}

if (require.main === module) main();

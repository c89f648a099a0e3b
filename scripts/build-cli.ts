// Builds the installed `rar` command (`npm run build`, after tsc): the CLI as
// one CommonJS file and the V8 code cache for it, both beside the launcher
// dist/src/cli/bin.cjs (src/cli/bin.cts says how they are used).
//
//   dist/src/cli/bundle.cjs      dist/src/cli/main.js and everything it may load,
//                                in one file; its last line is its stamp
//   dist/src/cli/bundle.cjs.map  source map to the tsc output in dist/src (npm
//                                packages for commander, msgpackr, @noble/hashes)
//   dist/src/cli/bundle.cache    the stamp, then V8's code cache, made by one
//                                warm-up run of `rar run examples/hello.ent`
//
// Why: Node 20 pays for every ES module it resolves, links and compiles;
// `rar run` loads ~40 of them. One file, with the code that run compiles
// already in the cache, cuts what rar adds to Node's own start-up by about
// three quarters (bench: startup_vs_node about 1.3, startup_unbundled_vs_node
// about 2.2). esbuild does the bundling: it keeps `import()` lazy (a command's
// module is evaluated only when that command runs) and writes a source map.
// Whitespace and comments go (a smaller file to read, and all ASCII: one
// non-ASCII character in a comment made V8 hold the whole source as two-byte
// text), and commander's node:child_process is loaded only if it is used.
// node:crypto is loaded lazily too (src/vm/sha256.ts). The build fails when
// either is loaded by the warm-up run, or commander's file is not the one the
// rewrite knows (lazyChildProcess, checkLazyChildProcess).

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI_DIR = join(ROOT, "dist", "src", "cli");
/** The launcher, as tsc built it: it names the files this script writes and the stamp's form. */
const LAUNCHER = join(CLI_DIR, "bin.cjs");
const { BUNDLE, CODE_CACHE, STAMP_PREFIX } = createRequire(import.meta.url)(LAUNCHER) as typeof import("../src/cli/bin.cjs");

/** What the warm-up run does; the functions it runs then are in the code cache, compiled. */
const WARM_UP = ["run", "examples/hello.ent"];

/**
 * Packages compiled into the bundle: the CLI's dependencies on the way to a
 * run. Any other package stays a require() resolved in node_modules at run
 * time, as it would be unbundled (safe for a package that reads its own files).
 */
const BUNDLED = new Set(["commander", "msgpackr", "@noble/hashes"]);

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

const onlyListedPackages: Plugin = {
  name: "only-listed-packages",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith("node:") || BUNDLED.has(packageName(args.path))) return undefined;
      return { path: args.path, external: true };
    });
  },
};

/** src/cli/version.ts reads package.json through import.meta.url, which a CommonJS bundle lacks: the bundle holds the version itself. */
function fixedVersion(version: string): Plugin {
  return {
    name: "fixed-version",
    setup(b) {
      b.onLoad({ filter: /[\\/]dist[\\/]src[\\/]cli[\\/]version\.js$/ }, () => ({
        contents: `export function packageVersion() { return ${JSON.stringify(version)}; }\n`,
        loader: "js",
      }));
    },
  };
}

/** commander's require of node:child_process, and what replaces it. */
const EAGER_CHILD_PROCESS = "const childProcess = require('node:child_process');";
const LAZY_CHILD_PROCESS = "const childProcess = { get spawn() { return require('node:child_process').spawn; } };";

/**
 * commander's lib/command.js with its node:child_process loaded only when
 * used. commander loads it (and with it net, dgram and the streams) at start
 * for one use: running a subcommand that is its own executable, which rar
 * never does; only `childProcess.spawn` is looked up, then. Throws when the
 * text is not the one this was written for (commander changed): the require
 * is not there once, or childProcess is used for something besides spawn
 * (the getter would give undefined).
 */
export function lazyChildProcess(text: string, file: string): string {
  if (text.split(EAGER_CHILD_PROCESS).length !== 2) throw new Error(`${file}: not one "${EAGER_CHILD_PROCESS}" to make lazy (commander changed?)`);
  const uses = text.replace(EAGER_CHILD_PROCESS, "").match(/\bchildProcess\b(\s*\.\s*\w+)?/g) ?? [];
  const other = uses.find((u) => u.replace(/\s/g, "") !== "childProcess.spawn");
  if (other !== undefined) throw new Error(`${file}: childProcess is used as '${other}', not only for spawn (commander changed?)`);
  return text.replace(EAGER_CHILD_PROCESS, LAZY_CHILD_PROCESS);
}

/**
 * Throws unless the bundle names node:child_process only in the lazy getter:
 * commander's lib/command.js was found and rewritten (a commander whose file
 * moved would bundle its eager require unnoticed), and nothing else requires
 * it at start.
 */
export function checkLazyChildProcess(bundle: string): void {
  const lazy = "require(\"node:child_process\").spawn}}";
  const mentions = bundle.split("child_process").length - 1;
  if (mentions !== 1 || !bundle.includes(lazy))
    throw new Error(`the bundle names child_process ${mentions} times: only commander's spawn getter should (${lazy}); commander changed, or a module the CLI loads at start requires it`);
}

const lazyChildProcessPlugin: Plugin = {
  name: "lazy-child-process",
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => ({ contents: lazyChildProcess(readFileSync(args.path, "utf8"), args.path), loader: "js" }));
  },
};

/** Writes a file whole or not at all (a test may start the CLI while it is being rebuilt). */
function writeAtomically(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

async function bundle(): Promise<void> {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [join(CLI_DIR, "main.js")],
    outfile: BUNDLE,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    // import() of a command's module becomes a lazy require: evaluated when the command runs, not at start.
    supported: { "dynamic-import": false },
    sourcemap: "linked",
    sourcesContent: false,
    minifyWhitespace: true,
    // Paths in the source map and comments as the checkout shows them (node_modules may be a link).
    preserveSymlinks: true,
    plugins: [onlyListedPackages, fixedVersion(pkg.version), lazyChildProcessPlugin],
    write: false,
    logLevel: "silent",
  });
  const problems = [...result.errors, ...result.warnings];
  if (problems.length > 0) throw new Error(`esbuild: ${problems.map((p) => p.text).join("; ")}`);
  let code = "";
  for (const f of result.outputFiles) {
    if (f.path === BUNDLE) code = f.text;
    else writeAtomically(f.path, f.contents);
  }
  checkLazyChildProcess(code);
  const stamp = STAMP_PREFIX + createHash("sha256").update(code).digest("hex");
  // The cache of an older bundle goes first; its stamp would not match anyway.
  rmSync(CODE_CACHE, { force: true });
  writeAtomically(BUNDLE, `${code}${stamp}\n`);
}

/**
 * A fresh `node` (no flags: V8 refuses a cache made under other flags) runs
 * the launcher's own compile and run functions on the warm-up command, then
 * asks V8 for the cache, which now holds every function that run compiled.
 */
const MAKE_CACHE = `
const { readFileSync, writeFileSync } = require("node:fs");
const [launcher, out, ...args] = process.argv.slice(1);
const bin = require(launcher);
const source = readFileSync(bin.BUNDLE, "utf8");
const script = bin.compileBundle(source);
process.argv = [process.execPath, bin.BUNDLE, ...args];
process.on("exit", (code) => {
  if (code === 0) writeFileSync(out, bin.codeCacheFile(source, script.createCachedData()));
});
bin.runBundle(script);
`;

/** A fresh `node` checks that the launcher finds the cache and V8 takes it (else it could not help). */
const CHECK_CACHE = `
const bin = require(process.argv[1]);
const source = require("node:fs").readFileSync(bin.BUNDLE, "utf8");
const data = bin.readCodeCache(source, process.argv[2]);
if (data === undefined) throw new Error("the launcher does not find the code cache");
if (bin.compileBundle(source, data).cachedDataRejected) throw new Error("V8 rejects the code cache");
`;

/**
 * A fresh `node` runs the warm-up command from the bundle and checks that it
 * loaded neither node:child_process nor node:crypto (loaded lazily, when
 * used: a commander or code change that loads them at start fails the
 * build). Given on stdin, not with -e, which loads node:crypto itself.
 */
const CHECK_LAZY = `
const [launcher, ...args] = process.argv.slice(2);
const bin = require(launcher);
process.argv = [process.execPath, bin.BUNDLE, ...args];
process.on("exit", (code) => {
  const eager = (process.moduleLoadList ?? []).filter((m) => /^NativeModule (child_process|crypto)$/.test(m));
  if (code === 0 && eager.length > 0) {
    process.stderr.write("it loaded " + eager.join(" and ") + ", which only a command that uses them should load");
    process.exitCode = 1;
  }
});
bin.runBundle(bin.compileBundle(require("node:fs").readFileSync(bin.BUNDLE, "utf8")));
`;

function node(args: string[], what: string, input?: string): void {
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", input, stdio: [input === undefined ? "ignore" : "pipe", "ignore", "pipe"] });
  if (r.status !== 0) throw new Error(`${what} failed (exit ${String(r.status)}): ${r.stderr.trim()}`);
}

function codeCache(): void {
  const tmp = `${CODE_CACHE}.${process.pid}.tmp`;
  try {
    node(["-e", MAKE_CACHE, LAUNCHER, tmp, ...WARM_UP], `the warm-up run (rar ${WARM_UP.join(" ")})`);
    node(["-e", CHECK_CACHE, LAUNCHER, tmp], "checking the code cache");
    node(["-", LAUNCHER, ...WARM_UP], `the warm-up run (rar ${WARM_UP.join(" ")}) with nothing loaded eagerly`, CHECK_LAZY);
    renameSync(tmp, CODE_CACHE);
  } finally {
    rmSync(tmp, { force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    await bundle();
    codeCache();
  } catch (e) {
    process.stderr.write(`build-cli: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}

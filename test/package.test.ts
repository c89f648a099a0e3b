// The package a host installs: `npm pack` ships the runtime, its types and
// its docs and nothing else, and once installed every documented entry point
// imports, type-checks and runs, and so does the `rar` command (the bundled
// CLI with its code cache, scripts/build-cli.ts).

import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, ensureBuilt } from "./helpers/cli.js";

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  exports: Record<string, unknown>;
  bin: Record<string, string>;
};

/** What the tarball may hold: the built runtime, compilers and GP harness (for `rar gp`), the spec, the README and package.json. */
const SHIPPED = [/^dist\/src\//, /^dist\/lang\//, /^dist\/gp\//, /^spec\/[^/]+\.md$/, /^README\.md$/, /^package\.json$/];

let tmp = "";
let app = "";
let files: string[] = [];

/** The environment without what `npm test` exports to its children (npm_config_*, npm_package_*), so the nested npm sees only its own project. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_")));
}

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: "utf8", env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
}

beforeAll(() => {
  ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), "rar-package-"));
  const packed = JSON.parse(run("npm", ["pack", "--pack-destination", tmp, "--ignore-scripts", "--json"], ROOT)) as { filename: string; files: { path: string }[] }[];
  files = packed[0].files.map((f) => f.path);
  const tarball = join(tmp, packed[0].filename);

  // A host project. Its copies of the runtime's dependencies (taken from this
  // checkout) let `npm install --offline` succeed without the network or a
  // warm npm cache; the tarball itself is installed the ordinary way.
  app = join(tmp, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "host", private: true, type: "module" }));
  for (const dep of Object.keys(pkg.dependencies))
    cpSync(join(ROOT, "node_modules", dep), join(app, "node_modules", dep), { recursive: true, dereference: true });
  run("npm", ["install", "--no-audit", "--no-fund", "--offline", "--ignore-scripts", tarball], app);
}, 60_000);

afterAll(() => {
  if (tmp !== "") rmSync(tmp, { recursive: true, force: true });
});

describe("the packed tarball", () => {
  it("holds the entry modules with their types, the CLI, package.json and the README", () => {
    for (const f of ["package.json", "README.md", "dist/src/index.js", "dist/src/index.d.ts", "dist/src/internals.js", "dist/src/internals.d.ts", "dist/src/cli/main.js"])
      expect(files).toContain(f);
  });

  it("holds the rar command: its launcher, the bundled CLI with its source map, and the code cache", () => {
    expect(pkg.bin).toEqual({ rar: "dist/src/cli/bin.cjs" });
    for (const f of ["dist/src/cli/bin.cjs", "dist/src/cli/bundle.cjs", "dist/src/cli/bundle.cjs.map", "dist/src/cli/bundle.cache"]) expect(files).toContain(f);
  });

  it("holds nothing but dist/src, dist/lang, dist/gp, spec, the README and package.json: no tests, fixtures, benchmarks, scripts, images or examples", () => {
    expect(files.filter((f) => !SHIPPED.some((re) => re.test(f)))).toEqual([]);
    expect(files.filter((f) => /(^|\/)(test|bench|scripts|images|examples)\//.test(f))).toEqual([]);
  });

  it("has a subpath export, with types, for each entry module and no other", () => {
    expect(Object.keys(pkg.exports).sort()).toEqual([".", "./internals", "./package.json"]);
  });
});

describe("the installed package", () => {
  it("runs a program through the package root, and exposes the machinery at /internals", () => {
    writeFileSync(
      join(app, "host.mjs"),
      `import { Session, compileSource, verify, loadPolicy, RarError } from ${JSON.stringify(pkg.name)};
import { Machine, assemble, OPS } from ${JSON.stringify(pkg.name + "/internals")};
const module = verify(compileSource("fn main() { return 41 + 1; }").modules[0]);
const r = Session.start(module, { gas: 10_000 }).run();
console.log(JSON.stringify({ status: r.status, value: r.value, internals: [typeof Machine, typeof assemble, typeof OPS], root: [typeof loadPolicy, typeof RarError] }));
`,
    );
    expect(JSON.parse(run(process.execPath, ["host.mjs"], app))).toEqual({
      status: "done",
      value: 42,
      internals: ["function", "function", "object"],
      root: ["function", "function"],
    });
  });

  it("keeps its modules private: a path that is not exported does not resolve", () => {
    writeFileSync(join(app, "deep.mjs"), `import(${JSON.stringify(pkg.name + "/dist/src/session.js")}).then(() => console.log("resolved"), (e) => console.log(e.code));\n`);
    expect(run(process.execPath, ["deep.mjs"], app).trim()).toBe("ERR_PACKAGE_PATH_NOT_EXPORTED");
  });

  it("type-checks a host against both entry points' declarations", () => {
    writeFileSync(
      join(app, "host.ts"),
      `import { Session, compileSource, verify, type CapHandler, type RunResult } from ${JSON.stringify(pkg.name)};
import { Machine, type MachineOptions } from ${JSON.stringify(pkg.name + "/internals")};
export const scale: CapHandler = { sig: { args: ["int"], result: "int" }, call: ([x]) => (x as number) * 10 };
export const result: RunResult = Session.start(verify(compileSource("fn main() { return 1; }").modules[0])).run();
export const value: number | undefined = result.value;
export type Options = MachineOptions;
export const machine: typeof Machine = Machine;
`,
    );
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { strict: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", skipLibCheck: true, noEmit: true, types: [] },
        files: ["host.ts"],
      }),
    );
    run(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", app], app);
  });

  it("installs the rar command, which prints the package's version", () => {
    expect(run(join(app, "node_modules", ".bin", "rar"), ["--version"], app).trim()).toBe(pkg.version);
  });

  it("installs the rar command with its gp command, which loads the GP harness from the package", () => {
    const args = ["gp", "--problem", "smallest", "--gens", "1", "--pop", "10", "--json", "--out", join(app, "best.rmod")];
    const report = JSON.parse(run(join(app, "node_modules", ".bin", "rar"), args, app)) as { problem: string; generations: number };
    expect(report).toMatchObject({ problem: "smallest", generations: 1 });
  });

  it("runs hello world with the installed rar command, and reports a bad file in one line", () => {
    writeFileSync(join(app, "hello.ent"), 'fn main() { print("Hello, world!"); }\n');
    const hello = rar("run", "hello.ent");
    expect(hello).toMatchObject({ code: 0, stdout: "Hello, world!\n" });
    expect(hello.stderr).toMatch(/^rar: done result=0 gas=\d+\/\d+ mem=\d+\/\d+\n$/);
    const missing = rar("run", "missing.ent");
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toMatch(/^rar: error: .*missing\.ent/);
  });

  it("ships a code cache that fits its bundle and is taken by this Node's V8", () => {
    const check = `const bin = require(${JSON.stringify(join(installed(), pkg.bin.rar))});
const source = require("node:fs").readFileSync(bin.BUNDLE, "utf8");
const data = bin.readCodeCache(source);
console.log(JSON.stringify({ stamped: data !== undefined, rejected: data !== undefined && bin.compileBundle(source, data).cachedDataRejected }));`;
    expect(JSON.parse(run(process.execPath, ["-e", check], app))).toEqual({ stamped: true, rejected: false });
  });

  it("writes nothing into the installed package when it runs", () => {
    const before = snapshot(installed());
    writeFileSync(join(app, "count.ent"), "fn main() { return 7; }\n");
    expect(rar("run", "count.ent").code).toBe(0);
    expect(rar("--version").code).toBe(0);
    expect(snapshot(installed())).toEqual(before);
  });

  it("runs as well when the code cache is not its bundle's or V8 refuses it", () => {
    const cache = join(installed(), "dist", "src", "cli", "bundle.cache");
    const original = readFileSync(cache);
    const stamp = original.subarray(0, original.indexOf("\n") + 1);
    writeFileSync(join(app, "six.ent"), 'fn main() { print("six"); return 6; }\n');
    try {
      for (const junk of [Buffer.from("//# rarBundle=0\nnot a cache"), Buffer.concat([stamp, Buffer.alloc(4096, 7)]), Buffer.alloc(0)]) {
        writeFileSync(cache, junk);
        expect(rar("run", "six.ent")).toMatchObject({ code: 0, stdout: "six\n" });
      }
    } finally {
      writeFileSync(cache, original);
    }
  });
});

/** The installed package's folder in the host project. */
function installed(): string {
  return join(app, "node_modules", pkg.name);
}

/** The installed `rar` command, run in the host project. */
function rar(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(join(app, "node_modules", ".bin", "rar"), args, { cwd: app, encoding: "utf8", env: cleanEnv() });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Every file under `dir` with its size and modification time. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const path = join(e.parentPath, e.name);
      const st = statSync(path);
      return `${path} ${st.size} ${st.mtimeMs}`;
    })
    .sort();
}

// The Ent golden corpus: every test/golden/ent/NAME.ent runs through the
// built CLI (`rar run NAME.ent`, test/helpers/cli.ts) and must print exactly
// NAME.out on stdout and end with the expected exit code. Header comments set
// the run: `// args: 1 2`, `// exit: 1`, `// stderr: text` (a substring the
// one-line report must contain), `// gas: N`, `// mem: N`.
// UPDATE_GOLDEN=1 rewrites the .out files (review the diff!).

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, ROOT, ensureBuilt } from "./helpers/cli.js";

const DIR = join(ROOT, "test/golden/ent");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

interface Case {
  name: string;
  args: string[];
  exit: number;
  stderr?: string;
  flags: string[];
}

function header(text: string, key: string): string | undefined {
  const m = new RegExp(`^// ${key}:(.*)$`, "m").exec(text);
  return m ? m[1].trim() : undefined;
}

function cases(): Case[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith(".ent"))
    .sort()
    .map((f) => {
      const text = readFileSync(join(DIR, f), "utf8");
      const flags: string[] = [];
      const gas = header(text, "gas");
      const mem = header(text, "mem");
      if (gas) flags.push("--gas", gas);
      if (mem) flags.push("--mem", mem);
      return {
        name: f.replace(/\.ent$/, ""),
        args: (header(text, "args") ?? "").split(/\s+/).filter(Boolean),
        exit: Number(header(text, "exit") ?? "0"),
        stderr: header(text, "stderr"),
        flags,
      };
    });
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function run(c: Case, imageDir: string): Promise<Outcome> {
  // Only a suspension writes an image; direct it away from the corpus.
  const out = c.exit === 3 ? ["--out", join(imageDir, `${c.name}.rimg`)] : [];
  const argv = [CLI, "run", `${c.name}.ent`, ...c.args, ...c.flags, ...out];
  return new Promise((res) => {
    execFile(process.execPath, argv, { cwd: DIR, encoding: "utf8" }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      res({ code, stdout, stderr });
    });
  });
}

/** Runs every case with a few processes at a time. */
async function runAll(list: Case[], imageDir: string): Promise<Map<string, Outcome>> {
  const out = new Map<string, Outcome>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < list.length) {
      const c = list[next++];
      out.set(c.name, await run(c, imageDir));
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  return out;
}

const CASES = cases();
let outcomes = new Map<string, Outcome>();
let imageDir = "";

beforeAll(async () => {
  ensureBuilt();
  imageDir = mkdtempSync(join(tmpdir(), "ent-golden-"));
  outcomes = await runAll(CASES, imageDir);
}, 120_000);

afterAll(() => {
  if (imageDir) rmSync(imageDir, { recursive: true, force: true });
  // An unexpected suspension writes NAME.rimg next to the program.
  for (const c of CASES) rmSync(join(DIR, `${c.name}.rimg`), { force: true });
});

describe("the Ent golden corpus, run through the CLI", () => {
  it("holds at least 40 programs", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  for (const c of CASES) {
    it(`${c.name}.ent prints its golden output and exits ${c.exit}`, () => {
      const o = outcomes.get(c.name) as Outcome;
      const outFile = join(DIR, `${c.name}.out`);
      if (UPDATE) writeFileSync(outFile, o.stdout);
      expect(o.stderr).not.toMatch(/internal error|    at /);
      expect({ code: o.code, stdout: o.stdout }).toEqual({ code: c.exit, stdout: readFileSync(outFile, "utf8") });
      if (c.stderr) expect(o.stderr).toContain(c.stderr);
    });
  }
});

// The policies kind: JSON documents into parsePolicy, readPolicyFile and
// loadPolicy (the CLI's --policy path, with flags), and recorded policy text
// into policyFromJson (what an image's trace carries). Documents are shaped
// like policies — known fields with values of the right and the wrong types,
// capability names with awkward scopes (existing and missing directories,
// files, odd characters) — or are damaged JSON text.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadPolicy, parsePolicy, policyFromJson, policyToJson, readPolicyFile } from "../../src/caps/policy.js";
import { BUILTIN_NAMES } from "../../src/caps/signatures.js";
import { RarError } from "../../src/vm/errors.js";
import { NUMBERS } from "./mutate.js";
import type { Rng } from "./rng.js";
import { Anomaly, type Input, type Target } from "./target.js";

const FAMILIES = [
  ...BUILTIN_NAMES, "geo.lookup", "a.b", "io", "IO.PRINT", "io.print@1", "io.print@2", "clock.now@01",
];
const SCOPES = [
  "", ":", ":real", ":.", ":..", ":/", ":/tmp", ":dir", ":dir/sub", ":file.txt", ":missing", ":/nonexistent/x", ":app",
  ":app/x", ":\u0000", ":a\u0000b", ":~", ":" + "d/".repeat(200), ":" + "x".repeat(5000), ":\u00e9", ":\ud800", ":*",
  ":dir/../..", ":dir//sub/", ":./dir",
];

function capName(rng: Rng): unknown {
  if (rng.chance(0.05)) return rng.pick([1, null, [], {}, true, ""]);
  return rng.pick(FAMILIES) + (rng.chance(0.4) ? rng.pick(SCOPES) : "");
}

function anyValue(rng: Rng, depth = 0): unknown {
  switch (rng.below(depth > 3 ? 5 : 7)) {
    case 0:
      return rng.pick(NUMBERS);
    case 1:
      return rng.pick([1.5, -0, 1e308, -1e-9]);
    case 2:
      return rng.pick(["", "int", "array", "x", "io.print", "\u0000"]);
    case 3:
      return rng.pick([true, false, null]);
    case 4:
      return rng.word();
    case 5:
      return Array.from({ length: rng.size(5) }, () => anyValue(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.size(4); i > 0; i--) o[rng.pick(["results", "args", "result", "a", "__proto__", "constructor", "length"])] = anyValue(rng, depth + 1);
      return o;
    }
  }
}

function mock(rng: Rng): unknown {
  if (rng.chance(0.1)) return anyValue(rng);
  const m: Record<string, unknown> = {};
  if (rng.chance(0.9)) {
    const n = rng.chance(0.05) ? rng.pick([0, 65_537]) : rng.size(6) + 1;
    m.results = Array.from({ length: n }, () =>
      rng.chance(0.8) ? rng.pick([rng.word(), rng.pick(NUMBERS), "text\n", "", [1, 2, 3], [rng.word()]]) : anyValue(rng),
    );
  }
  if (rng.chance(0.3)) m.args = Array.from({ length: rng.below(3) }, () => rng.pick(["int", "array", "x", 1]));
  if (rng.chance(0.3)) m.result = rng.pick(["int", "array", "float", 0]);
  if (rng.chance(0.05)) m[rng.pick(["extra", "Results"])] = 1;
  return m;
}

function policyDoc(rng: Rng): unknown {
  if (rng.chance(0.05)) return anyValue(rng);
  const d: Record<string, unknown> = {};
  if (rng.chance(0.7)) d.allow = rng.chance(0.05) ? anyValue(rng) : Array.from({ length: rng.size(6) }, () => capName(rng));
  if (rng.chance(0.4)) d.deny = rng.chance(0.05) ? anyValue(rng) : Array.from({ length: rng.size(4) }, () => capName(rng));
  if (rng.chance(0.4)) {
    const mocks: Record<string, unknown> = {};
    for (let i = rng.size(3); i >= 0; i--) mocks[String(rng.chance(0.9) ? rng.pick(FAMILIES) : capName(rng))] = mock(rng);
    d.mock = rng.chance(0.05) ? anyValue(rng) : mocks;
  }
  if (rng.chance(0.3)) d.seed = rng.chance(0.8) ? rng.word() : anyValue(rng);
  if (rng.chance(0.2)) d.kv = rng.chance(0.8) ? rng.pick(["store.json", "", "dir", "/tmp/x.json", "a\u0000b"]) : anyValue(rng);
  if (rng.chance(0.1)) d.$comment = anyValue(rng);
  if (rng.chance(0.05)) d[rng.pick(["allows", "Allow", "__proto__", "constructor", "toString"])] = anyValue(rng);
  return d;
}

/** A recorded policy, as policyToJson writes it (and damaged). */
function recordedDoc(rng: Rng): unknown {
  const d: Record<string, unknown> = {
    denials: Array.from({ length: rng.size(3) }, () => capName(rng)),
    grants: Array.from({ length: rng.size(4) }, () => capName(rng)),
    mocks: {},
    seed: rng.word(),
  };
  if (rng.chance(0.3)) (d.mocks as Record<string, unknown>)[String(rng.pick(FAMILIES))] = mock(rng);
  if (rng.chance(0.2)) d.kv = rng.pick(["/tmp/kv.json", 5, null]);
  if (rng.chance(0.3)) d[rng.pick(["grants", "denials", "mocks", "seed"])] = anyValue(rng);
  return d;
}

/** Damaged JSON text: cut, a character changed, nested deeply. */
function damagedText(rng: Rng, text: string): string {
  switch (rng.below(4)) {
    case 0:
      return text.slice(0, rng.below(text.length + 1));
    case 1: {
      const i = rng.below(text.length + 1);
      return text.slice(0, i) + rng.pick(["{", "}", "[", "]", '"', ",", ":", "\\", "\u0000", "1e999", "NaN", "-"]) + text.slice(i);
    }
    case 2: {
      const n = rng.pick([10, 1000, 100_000]);
      return `{"allow": ${"[".repeat(n)}${"]".repeat(n)}}`;
    }
    default:
      return text.replace(/"[a-z]+"/, rng.pick(['"allow"', '"deny"', '"mock"', '"kv"', '"seed"']));
  }
}

/** A directory of scopes policies can name: dir, dir/sub and a file. */
function sandboxDir(): string {
  const base = mkdtempSync(join(tmpdir(), "rar-fuzz-policy-"));
  mkdirSync(join(base, "dir", "sub"), { recursive: true });
  writeFileSync(join(base, "file.txt"), "x");
  return base;
}

export function policiesTarget(_seed: number): Target {
  let base: string | null = null;
  const dir = (): string => (base ??= sandboxDir());
  return {
    ext: "json",
    generate(rng: Rng): Input {
      switch (rng.weighted([60, 10, 10, 12, 8])) {
        case 0:
          return { data: JSON.stringify(policyDoc(rng)), how: "policy document", entry: "parse" };
        case 1:
          return { data: JSON.stringify(policyDoc(rng)), how: "policy file", entry: "file" };
        case 2:
          return { data: JSON.stringify(policyDoc(rng)), how: "policy file and flags", entry: "load" };
        case 3:
          return { data: JSON.stringify(recordedDoc(rng)), how: "recorded policy", entry: "recorded" };
        default:
          return { data: damagedText(rng, JSON.stringify(policyDoc(rng))), how: "damaged JSON", entry: rng.chance(0.5) ? "file" : "recorded" };
      }
    },
    close(): void {
      if (base !== null) rmSync(base, { recursive: true, force: true });
      base = null;
    },
    check(input: Input): string {
      const text = input.data as string;
      const cwd = dir();
      switch (input.entry) {
        case "parse": {
          parsePolicy(JSON.parse(text), "fuzz.json", cwd);
          return "parsed";
        }
        case "recorded": {
          const p = policyFromJson(text, "trace");
          // A policy read back writes the same canonical text, and reads again.
          policyFromJson(policyToJson(p), "trace");
          return "recorded";
        }
        default: {
          const file = join(cwd, "policy.json");
          writeFileSync(file, text);
          if (input.entry === "file") {
            readPolicyFile(file);
            return "read";
          }
          const flags = JSON.parse(text) as Record<string, unknown>;
          const list = (x: unknown): string[] | undefined => (Array.isArray(x) ? x.map(String) : undefined);
          const p = loadPolicy({ file, allow: list(flags?.allow), deny: list(flags?.deny), defaults: ["io.print"], cwd });
          let back;
          try {
            back = policyFromJson(policyToJson(p), "trace");
          } catch (e) {
            if (e instanceof RarError) throw new Anomaly(`a loaded policy does not read back from its canonical text: ${e.message}`);
            throw e;
          }
          if (policyToJson(back) !== policyToJson(p)) throw new Anomaly("a loaded policy reads back differently");
          return "loaded";
        }
      }
    },
  };
}

// Policies: what the host grants the root (DESIGN §4). A policy comes from a
// JSON file and/or command-line flags and resolves to the root's grants, the
// denials that removed some, the mocked capabilities and the seed of the
// virtual generator. Negotiation checks, before any instruction runs, that
// every capability in the entry module's manifest is granted or mocked.
//
// The file (every field optional):
//
//   {
//     "allow": ["io.print", "clock.now", "fs.read:./data", "kv.get:app"],
//     "deny":  ["io.read"],
//     "prompt": ["net.fetch:http://127.0.0.1:8080", "env.get:HOME"],
//     "mock":  { "random.u32": { "results": [4, 8, 15] },
//                "io.read":    { "results": ["first line\n", ""] },
//                "geo.lookup": { "args": ["array"], "result": "int", "results": [7] } },
//     "seed":  42,
//     "kv":    "./store.json"
//   }
//
// Relative directories in a file are resolved against the file's directory;
// in flags, against the working directory. Denials win over grants, prompts
// and mocks; a grant wins over a prompt for the same capability. A prompted
// capability is granted to the root, and the host asks at its first use
// (caps/prompt.ts).

import { existsSync, realpathSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { RarError } from "../vm/errors.js";
import type { ModuleDef } from "../vm/module.js";
import type { Process } from "../process/process.js";
import type { MockSpec } from "./builtins.js";
import { inheritDown } from "./grants.js";
import { canonicalCap, capCovers, capFamily, capScope, scopeCovers, textToCodePoints, type CapSignature, type CapValue, type ValueType } from "./registry.js";
import { TEXT_FILE_MAX, readRegularFile } from "./hostfile.js";
import { originOf } from "./net.js";
import { PROMPTABLE } from "./prompt.js";
import { BUILTIN_SIGNATURES, familiesScoped, type CapSpec } from "./signatures.js";
import { normalizePath, pathWithin } from "./filetree.js";
import type { Mount } from "./fs.js";
import { TREE_PREFIX } from "./scope.js";

/** A resolved policy: what the root holds. */
export interface Policy {
  /** The root's grants: canonical names, scopes resolved (fs scopes are real directory paths), sorted. */
  readonly grants: readonly string[];
  /** Denials as written (canonical), sorted. */
  readonly denials: readonly string[];
  /** Grants the host asks about at their first use (also in `grants`), sorted; absent when none. */
  readonly prompts?: readonly string[];
  /** Mocked capabilities by family; each is also granted (unscoped). */
  readonly mocks: Readonly<Record<string, MockSpec>>;
  /** Seed of the virtual random generator. */
  readonly seed: number;
  /** Absolute path of the kv store's JSON file, if any. */
  readonly kv?: string;
  /**
   * Host directories placed in the process tree's file tree (`--mount`),
   * sorted by guest path. Each also grants every fs family at `tree:GUEST`.
   * Only the guest paths and modes are recorded (policyToJson); the host
   * directory is this host's.
   */
  readonly mounts?: readonly Mount[];
}

/** Where a policy comes from. */
export interface PolicySources {
  /** A policy file (JSON). */
  file?: string;
  /** Grants from flags (`--allow`), resolved against `cwd`. */
  allow?: readonly string[];
  /** Mounts from flags (`--mount GUEST=HOST[:ro]`), HOST resolved against `cwd`. */
  mounts?: readonly string[];
  /** Denials from flags (`--deny`). */
  deny?: readonly string[];
  /** Grants to ask about at first use, from flags (`--prompt`). */
  prompt?: readonly string[];
  /** Grants the root holds unless denied (the CLI gives io.print). */
  defaults?: readonly string[];
  /** Base directory for relative scopes in flags. Default process.cwd(). */
  cwd?: string;
  /** Signatures of host capabilities beyond the built-ins (embedding hosts). */
  custom?: Readonly<Record<string, CapSignature>>;
}

/** Largest number of mocked results per capability. */
export const MOCK_RESULTS_MAX = 65_536;

const NAME = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+(@[0-9]+)?(:.*)?$/;
// How each built-in family's scope is written (signatures.ts); custom capabilities take any scope.
const FS = familiesScoped("dir");
const CLOCKLIKE = familiesScoped("real");
const UNSCOPED = familiesScoped("none");
const KEYED = familiesScoped("key");
const ORIGINS = familiesScoped("origin");
/** Longest environment variable name env.get may be scoped to. */
const ENV_KEY_MAX = 256;

interface Ctx {
  where: string;
  base: string;
  signature(family: string): CapSignature | undefined;
}

/**
 * Shorthands a policy accepts: `fs.*:SCOPE` names every filesystem family with
 * that scope, `env:KEY` is `env.get:KEY`; any other name is itself.
 */
export function expandGroup(raw: unknown): unknown[] {
  if (typeof raw === "string" && raw.startsWith("env:")) return ["env.get" + raw.slice(3)];
  if (typeof raw !== "string" || !raw.startsWith("fs.*")) return [raw];
  const rest = raw.slice("fs.*".length);
  return [...FS].sort().map((f) => f + rest);
}

/** Canonical, validated, scope-resolved form of one capability name. */
function resolveName(raw: unknown, field: string, ctx: Ctx, forDeny: boolean): string {
  const at = field === "" ? ctx.where : `${ctx.where}: ${field}`;
  if (typeof raw !== "string") throw new RarError("policy.bad_field", "a capability name must be a string", at);
  if (!NAME.test(raw)) throw new RarError("policy.bad_name", `'${raw}' is not a capability name (like io.print or fs.read:DIR)`, at);
  const version = /@([0-9]+)/.exec(raw.replace(/:.*$/, ""));
  if (version && version[1] !== "1") throw new RarError("policy.bad_version", `'${raw}': only version 1 exists`, at);
  const name = canonicalCap(raw);
  const family = capFamily(name);
  const scope = name.includes(":") ? name.slice(name.indexOf(":") + 1) : "";
  if (!ctx.signature(family)) throw new RarError("policy.unknown_cap", `unknown capability '${family}'`, at);
  if (FS.has(family)) {
    if (scope === "") {
      if (forDeny) return family;
      throw new RarError("policy.needs_scope", `'${family}' needs a directory: ${family}:DIR (a host directory) or ${family}:${TREE_PREFIX}/PATH (the file tree)`, at);
    }
    if (scope.startsWith(TREE_PREFIX)) {
      const view = normalizePath(scope.slice(TREE_PREFIX.length));
      if (typeof view === "number") throw new RarError("policy.bad_scope", `'${raw}': a view of the file tree is an absolute guest path (${family}:${TREE_PREFIX}/notes)`, at);
      return `${family}:${TREE_PREFIX}${view}`;
    }
    const dir = resolve(ctx.base, scope);
    if (!existsSync(dir)) {
      if (forDeny) return `${family}:${dir}`;
      throw new RarError("policy.no_dir", `'${raw}': no such directory`, at);
    }
    if (!statSync(dir).isDirectory()) throw new RarError("policy.no_dir", `'${raw}': not a directory`, at);
    return `${family}:${realpathSync(dir)}`;
  }
  if (KEYED.has(family)) {
    if (scope === "") {
      if (forDeny) return family;
      // Never the whole environment: each variable is granted by name.
      throw new RarError("policy.needs_scope", `'env.get' needs a variable name: env.get:KEY`, at);
    }
    if (scope.length > ENV_KEY_MAX || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(scope))
      throw new RarError("policy.bad_scope", `'${raw}': an environment variable name is letters, digits and '_' (at most ${ENV_KEY_MAX})`, at);
    return `${family}:${scope}`;
  }
  if (ORIGINS.has(family)) {
    if (scope === "") {
      if (forDeny) return family;
      // Never the whole network: each origin is granted by name.
      throw new RarError("policy.needs_scope", `'${family}' needs an origin: ${family}:http://HOST:PORT`, at);
    }
    const origin = originOf(scope);
    if (origin instanceof Error) throw new RarError("policy.bad_scope", `'${raw.slice(0, 300)}': ${origin.message}`, at);
    return `${family}:${origin}`;
  }
  if (CLOCKLIKE.has(family) && scope !== "" && scope !== "real")
    throw new RarError("policy.bad_scope", `'${raw}': the only scope of ${family} is ':real'`, at);
  if (UNSCOPED.has(family) && scope !== "") throw new RarError("policy.bad_scope", `'${raw}': ${family} takes no scope`, at);
  return scope === "" ? family : `${family}:${scope}`;
}

function isWord(x: unknown): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= -0x80000000 && x <= 0xffffffff;
}

function mockValue(v: unknown, type: ValueType, at: string): CapValue {
  if (type === "int") {
    if (!isWord(v)) throw new RarError("policy.bad_mock", "an int result must be a 32-bit integer", at);
    return v | 0;
  }
  if (typeof v === "string") return textToCodePoints(v);
  if (Array.isArray(v) && v.length <= 1 << 20 && v.every(isWord)) return Int32Array.from(v as number[]);
  throw new RarError("policy.bad_mock", "an array result must be a string or an array of 32-bit integers", at);
}

function valueType(v: unknown, at: string): ValueType {
  if (v === "int" || v === "array") return v;
  throw new RarError("policy.bad_mock", `expected "int" or "array"`, at);
}

function parseMock(family: string, raw: unknown, ctx: Ctx): MockSpec {
  const at = `${ctx.where}: mock.${family}`;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new RarError("policy.bad_mock", 'a mock is an object {"results": [...]}', at);
  const m = raw as Record<string, unknown>;
  for (const k of Object.keys(m))
    if (k !== "results" && k !== "args" && k !== "result") throw new RarError("policy.bad_field", `unknown field '${k}'`, `${at}.${k}`);
  let sig = ctx.signature(family);
  if (m.args !== undefined || m.result !== undefined) {
    if (!Array.isArray(m.args)) throw new RarError("policy.bad_mock", 'give "args": ["int" | "array", ...] with "result"', `${at}.args`);
    const args = m.args.map((t, i) => valueType(t, `${at}.args[${i}]`));
    const custom: CapSignature = { args, result: valueType(m.result, `${at}.result`) };
    if (sig && (sig.result !== custom.result || sig.args.join() !== custom.args.join()))
      throw new RarError("policy.bad_mock", `signature differs from ${family}'s own`, at);
    sig = custom;
  }
  if (!sig) throw new RarError("policy.unknown_cap", `unknown capability '${family}': give its "args" and "result"`, at);
  const results = m.results;
  if (!Array.isArray(results) || results.length === 0 || results.length > MOCK_RESULTS_MAX)
    throw new RarError("policy.bad_mock", `"results" must be a non-empty list (at most ${MOCK_RESULTS_MAX})`, `${at}.results`);
  const type = sig.result;
  return { sig, results: results.map((v, i) => mockValue(v, type, `${at}.results[${i}]`)) };
}

interface Parsed {
  allow: string[];
  deny: string[];
  prompt: string[];
  mocks: Record<string, MockSpec>;
  seed?: number;
  kv?: string;
  mounts: Mount[];
}

function stringList(v: unknown, field: string, where: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new RarError("policy.bad_field", "must be a list of capability names", `${where}: ${field}`);
  return v;
}

/** Validates a parsed policy document; `where` names it in errors, `base` resolves its directories. */
export function parsePolicy(doc: unknown, where: string, base: string, custom: PolicySources["custom"] = {}): Parsed {
  const signature = (f: string): CapSignature | undefined => BUILTIN_SIGNATURES[f] ?? custom[f];
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new RarError("policy.bad_policy", "a policy is a JSON object", where);
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d))
    if (!["allow", "deny", "prompt", "mock", "seed", "kv", "mount", "$comment"].includes(k))
      throw new RarError("policy.bad_field", `unknown field '${k}' (allow, deny, prompt, mock, seed, kv, mount)`, `${where}: ${k}`);
  const mockSigs: Record<string, CapSignature> = {};
  const mocks: Record<string, MockSpec> = {};
  if (d.mock !== undefined) {
    if (typeof d.mock !== "object" || d.mock === null || Array.isArray(d.mock))
      throw new RarError("policy.bad_field", "must be an object mapping capability names to mocks", `${where}: mock`);
    for (const raw of Object.keys(d.mock).sort()) {
      if (!NAME.test(raw) || raw.includes(":")) throw new RarError("policy.bad_name", `'${raw}' is not an unscoped capability name`, `${where}: mock`);
      const family = capFamily(raw);
      const spec = parseMock(family, (d.mock as Record<string, unknown>)[raw], { where, base, signature });
      mocks[family] = spec;
      mockSigs[family] = spec.sig;
    }
  }
  const ctx: Ctx = { where, base, signature: (f) => signature(f) ?? mockSigs[f] };
  const allow = stringList(d.allow, "allow", where).flatMap((c, i) => expandGroup(c).map((x) => resolveName(x, `allow[${i}]`, ctx, false)));
  const deny = stringList(d.deny, "deny", where).flatMap((c, i) => expandGroup(c).map((x) => resolveName(x, `deny[${i}]`, ctx, true)));
  const mounts = stringList(d.mount, "mount", where).map((m, i) => parseMount(m, base, `${where}: mount[${i}]`));
  const prompt = stringList(d.prompt, "prompt", where).flatMap((c, i) => expandGroup(c).map((x) => promptName(x, `prompt[${i}]`, ctx)));
  let seed: number | undefined;
  if (d.seed !== undefined) {
    if (!isWord(d.seed)) throw new RarError("policy.bad_field", "seed must be a 32-bit integer", `${where}: seed`);
    seed = d.seed | 0;
  }
  let kv: string | undefined;
  if (d.kv !== undefined) {
    if (typeof d.kv !== "string" || d.kv === "") throw new RarError("policy.bad_field", "kv must be a file path", `${where}: kv`);
    kv = resolve(base, d.kv);
  }
  return { allow, deny, prompt, mocks, seed, kv, mounts };
}

/** Longest guest path a mount may be placed at. */
const MOUNT_PATH_MAX = 4096;

/** One `GUEST=HOST[:ro]` (HOST resolved against `base`): the host directory must exist. */
export function parseMount(raw: unknown, base: string, at: string): Mount {
  if (typeof raw !== "string") throw new RarError("policy.bad_mount", "a mount is a string GUEST=HOST[:ro]", at);
  const eq = raw.indexOf("=");
  if (eq < 0) throw new RarError("policy.bad_mount", `'${raw}' is not GUEST=HOST[:ro]`, at);
  const guestRaw = raw.slice(0, eq);
  let host = raw.slice(eq + 1);
  let readOnly = false;
  if (host.endsWith(":ro")) {
    readOnly = true;
    host = host.slice(0, -3);
  } else if (host.endsWith(":rw")) host = host.slice(0, -3);
  const guest = guestRaw.length <= MOUNT_PATH_MAX && guestRaw.startsWith("/") ? normalizePath(guestRaw) : -1;
  if (typeof guest === "number" || guest === "/")
    throw new RarError("policy.bad_mount", `'${guestRaw}': a mount point is an absolute guest path below / (like /data)`, at);
  if (host === "") throw new RarError("policy.bad_mount", `'${raw}': no host directory`, at);
  const dir = resolve(base, host);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new RarError("policy.no_dir", `'${host}': no such directory`, at);
  return { guest, host: realpathSync(dir), readOnly };
}

/** Mounts sorted by guest path; refuses the same point twice or one inside another. */
function checkMounts(mounts: Mount[], where: string): Mount[] {
  mounts.sort((a, b) => (a.guest < b.guest ? -1 : a.guest > b.guest ? 1 : 0));
  for (let i = 0; i < mounts.length; i++)
    for (let j = i + 1; j < mounts.length; j++)
      if (pathWithin(mounts[j].guest, mounts[i].guest))
        throw new RarError("policy.bad_mount", `mount points ${mounts[i].guest} and ${mounts[j].guest} overlap`, where);
  return mounts;
}

/** The grants a mount gives: every fs family, on its guest path. */
function mountGrants(m: Mount): string[] {
  return [...FS].sort().map((f) => `${f}:${TREE_PREFIX}${m.guest}`);
}

/** A capability a policy prompts for: resolved as a grant, of a family whose grants a call names exactly (prompt.ts). */
function promptName(raw: unknown, field: string, ctx: Ctx): string {
  const name = resolveName(raw, field, ctx, false);
  const spec = BUILTIN_SIGNATURES[capFamily(name)] as CapSpec | undefined;
  if (spec === undefined || !PROMPTABLE.has(spec.scope))
    throw new RarError(
      "policy.bad_prompt",
      `cannot prompt for '${name}': only built-in capabilities that are unscoped, :real, :KEY or :ORIGIN (a directory or prefix covers too much to ask once)`,
      field === "" ? ctx.where : `${ctx.where}: ${field}`,
    );
  return name;
}

/**
 * A prompt of a recorded (or API-given) policy, as promptName would have
 * written it: a prompt asks about the grant a call exercises (prompt.ts), so
 * one in another form (a scope the family does not take, an origin not in
 * canonical form) would never be asked and the call would run unasked. A host
 * handler's family is asked about unscoped.
 */
function recordedPrompt(name: string, where: string): string {
  const family = capFamily(name);
  if (BUILTIN_SIGNATURES[family] === undefined) {
    if (name !== family) throw new RarError("policy.bad_prompt", `cannot prompt for '${name}': a host capability is asked about unscoped ('${family}')`, where);
    return name;
  }
  const canonical = promptName(name, "", { where, base: "/", signature: (f) => BUILTIN_SIGNATURES[f] });
  if (canonical !== name) throw new RarError("policy.bad_prompt", `cannot prompt for '${name}': it is asked about as '${canonical}'`, where);
  return name;
}

/** A recorded (or API-given) policy's prompts, each checked by recordedPrompt; `where` names the policy. */
export function recordedPrompts(prompts: readonly string[], where: string): string[] {
  return prompts.map((p, i) => {
    if (!NAME.test(p)) throw new RarError("policy.bad_policy", "recorded capability names are invalid", where);
    return recordedPrompt(p, `${where}: prompts[${i}]`);
  });
}

/** Reads and validates a policy file. */
export function readPolicyFile(file: string, custom: PolicySources["custom"] = {}): Parsed {
  let text: string;
  try {
    text = readRegularFile(file, { max: TEXT_FILE_MAX }).toString("utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such policy file" : code === "EISDIR" || code === "ENOTREG" || code === "EFBIG" ? (e as Error).message : `cannot read (${code ?? (e as Error).message})`;
    throw new RarError("policy.read", why, file);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new RarError("policy.bad_json", `not valid JSON (${(e as Error).message})`, file);
  }
  return parsePolicy(doc, file, dirname(resolve(file)), custom);
}

/** Removes what `denials` name; refuses a denial that would have to carve a hole into a wider grant. */
function applyDenials(grants: string[], denials: readonly string[], where: string): string[] {
  let out = grants;
  for (const d of denials) {
    const family = capFamily(d);
    const scope = capScope(d);
    out = out.filter((g) => {
      if (capFamily(g) !== family) return true;
      const gs = capScope(g);
      if (scopeCovers(scope, gs)) return false;
      if (scopeCovers(gs, scope))
        throw new RarError("policy.carve", `cannot deny ${d} while granting ${g}: a grant cannot be cut into pieces; grant a narrower scope`, where);
      return true;
    });
  }
  return out;
}

/**
 * A Policy made elsewhere than loadPolicy (an API host's object) whose grants
 * one of its denials covers is refused: loadPolicy would have left the grant
 * out (denials win), so what the object says it grants would not hold.
 */
export function checkDenials(p: Policy, where: string): void {
  const kept = new Set(applyDenials([...p.grants], p.denials, where));
  const denied = p.grants.find((g) => !kept.has(g));
  if (denied !== undefined) throw new RarError("policy.denied", `'${denied}' is both granted and covered by a denial`, where);
}

/** Resolves flags and an optional file into the root's policy. */
export function loadPolicy(src: PolicySources = {}): Policy {
  const custom = src.custom ?? {};
  const file = src.file !== undefined ? readPolicyFile(src.file, custom) : null;
  const known = { ...custom, ...Object.fromEntries(Object.entries(file?.mocks ?? {}).map(([k, v]) => [k, v.sig])) };
  const signature = (f: string): CapSignature | undefined => BUILTIN_SIGNATURES[f] ?? known[f];
  const base = src.cwd ?? process.cwd();
  const flag = (list: readonly string[] | undefined, opt: string, forDeny: boolean): string[] =>
    (list ?? []).flatMap((raw) => expandGroup(raw).map((x) => resolveName(x, "", { where: `${opt} ${raw}`, base, signature }, forDeny)));
  const mounts = checkMounts([...(file?.mounts ?? []), ...(src.mounts ?? []).map((m) => parseMount(m, base, `--mount ${m}`))], src.file ?? "--mount");
  const flags = { allow: [...flag(src.defaults, "default grant", false), ...flag(src.allow, "--allow", false)], deny: flag(src.deny, "--deny", true) };
  const flagPrompts = (src.prompt ?? []).flatMap((raw) => expandGroup(raw).map((x) => promptName(x, "", { where: `--prompt ${raw}`, base, signature })));
  const denials = [...new Set([...(file?.deny ?? []), ...flags.deny])].sort();
  const mocks: Record<string, MockSpec> = {};
  for (const [family, spec] of Object.entries(file?.mocks ?? {}))
    if (!denials.some((d) => capFamily(d) === family && capScope(d) === "")) mocks[family] = spec;
  const allowed = [...(file?.allow ?? []), ...flags.allow, ...mounts.flatMap(mountGrants)].filter((g) => !(capFamily(g) in mocks));
  const grants = applyDenials([...new Set(allowed)], denials, src.file ?? "flags");
  // A prompt is for what is neither granted, denied nor mocked.
  const asked = [...new Set([...(file?.prompt ?? []), ...flagPrompts])].filter((p) => !(capFamily(p) in mocks) && !capCovers(grants, p));
  const prompts = applyDenials(asked, denials, src.file ?? "flags").sort();
  grants.push(...prompts);
  for (const family of Object.keys(mocks)) grants.push(family);
  return {
    grants: [...new Set(grants)].sort(),
    denials,
    ...(prompts.length > 0 ? { prompts } : {}),
    mocks,
    seed: file?.seed ?? 0,
    kv: file?.kv,
    ...(mounts.length > 0 ? { mounts } : {}),
  };
}

/**
 * Negotiation: every capability in the module's manifest must be granted
 * (some grant of its family) or mocked, except those the module declares
 * trap-only (it traps them for children and never calls them itself). Throws RarError("policy") naming the
 * first one missing, before anything runs.
 */
export function negotiate(module: ModuleDef, grants: readonly string[]): void {
  const held = new Set(grants.map(capFamily));
  const trapOnly = new Set(module.trapOnly ?? []);
  for (const need of module.caps) {
    if (trapOnly.has(need)) continue; // only trapped for children: answering is not exercising it
    const family = capFamily(need);
    if (!held.has(family))
      throw new RarError(
        "policy.not_granted",
        `capability ${family} is not granted (module ${module.name} needs it): pass --allow ${family}${FS.has(family) ? ":DIR" : KEYED.has(family) ? ":KEY" : ORIGINS.has(family) ? ":ORIGIN" : ""} or grant it in a policy`,
      );
  }
}

/**
 * Negotiation on resume (DESIGN §4, "Authority never travels"): the grants an
 * image's root holds (its descendants hold no more: the image verifier checks
 * that) are requests. Each must be covered by a grant of the resuming host, a
 * scoped one by a host grant whose scope contains it, and be offered by a
 * handler on this host; a family answered by a mock that travelled with the
 * image needs neither (a mock is data, not authority). Throws
 * RarError("policy") naming the first request that is not met, before
 * anything runs.
 */
export function negotiateImage(
  requested: readonly string[],
  host: readonly string[],
  offered: (family: string) => boolean,
  mocked: ReadonlySet<string>,
  where: string,
): void {
  for (const r of [...requested].sort()) {
    const family = capFamily(r);
    if (mocked.has(family)) continue;
    if (!capCovers(host, r)) {
      const scoped = capScope(r) !== "";
      throw new RarError(
        "policy.not_granted",
        `the image asks for ${r}, which this host does not grant: pass --allow ${!scoped ? r : capScope(r).startsWith(TREE_PREFIX) ? `${r} (or a wider view of the file tree)` : `${family}:DIR (a directory containing ${capScope(r)})`} or grant it in a policy`,
        where,
      );
    }
    if (!offered(family))
      throw new RarError("policy.not_offered", `the image asks for ${r}, which this host has no handler for`, where);
  }
}

/**
 * Gives the root `grants` and narrows every descendant to what its parent
 * now holds (the one walk RESTORE uses too: grants.ts inheritDown).
 */
export function applyGrants(root: Process, grants: readonly string[]): void {
  root.caps = [...new Set(grants)].sort();
  inheritDown(root);
}

/** The canonical JSON text of a policy (sorted keys, arrays as word lists): what its digest covers. */
export function policyToJson(p: Policy): string {
  const mocks: Record<string, unknown> = {};
  for (const family of Object.keys(p.mocks).sort()) {
    const m = p.mocks[family];
    mocks[family] = {
      args: [...m.sig.args],
      result: m.sig.result,
      results: m.results.map((r) => (typeof r === "number" ? r : Array.from(r))),
    };
  }
  const doc: Record<string, unknown> = { denials: [...p.denials], grants: [...p.grants], mocks, seed: p.seed };
  if (p.kv !== undefined) doc.kv = p.kv;
  // Mount points and modes only: the host directory behind each is the host's.
  if (p.mounts && p.mounts.length > 0) doc.mounts = p.mounts.map((m) => [m.guest, m.readOnly ? "ro" : "rw"]);
  // Only when there are some: the text (and digest) of a policy without prompts is as before they existed.
  if (p.prompts !== undefined && p.prompts.length > 0) doc.prompts = [...p.prompts];
  return JSON.stringify(doc);
}

/** Reads back policyToJson's text (from a trace; untrusted: validated). */
export function policyFromJson(text: string, where: string): Policy {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new RarError("policy.bad_json", "recorded policy is not valid JSON", where);
  }
  const d = doc as Record<string, unknown>;
  if (typeof d !== "object" || d === null || !Array.isArray(d.grants) || !Array.isArray(d.denials) || !isWord(d.seed))
    throw new RarError("policy.bad_policy", "recorded policy lacks grants, denials or seed", where);
  const strings = (xs: unknown[]): string[] => {
    if (!xs.every((x) => typeof x === "string" && NAME.test(x))) throw new RarError("policy.bad_policy", "recorded capability names are invalid", where);
    return xs as string[];
  };
  const mocks: Record<string, MockSpec> = {};
  const rawMocks = (d.mocks ?? {}) as Record<string, unknown>;
  if (typeof rawMocks !== "object" || rawMocks === null) throw new RarError("policy.bad_policy", "recorded mocks are invalid", where);
  for (const family of Object.keys(rawMocks).sort()) {
    const ctx: Ctx = { where, base: "/", signature: (f) => BUILTIN_SIGNATURES[f] };
    mocks[family] = parseMock(family, rawMocks[family], ctx);
  }
  if (d.kv !== undefined && typeof d.kv !== "string") throw new RarError("policy.bad_policy", "recorded kv path is invalid", where);
  if (d.prompts !== undefined && !Array.isArray(d.prompts)) throw new RarError("policy.bad_policy", "recorded prompts are invalid", where);
  const mounts: Mount[] = [];
  if (d.mounts !== undefined) {
    if (!Array.isArray(d.mounts) || d.mounts.length > 4096) throw new RarError("policy.bad_policy", "recorded mounts are invalid", where);
    for (const m of d.mounts) {
      const ok = Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && (m[1] === "ro" || m[1] === "rw");
      const guest = ok && m[0].length <= MOUNT_PATH_MAX && m[0].startsWith("/") ? normalizePath(m[0]) : -1;
      if (typeof guest === "number" || guest !== m[0] || guest === "/") throw new RarError("policy.bad_policy", "recorded mounts are invalid", where);
      mounts.push({ guest, host: "", readOnly: m[1] === "ro" });
    }
    checkMounts(mounts, where);
  }
  const prompts = d.prompts === undefined ? undefined : recordedPrompts(strings(d.prompts as unknown[]), where);
  return {
    ...(mounts.length > 0 ? { mounts } : {}),
    grants: strings(d.grants),
    denials: strings(d.denials),
    ...(prompts !== undefined ? { prompts } : {}),
    mocks,
    seed: (d.seed as number) | 0,
    kv: d.kv as string | undefined,
  };
}

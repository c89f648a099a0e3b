// Test helper for the process tree's file tree (caps/filetree.ts, process/files.ts):
// filesystem operations as data, run either by a guest (an Ent program calling
// fs.* with absolute paths, through the real dispatcher) or on a real host
// directory with node:fs, with results in one comparable form.

import { closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, renameSync, rmdirSync, statSync, symlinkSync, truncateSync, unlinkSync, writeFileSync, writeSync, type Stats } from "node:fs";
import { constants as osConstants } from "node:os";
import { compileSource } from "../../lang/ent/compile.js";
import { loadPolicy, type Policy } from "../../src/caps/policy.js";
import { Session, type RunResult, type SessionOptions } from "../../src/session.js";
import { verify } from "../../src/vm/verify.js";

export type Op =
  | { k: "mkdir" | "read" | "remove" | "readdir" | "info" | "lstat" | "exists" | "readlink" | "stat"; p: string }
  | { k: "write"; p: string; data: number[] }
  | { k: "write_at"; p: string; off: number; data: number[] }
  | { k: "truncate"; p: string; n: number }
  | { k: "rename"; p: string; to: string }
  | { k: "symlink"; p: string; target: string };

/** A comparable result: an int, or an array result as a list (bytes, [kind, size], text lines, or [code]). */
export type Res = number | (number | string)[] | string;

/** The families a program of these ops uses. */
export const FS_CAPS = ["fs.mkdir", "fs.read", "fs.remove", "fs.readdir", "fs.info", "fs.lstat", "fs.exists", "fs.readlink", "fs.stat", "fs.write", "fs.write_at", "fs.truncate", "fs.rename", "fs.symlink"];

const ARRAY_OPS = new Set(["read", "readdir", "info", "lstat", "readlink"]);

function lit(s: string): string {
  return JSON.stringify(s);
}

function bytesLit(b: number[]): string {
  return `[${b.join(", ")}]`;
}

/** The Ent expression of one op. */
export function entCall(op: Op): string {
  switch (op.k) {
    case "write":
      return `fs.write(${lit(op.p)}, ${bytesLit(op.data)})`;
    case "write_at":
      return `fs.write_at(${lit(op.p)}, ${op.off}, ${bytesLit(op.data)})`;
    case "truncate":
      return `fs.truncate(${lit(op.p)}, ${op.n})`;
    case "rename":
      return `fs.rename(${lit(op.p)}, ${lit(op.to)})`;
    case "symlink":
      return `fs.symlink(${lit(op.p)}, ${lit(op.target)})`;
    default:
      return `fs.${op.k}(${lit(op.p)})`;
  }
}

/** An Ent program printing each op's result on its own line. */
export function entProgram(ops: readonly Op[], caps: readonly string[] = FS_CAPS): string {
  return `${caps.map((c) => `cap ${c};`).join("\n")}\nfn main() {\n${ops.map((o) => `  print(${entCall(o)});`).join("\n")}\n  return 0;\n}\n`;
}

/** A policy granting every fs family on the whole tree (and io.print), with optional mounts. */
export function treePolicy(allow: readonly string[] = ["fs.*:tree:/"], mounts: readonly string[] = []): Policy {
  return loadPolicy({ allow: ["io.print", ...allow], mounts, cwd: "/" });
}

export interface GuestRun {
  session: Session;
  result: RunResult;
  lines: string[];
}

/** Starts (without running) a session on an Ent source. */
export function startEnt(source: string, opts: SessionOptions, sink: { out: string }): Session {
  const module = verify(compileSource(source).modules[0]);
  return Session.start(module, { ...opts, stdout: (t) => void (sink.out += t) });
}

/** Runs an Ent source to its end; its printed lines. */
export function runEnt(source: string, opts: SessionOptions = {}): GuestRun {
  const sink = { out: "" };
  const session = startEnt(source, { policy: treePolicy(), ...opts }, sink);
  const result = session.run();
  return { session, result, lines: sink.out.split("\n").filter((l) => l !== "") };
}

function textOf(words: number[]): string {
  return String.fromCodePoint(...words);
}

/** A guest's printed result of `op` in comparable form (texts decoded, info's mode dropped). */
export function guestRes(op: Op, line: string): Res {
  const v = JSON.parse(line) as number | number[];
  if (typeof v === "number") return v;
  if (v.length === 1 && v[0] < 0) return v;
  if (op.k === "readdir" || op.k === "readlink") return textOf(v);
  if (op.k === "info" || op.k === "lstat") return [v[0], v[1]];
  return v;
}

/** Runs ops as one guest program; their comparable results. */
export function guestResults(ops: readonly Op[], opts: SessionOptions = {}): Res[] {
  const r = runEnt(entProgram(ops), opts);
  if (r.result.status !== "done") throw new Error(`guest ended ${r.result.status} ${r.result.fault ?? ""}`);
  return ops.map((op, i) => guestRes(op, r.lines[i]));
}

function errCode(e: unknown): number {
  const c = (e as NodeJS.ErrnoException).code ?? "";
  const n = (osConstants.errno as Record<string, number>)[c];
  if (n === undefined) throw e;
  return -n;
}

function kindOf(st: Stats): number {
  return st.isFile() ? 1 : st.isDirectory() ? 2 : st.isSymbolicLink() ? 3 : 4;
}

/** The same op on a real directory `root` (guest "/x" is root + "/x"); absolute link targets are placed under root too. */
export function realRes(root: string, op: Op): Res {
  const P = (p: string): string => root + p;
  const fail = (code: number): Res => (ARRAY_OPS.has(op.k) ? [code] : code);
  try {
    switch (op.k) {
      case "mkdir": {
        // mkdir -p as POSIX has it (node's recursive mkdir says ENOENT for a dangling link).
        const parts = op.p.split("/").filter((s) => s !== "");
        for (let i = 1; i <= parts.length; i++) {
          const at = P("/" + parts.slice(0, i).join("/"));
          try {
            mkdirSync(at);
          } catch (e) {
            if (errCode(e) !== -17) throw e;
            let dir = false;
            try {
              dir = statSync(at).isDirectory();
            } catch (e2) {
              // A link that leads nowhere: mkdir(2) says EEXIST for it, and why (ENOENT, ELOOP) under it.
              return i === parts.length ? -17 : errCode(e2);
            }
            if (!dir) return i === parts.length ? -17 : -20;
          }
        }
        return 0;
      }
      case "write":
        writeFileSync(P(op.p), Uint8Array.from(op.data));
        return op.data.length;
      case "write_at": {
        const fd = openSync(P(op.p), constants.O_WRONLY | constants.O_CREAT, 0o644);
        try {
          writeSync(fd, Uint8Array.from(op.data), 0, op.data.length, op.off);
        } finally {
          closeSync(fd);
        }
        return op.data.length;
      }
      case "truncate":
        truncateSync(P(op.p), op.n);
        return 0;
      case "read":
        return [...readFileSync(P(op.p))];
      case "remove":
        if (lstatSync(P(op.p)).isDirectory()) rmdirSync(P(op.p));
        else unlinkSync(P(op.p));
        return 0;
      case "rename":
        renameSync(P(op.p), P(op.to));
        return 0;
      case "symlink":
        symlinkSync(op.target.startsWith("/") ? root + op.target : op.target, P(op.p));
        return 0;
      case "readdir": {
        const ents = readdirSync(P(op.p), { withFileTypes: true });
        const lines = ents.map((d) => [d.isFile() ? "f" : d.isDirectory() ? "d" : d.isSymbolicLink() ? "l" : "o", d.name] as const);
        lines.sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
        return lines.map(([k, n]) => `${k} ${n}`).join("\n");
      }
      case "info":
      case "lstat": {
        const st = (op.k === "info" ? statSync : lstatSync)(P(op.p));
        const kind = kindOf(st);
        const size = kind === 1 ? st.size : kind === 2 ? 0 : readlinkSync(P(op.p)).replace(root, "").length;
        return [kind, size];
      }
      case "exists":
        return existsSync(P(op.p)) ? 1 : 0;
      case "readlink": {
        const t = readlinkSync(P(op.p));
        return t.startsWith(root + "/") ? t.slice(root.length) : t;
      }
      case "stat": {
        let st: Stats;
        try {
          st = statSync(P(op.p));
        } catch (e) {
          const c = errCode(e);
          return c === -2 || c === -20 ? -1 : c;
        }
        return st.isDirectory() ? -2 : st.isFile() ? st.size : -3;
      }
    }
  } catch (e) {
    return fail(errCode(e));
  }
}

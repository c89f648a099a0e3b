// The process tree's file tree (issue 14): a guest writing files through
// fs.write on absolute paths and reading them back through fs.read (the
// dispatcher, process/files.ts, caps/filetree.ts), in MB of file bytes per
// second, beside the same writes alone; and the image of a process holding
// 10 MB of files, in bytes per file byte (the files part is the bytes
// themselves plus a few per entry).

import { compileSource } from "../lang/ent/compile.js";
import { loadPolicy } from "../src/caps/policy.js";
import { Session } from "../src/index.js";
import { verify } from "../src/vm/verify.js";
import { BENCH_GAS, BENCH_MEM, type BenchContext, type BenchGroup, type GroupResult, fmt, median, rounds } from "./harness.js";

/**
 * main([chunk, count, readBack]): writes `count` files of `chunk` bytes
 * (/d/00000, /d/00001, ...), then reads each back when readBack is 1;
 * returns the bytes read (or written).
 */
const FILES_ENT = `
cap fs.write;
cap fs.read;
cap fs.mkdir;

// Writes f's five digits into the path /d/NNNNN.
fn name(p, f) {
  let x = f;
  let k = 7;
  while k > 2 {
    p[k] = 48 + x % 10;
    x = x / 10;
    k = k - 1;
  }
}

fn main(args) {
  let chunk = args[0];
  let count = args[1];
  fs.mkdir("/d");
  let buf = array(chunk);
  let i = 0;
  while i < chunk {
    buf[i] = (i * 7 + 3) % 256;
    i = i + 1;
  }
  let p = copy("/d/00000");
  let f = 0;
  let total = 0;
  while f < count {
    name(p, f);
    buf[0] = f % 256;
    total = total + fs.write(p, buf);
    f = f + 1;
  }
  if args[2] == 1 {
    total = 0;
    f = 0;
    while f < count {
      name(p, f);
      let b = fs.read(p);
      if b[0] != f % 256 {
        return -1;
      }
      total = total + len(b);
      f = f + 1;
    }
  }
  return total;
}
`;

const MB = 1 << 20;
const quiet = (): void => {};

export function runVfs(ctx: BenchContext): GroupResult {
  const module = verify(compileSource(FILES_ENT, "bench/vfs.ent").modules[0]);
  const policy = loadPolicy({ allow: ["fs.*:tree:/"], cwd: "/" });
  const run = (chunk: number, count: number, readBack: number): Session => {
    const s = Session.start(module, { gas: BENCH_GAS, mem: BENCH_MEM, policy, args: [chunk, count, readBack], stdout: quiet });
    const r = s.run();
    if (r.status !== "done" || r.value !== chunk * count) throw new Error(`bench vfs: ended ${r.status} ${r.fault ?? r.value}`);
    return s;
  };

  ctx.progress("vfs: write and read back through the file tree");
  const chunk = 64 * 1024;
  const count = Math.max(2, Math.round((8 * MB * ctx.scale) / chunk));
  const moved = chunk * count;
  // Side by side: writing alone (the guest's memory stays one buffer) and writing then reading back
  // (each fs.read result is a fresh array in the guest's memory, which grows by the bytes read).
  const r = rounds({ rw: () => run(chunk, count, 1).root.memUsed, w: () => run(chunk, count, 0).root.memUsed }, { reps: ctx.reps, warmup: 1 });
  const mbPerS = moved / MB / (median(r.rw) / 1000);
  const writeMbPerS = moved / MB / (median(r.w) / 1000);

  ctx.progress("vfs: image of a process holding 10 MB of files");
  const held = 10 * MB;
  const small = 4096;
  const s = run(small, held / small, 0);
  const image = s.snapshot().length;
  const ratio = image / held;

  return {
    metrics: { vfs_write_read_mb_per_s: mbPerS, vfs_write_mb_per_s: writeMbPerS, vfs_image_bytes_vs_files: ratio },
    rows: [
      {
        label: "vfs_write_read_mb_per_s",
        value: fmt(mbPerS),
        note: `${fmt(moved / MB)} MB of file bytes written (fs.write, ${fmt(count)} files of ${fmt(chunk)} bytes) then read back (fs.read), per second of the whole run`,
      },
      { label: "vfs_write_mb_per_s", value: fmt(writeMbPerS), note: "the same writes alone, per second" },
      {
        label: "vfs_image_bytes_vs_files",
        value: fmt(ratio, 5),
        note: `${fmt(image)} image bytes for a process holding ${fmt(held)} bytes in ${fmt(held / small)} files (target <= 1.05)`,
      },
    ],
  };
}

export const vfsGroup: BenchGroup = { name: "vfs", title: "File tree (guest files)", run: runVfs };

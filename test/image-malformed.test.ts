// Loading an image is loading untrusted input (DESIGN §6): every malformed
// image is a RarError("image") naming what and where — never a crash, a hang
// or a large allocation. Fixed seeds here; `npm run fuzz:images` runs the same
// generators with larger counts.

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2";
import { describe, expect, it } from "vitest";
import { decodeImage } from "../src/image/decode.js";
import { hex, sha256, sha256Chunks, sha256Hex } from "../src/vm/sha256.js";
import { bytesToHex } from "@noble/hashes/utils";
import { F, type WireValue } from "../src/image/format.js";
import { RarError } from "../src/vm/errors.js";
import { moduleFromWire } from "../src/vm/module.js";
import { verify } from "../src/vm/verify.js";
import {
  Rng,
  bodyOf,
  byteMutations,
  check,
  fieldMutations,
  hugeLengths,
  nestingBomb,
  randomInputs,
  sealValue,
  smallImage,
  truncations,
  unpackBody,
  validImages,
} from "./image-fuzz.js";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

/** The TypeScript loader, by absolute URL so the CLI runs from any directory (no build needed). */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

const SEED = 0x5eed1;

/** The RarError decoding throws (fails the test if it decodes). */
function rejection(bytes: Uint8Array, opts: Parameters<typeof decodeImage>[1] = {}): RarError {
  try {
    decodeImage(bytes, opts);
  } catch (e) {
    if (e instanceof RarError) return e;
    throw e;
  }
  throw new Error("decoded a malformed image");
}

/** The nested image (root waiting on 0.1 waiting on 0.1.1) as body values, and a way to seal a mutation of it. */
function nested(): { body: WireValue[]; tree: WireValue[][]; seal: () => Uint8Array } {
  const body = unpackBody(validImages()[2]);
  const tree = body[4] as WireValue[][];
  return { body, tree, seal: () => sealValue(body) };
}

describe("malformed images are rejected with a structured error", () => {
  it("the valid images used as seeds decode", () => {
    for (const img of validImages()) expect(check(img)).toBe("ok");
  });

  it("every truncation of a valid image", () => {
    for (const img of validImages().slice(0, 3))
      for (const t of truncations(img)) expect(rejection(t).phase).toBe("image");
  });

  it("every single-byte mutation of a small image (the content digest catches them)", () => {
    const img = smallImage();
    for (const m of byteMutations(img, new Rng(SEED), false)) expect(rejection(m).phase).toBe("image");
  });

  it("every single-byte mutation of a small image's body with a fresh digest: rejected, or a state that runs safely", () => {
    const img = smallImage();
    let rejected = 0;
    for (const m of byteMutations(img, new Rng(SEED), true)) if (check(m) === "rejected") rejected++;
    // Not every byte can be refused: the start event lists the names of the host's capabilities, which any
    // name may be (a mutated letter is another name). The rest is checked.
    const lenient = hostCapsBytes(img);
    expect(rejected).toBeGreaterThan((img.length - 46 - lenient) / 2);
  });

  it("every field of every process set to awkward values: rejected, or a state that runs safely", () => {
    let n = 0;
    for (const m of fieldMutations(validImages()[2], new Rng(SEED))) {
      check(m);
      n++;
    }
    expect(n).toBeGreaterThan(1000);
  });

  it("random bytes, bare, behind a valid header, and sealed as a body", () => {
    const header = smallImage();
    for (const r of randomInputs(new Rng(SEED), 400, header)) expect(check(r)).toBe("rejected");
  });

  it("msgpack declaring huge lengths is rejected before anything is allocated", () => {
    for (const b of hugeLengths()) expect(rejection(b).kind).toMatch(/truncated|shape/);
  });

  it("a nesting bomb is rejected without deep host recursion", () => {
    const e = rejection(nestingBomb(1_000_000));
    expect(e.kind).toBe("nesting");
  });

  it("the content digest is SHA-256 of the body, the same as @noble/hashes computes", () => {
    const img = smallImage();
    const body = bodyOf(img);
    expect(sha256(body)).toEqual(nobleSha256(body));
    expect(img.subarray(HEADER_DIGEST_AT, HEADER_DIGEST_AT + 32)).toEqual(nobleSha256(body));
  });

  it("hex and sha256Hex give what @noble/hashes gives, for views at any offset", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(8), (bytes, cut) => {
        const view = bytes.subarray(Math.min(cut, bytes.length));
        expect(hex(view)).toBe(bytesToHex(view));
        expect(sha256Hex(view)).toBe(bytesToHex(nobleSha256(view)));
      }),
      { numRuns: 300 },
    );
  });

  it("sha256Chunks is SHA-256 of the chunks' concatenation, short (one-shot over a scratch copy) or long, as fresh bytes", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 4 }), (chunks) => {
        const whole = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
        let at = 0;
        for (const c of chunks) (whole.set(c, at), (at += c.length));
        const a = sha256Chunks(chunks);
        expect(a).toEqual(nobleSha256(whole));
        // A fresh array each time: the scratch copy is never handed out.
        const b = sha256Chunks(chunks);
        a.fill(0);
        expect(b).toEqual(nobleSha256(whole));
      }),
      { numRuns: 200 },
    );
  });
});

const HEADER_DIGEST_AT = 1 + 5 + 1 + 2;

describe("inconsistent states name the process and the field", () => {
  const expectError = (mutate: (n: ReturnType<typeof nested>) => void, kind: string, where: RegExp): void => {
    const n = nested();
    mutate(n);
    const e = rejection(n.seal());
    expect(e.kind).toBe(kind);
    expect(e.message).toMatch(where);
  };

  it("a footprint that does not add up (child memUsed + 1)", () => {
    expectError((n) => void (n.tree[2][F.memUsed] = (n.tree[2][F.memUsed] as number) + 1), "budget", /process 0\.1\.1 memUsed/);
  });

  it("gas used beyond the limit", () => {
    expectError((n) => void (n.tree[1][F.gasLimit] = (n.tree[1][F.gasUsed] as number) - 1), "budget", /process 0\.1\.1 gasUsed|process 0\.1 gasUsed/);
  });

  it("memory used beyond the limit by a started process", () => {
    expectError((n) => void (n.tree[0][F.memLimit] = 10), "budget", /process 0 memUsed/);
  });

  it("a stack one word too high", () => {
    expectError(
      (n) => void (n.tree[1][F.stack] = Uint8Array.from([...(n.tree[1][F.stack] as Uint8Array), 0, 0, 0, 0])),
      "stack",
      /process 0\.1 stack/,
    );
  });

  it("a pc inside an instruction", () => {
    expectError((n) => void (n.tree[2][F.pc] = (n.tree[2][F.pc] as number) + 1), "pc", /process 0\.1\.1 pc/);
  });

  it("waiting on a child that does not exist", () => {
    expectError((n) => void (n.tree[0][F.waiting] = 5), "status", /process 0 waiting/);
  });

  it("a frame whose return pc does not follow a CALL", () => {
    expectError(
      (n) => {
        const fr = Uint8Array.from(n.tree[0][F.frames] as Uint8Array);
        new DataView(fr.buffer).setInt32(0, 5, true);
        n.tree[0][F.frames] = fr;
      },
      "frames",
      /process 0 frames/,
    );
  });

  it("a fault kind that does not exist", () => {
    expectError(
      (n) => {
        n.tree[2][F.status] = 2;
        n.tree[2][F.faultKind] = "meltdown";
      },
      "status",
      /process 0\.1\.1 faultKind/,
    );
  });

  it("cap_call without its request", () => {
    expectError((n) => void (n.tree[2][F.status] = 6), "status", /process 0\.1\.1 request/);
  });

  it("a ready child its parent does not wait on", () => {
    expectError((n) => void (n.tree[1][F.waiting] = 0), "status", /process 0\.1 waiting|process 0\.1\.1 status/);
  });

  it("a child holding a capability its parent does not", () => {
    expectError((n) => void (n.tree[1][F.caps] = ["io.print", "kv.get"]), "caps", /process 0\.1 caps/);
  });

  it("a handle that was never given out", () => {
    expectError((n) => void (n.tree[1][F.handle] = 9), "handle", /process 0\.9 handle/);
  });

  it("more children declared than the image holds", () => {
    expectError((n) => void (n.tree[2][F.children] = 1), "shape", /children/);
  });

  it("a module no process uses", () => {
    const n = nested();
    const mods = n.body[3] as WireValue[];
    const extra = unpackBody(smallImage())[3] as WireValue[];
    const all = [...mods, ...extra].sort((a, b) => (digestOf(a) < digestOf(b) ? -1 : 1));
    const origin = (n.body[2] as WireValue[])[1] as WireValue[][];
    for (const rec of [...n.tree, ...origin]) rec[F.module] = all.indexOf(mods[rec[F.module] as number]);
    n.body[3] = all;
    expect(rejection(n.seal()).message).toMatch(/no process uses|sorted/);
  });

  it("an initial state that does not match its digest", () => {
    const n = nested();
    const origin = n.body[2] as WireValue[];
    const d = Uint8Array.from(origin[0] as Uint8Array);
    d[0] ^= 1;
    n.body[2] = [d, origin[1]];
    expect(rejection(n.seal()).kind).toBe("origin");
  });

  it("a tree deeper than the runtime allows", () => {
    expect(rejection(validImages()[2], { maxDepth: 1 }).kind).toBe("depth");
  });

  it("a memory larger than the runtime allows", () => {
    expect(rejection(validImages()[2], { memMax: 2 }).kind).toBe("memory");
  });

  it("another format version, and another magic", () => {
    const v = Uint8Array.from(smallImage());
    v[6] = 99;
    expect(rejection(v).kind).toBe("version");
    const m = Uint8Array.from(smallImage());
    m[2] = 0x52;
    expect(rejection(m).kind).toBe("magic");
  });
});

function digestOf(v: WireValue): string {
  return verify(moduleFromWire(v)).digest;
}

describe("the CLI on a bad image", () => {
  const dir = mkdtempSync(join(tmpdir(), "rar-bad-image-"));
  const cli = (...args: string[]): { status: number | null; stderr: string; stdout: string } => {
    const r = spawnSync(process.execPath, ["--import", TSX, join(process.cwd(), "src/cli/main.ts"), ...args], {
      cwd: process.cwd(),
      encoding: "utf8",
    });
    return { status: r.status, stderr: r.stderr, stdout: r.stdout };
  };

  it("exits 2 with one line and no stack trace, for inspect, resume and run", () => {
    const img = smallImage();
    const cases: [string, Uint8Array][] = [
      ["truncated.rimg", img.subarray(0, img.length - 7)],
      ["flipped.rimg", Uint8Array.from(img, (b, i) => (i === 100 ? b ^ 4 : b))],
      ["random.rimg", new Rng(SEED).bytes(200)],
      ["budget.rimg", (() => {
        const n = nested();
        n.tree[0][F.memUsed] = 1;
        return n.seal();
      })()],
    ];
    for (const [i, [name, bytes]] of cases.entries()) {
      const file = join(dir, name);
      writeFileSync(file, bytes);
      const commands = i === 0 ? [["inspect", file], ["resume", file], ["run", file]] : [["inspect", file]];
      for (const cmd of commands) {
        const r = cli(...cmd);
        expect(r.status).toBe(2);
        const lines = r.stderr.trim().split("\n");
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^rar: error: .*\.rimg/);
        expect(r.stderr).not.toMatch(/\n\s+at /);
        expect(r.stdout).toBe("");
      }
    }
  });
});

/** Bytes of the capability names and signature letters the start event of an image lists for its host. */
function hostCapsBytes(img: Uint8Array): number {
  const start = decodeImage(img).meta.trace.events[0];
  let n = 0;
  // [base, ...rows] or [...rows] (a base table is named by its number: trace/events.ts HOST_BASES).
  for (const h of (start?.[6] ?? []) as (number | WireValue[])[]) if (Array.isArray(h)) for (const x of h) if (typeof x === "string") n += x.length;
  return n;
}

// Golden images (images/*.rimg, made by scripts/make-golden.ts from
// images/*.rasm): the format must not drift. Decoding and re-encoding gives
// the same bytes, and resuming gives the result each program documents. A
// change that breaks these must be deliberate: bump IMAGE_VERSION and
// regenerate.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeImage } from "../src/image/decode.js";
import { encodeImage } from "../src/image/encode.js";
import { IMAGE_VERSION, RUNTIME_VERSION } from "../src/image/format.js";
import { inspectImage } from "../src/image/inspect.js";
import { Session } from "../src/session.js";

const golden = (name: string): Uint8Array => new Uint8Array(readFileSync(join(process.cwd(), "images", `${name}.rimg`)));

function resume(name: string): { status: string; value?: number; out: string } {
  let out = "";
  const s = Session.fromImage(golden(name), { stdout: (t) => void (out += t) });
  s.refuel(1_000_000);
  const r = s.run();
  return { status: r.status, value: r.value, out };
}

describe("golden images", () => {
  for (const name of ["loop", "nested", "faulted"]) {
    it(`${name}.rimg decodes and re-encodes to the same bytes`, () => {
      const bytes = golden(name);
      const img = decodeImage(bytes);
      expect(Buffer.compare(encodeImage(img.root, img.meta, () => undefined), bytes)).toBe(0);
    });
  }

  it("images name the runtime that wrote them: the package's version", () => {
    const pkg = JSON.parse(readFileSync(join(process.cwd(), "package.json"), "utf8")) as { version: string };
    expect(RUNTIME_VERSION).toBe(`rar ${pkg.version}`);
  });

  it("are in the current format version", () => {
    for (const name of ["loop", "nested", "faulted"]) expect(golden(name)[6]).toBe(IMAGE_VERSION);
  });

  it("loop.rimg: suspended mid-loop; resumed, it returns sum(1..200) = 20100", () => {
    const report = inspectImage(decodeImage(golden("loop")));
    expect(report.processes).toHaveLength(1);
    expect(report.processes[0]).toMatchObject({ status: "out_of_gas", function: "main", gasUsed: 500, gasLimit: 500 });
    expect(report.processes[0].source).toMatch(/^images\/loop\.rasm:(8|9|1[0-4]):/);
    expect(resume("loop")).toEqual({ status: "done", value: 20100, out: "" });
  });

  it("nested.rimg: three deep with a frozen grandchild; resumed, the grandchild finishes first and main prints ok", () => {
    const report = inspectImage(decodeImage(golden("nested")));
    expect(report.processes.map((p) => [p.depth, p.status, p.function, p.waiting])).toEqual([
      [0, "out_of_gas", "main", 1],
      [1, "ready", "middle", 1],
      [2, "ready", "inner", 0],
    ]);
    expect(resume("nested")).toEqual({ status: "done", value: 50510, out: "ok\n" });
  });

  it("faulted.rimg: a faulted child kept for forensics; resumed, main returns 1000 * fault status + 1275", () => {
    const img = decodeImage(golden("faulted"));
    const c = img.root.children.get(1);
    expect(c?.statusName).toBe("fault");
    expect(c?.faultKind).toBe("div_by_zero");
    expect(resume("faulted")).toEqual({ status: "done", value: 3275, out: "" });
  });
});

// One leg of a cluster job, without Redis (src/cluster/leg.ts, store.ts):
// progress whatever the quantum, refusal by the worker's policy, and images
// cut around their modules and joined back byte for byte.

import { describe, expect, it } from "vitest";
import { compileSource } from "../lang/ent/compile.js";
import { loadPolicy } from "../src/caps/policy.js";
import { runLeg } from "../src/cluster/leg.js";
import { splitImage } from "../src/cluster/store.js";
import { Session } from "../src/session.js";
import { verify } from "../src/vm/verify.js";

const ioOnly = loadPolicy({ defaults: ["io.print"] });

function initial(source: string, opts: { mem?: number; caps?: string[] } = {}): Uint8Array {
  const module = verify(compileSource(source).modules[0]);
  const policy = loadPolicy({ defaults: opts.caps ?? ["io.print"] });
  return Session.start(module, { gas: 0, mem: opts.mem, policy, stdout: () => {} }).snapshot();
}

describe("a leg", () => {
  it("progresses when the next instruction needs more gas than the quantum (a bulk allocation)", async () => {
    let image = initial("fn main() { let a = array(100000); a[5] = 7; return a[5]; }", { mem: 200_000 });
    const used: number[] = [];
    for (let leg = 0; leg < 10; leg++) {
      const out = await runLeg(image, { policy: ioOnly, quantum: 100, gasCap: 10_000_000, worker: "w", where: "job" });
      if (out.kind !== "ran") throw new Error(out.reason);
      used.push(out.result.gasUsed);
      image = out.image;
      if (out.state !== "queued") {
        expect(out.state).toBe("done");
        expect(out.result.value).toBe(7);
        return;
      }
    }
    throw new Error(`no end after 10 legs: gas used ${used.join(", ")}`);
  });

  it("is refused, before anything runs, when the worker's policy does not cover the image's grants", async () => {
    const image = initial("cap clock.now;\nfn main() { return clock.now(); }", { caps: ["io.print", "clock.now"] });
    const out = await runLeg(image, { policy: ioOnly, quantum: 1000, gasCap: 1000, worker: "w", where: "job j1" });
    expect(out.kind).toBe("refused");
    expect(out.kind === "refused" && out.reason).toContain("clock.now");
  });

  it("stops a spent job as suspended, with the gas cap in its reason", async () => {
    const image = initial("fn main() { let i = 0; while 1 { i = i + 1; } return i; }");
    const out = await runLeg(image, { policy: ioOnly, quantum: 5000, gasCap: 5000, worker: "w", where: "job" });
    expect(out.kind === "ran" && [out.state, out.reason.includes("5000")]).toEqual(["suspended", true]);
  });
});

describe("an image cut around its modules", () => {
  it("joins back to the very same bytes, modules named by their sha256", () => {
    for (const source of ["fn main() { return 1; }", "fn f(x) { return x * 2; }\nfn main() { print(\"x\", f(21)); return f(2); }"]) {
      const image = initial(source);
      const s = splitImage(image);
      expect(s.modules.length).toBe(1);
      expect(s.modules[0]).toMatch(/^[0-9a-f]{64}$/);
      expect(Buffer.concat([s.head, ...s.moduleBytes, s.tail]).equals(Buffer.from(image))).toBe(true);
    }
  });
});

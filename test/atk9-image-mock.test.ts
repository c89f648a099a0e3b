// An image brings no authority (DESIGN §4, CLI.md "Authority"): a mock that
// travelled in an image's recorded policy is data, so negotiation lets the
// family it answers through without a host grant. But when the resuming host
// registers its own handler for that family, the handler (not the mock)
// answers: the image then exercises the host's authority that the host never
// granted.
//
// KNOWN DEFECT, not fixed here (the fix belongs in src/session.ts, which this
// helper may not touch): Session.fromImage passes
//   new Set(Object.keys(data?.mocks ?? {}))
// to negotiateImage as the families a travelled mock answers; it must leave
// out the families the host's own handlers take over (fill() registers them
// over the mocks):
//   new Set(Object.keys(data?.mocks ?? {}).filter((f) => !(handlers !== undefined && Object.hasOwn(handlers, f))))
// Then the request is negotiated like any other (policy.not_granted when the
// host does not grant it). The tests below are `it.fails` until then: each
// states what must hold, and fails today.

import { describe, expect, it } from "vitest";
import { Session, compileSource, loadPolicy, verify, RarError, type CapHandler } from "../src/index.js";

const SRC = `cap geo.lookup([int]) -> int;\nfn main() { let x = geo.lookup("a"); print(x); return x; }\n`;

/** An image, not yet run, of a root that holds geo.lookup because its policy mocked it (the mock travels). */
function imageWithMock(): Uint8Array {
  const module = verify(compileSource(SRC, "g.ent").modules[0]);
  const policy = { ...loadPolicy({ defaults: ["io.print"] }), mocks: { "geo.lookup": { sig: { args: ["array"], result: "int" }, results: [7] } } } as const;
  const withGrant = { ...policy, grants: [...policy.grants, "geo.lookup"].sort() };
  return Session.start(module, { policy: withGrant, gas: 0, stdout: () => {} }).snapshot();
}

describe("a mock in an image and a host handler of the same family", () => {
  it("the image restores and its mock answers where the host has no handler of that family (held)", () => {
    const s = Session.fromImage(imageWithMock(), { caps: ["io.print"], stdout: () => {} });
    s.refuel(100_000);
    expect(s.run()).toMatchObject({ status: "done", value: 7 });
  });

  it.fails("the host's own handler never runs for an image whose root the host did not grant it (today: it runs and answers 999)", () => {
    let called = 0;
    const geo: CapHandler = { sig: { args: ["array"], result: "int" }, call: () => (called++, 999) };
    let refused: unknown = null;
    try {
      const s = Session.fromImage(imageWithMock(), { caps: ["io.print"], handlers: { "geo.lookup": geo }, stdout: () => {} });
      s.refuel(100_000);
      s.run();
    } catch (e) {
      refused = e;
    }
    expect(called).toBe(0);
    expect(refused).toBeInstanceOf(RarError);
    expect((refused as RarError).message).toMatch(/geo\.lookup/);
  });

  it("a host that grants the family and has its handler runs it (held: that is the host's own authority)", () => {
    let called = 0;
    const geo: CapHandler = { sig: { args: ["array"], result: "int" }, call: () => (called++, 999) };
    const s = Session.fromImage(imageWithMock(), { caps: ["io.print", "geo.lookup"], handlers: { "geo.lookup": geo }, stdout: () => {} });
    s.refuel(100_000);
    expect(s.run()).toMatchObject({ status: "done", value: 999 });
    expect(called).toBe(1);
  });
});

// net.fetch through the API: a GET to a granted origin on a local server,
// asynchronous, bounded (headroom, deadline, redirects), recorded so that a
// replay after the server is gone never fetches again.

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileSource } from "../lang/ent/compile.js";
import { loadPolicy } from "../src/caps/policy.js";
import { capCovers } from "../src/caps/registry.js";
import { originOf } from "../src/caps/net.js";
import { Session, type SessionOptions } from "../src/session.js";
import { replay } from "../src/trace/replay.js";
import type { Trace } from "../src/trace/trace.js";
import { verifyBundle } from "../src/vm/verify.js";
import { startServer, type TestServer } from "./helpers/http.js";

let srv: TestServer;
let other: TestServer;

beforeAll(async () => {
  other = await startServer();
  srv = await startServer(other.origin);
});

afterAll(async () => {
  await srv.close();
  await other.close();
});

/** An Ent program printing the status and the body (as text) of one fetch, returning the status. */
const FETCH = (url: string): string => `cap net.fetch;
fn main() {
  let r = net.fetch("${url}");
  let body = array(len(r) - 1);
  for i in 1..len(r) { body[i - 1] = r[i]; }
  print(r[0], len(body));
  puts(body);
  return r[0];
}
`;

function session(src: string, opts: SessionOptions = {}): { s: Session; out: () => string } {
  const [module, ...linked] = verifyBundle(compileSource(src, "main.ent").modules);
  let out = "";
  const s = Session.start(module, { linked, stdout: (t) => void (out += t), ...opts });
  return { s, out: () => out };
}

const grant = (origin: string): string[] => ["io.print", `net.fetch:${origin}`];

describe("net.fetch", () => {
  it("gets [status, bytes...] from a granted origin, asynchronously, recorded", async () => {
    const { s, out } = session(FETCH(`${srv.origin}/hello`), { caps: grant(srv.origin) });
    expect(() => session(FETCH(`${srv.origin}/hello`), { caps: grant(srv.origin) }).s.run()).toThrow(/async/);
    const r = await s.runAsync();
    expect(r.status).toBe("done");
    expect(r.value).toBe(200);
    expect(out()).toBe("200 5\nhello\n");
    const call = s.trace?.events().find((e) => e.kind === "cap" && e.cap === "net.fetch");
    expect(call && call.kind === "cap" && Array.from(call.result as Int32Array)).toEqual([200, 104, 101, 108, 108, 111]);
  });

  it("gives the body's bytes, not decoded text, and a non-2xx status as the first word", async () => {
    const a = session(FETCH(`${srv.origin}/utf8`), { caps: grant(srv.origin) });
    await a.s.runAsync();
    expect(a.out().split("\n")[0]).toBe("200 5"); // é is 2 bytes, € 3
    const b = session(FETCH(`${srv.origin}/missing`), { caps: grant(srv.origin) });
    expect((await b.s.runAsync()).value).toBe(404);
    expect(b.out()).toBe("404 2\nno\n");
  });

  it("replays from the trace after the server is gone: nothing is fetched again", async () => {
    const gone = await startServer();
    const { s } = session(FETCH(`${gone.origin}/hello`), { caps: grant(gone.origin) });
    expect((await s.runAsync()).value).toBe(200);
    expect(gone.hits).toEqual(["/hello"]);
    await gone.close();
    const printed: string[] = [];
    const rep = replay(
      { trace: s.trace as Trace, module: (d) => s.machine.modules.get(d) },
      { onCall: (e) => void (e.kind === "cap" && e.cap === "io.print" && printed.push(String(e.args.length))) },
    );
    expect(rep.divergence).toBeNull();
    expect(rep.root?.statusName).toBe("done");
    expect(gone.hits).toEqual(["/hello"]);
  });

  it("resumes from an image without fetching again what was fetched before it", async () => {
    const src = `cap net.fetch;\nfn main() { let r = net.fetch("${srv.origin}/hello"); yield(len(r)); let q = net.fetch("${srv.origin}/missing"); return r[0] + q[0]; }\n`;
    const { s } = session(src, { caps: grant(srv.origin) });
    const before = srv.hits.length;
    expect((await s.runAsync()).status).toBe("yielded");
    const img = s.snapshot();
    const t = Session.fromImage(img, { caps: grant(srv.origin), stdout: () => undefined });
    const r = await t.runAsync();
    expect(r.value).toBe(604);
    expect(srv.hits.slice(before)).toEqual(["/hello", "/missing"]);
  });

  it("follows a redirect within the origin and refuses one leaving it", async () => {
    const same = session(FETCH(`${srv.origin}/again`), { caps: grant(srv.origin) });
    expect((await same.s.runAsync()).value).toBe(200);
    expect(same.out()).toBe("200 5\nhello\n");
    const before = other.hits.length;
    const away = session(FETCH(`${srv.origin}/away`), { caps: grant(srv.origin) });
    const r = await away.s.runAsync();
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(new RegExp(`cap_failed.*net.fetch: a redirect to ${other.origin} leaves the origin ${srv.origin}: refused`));
    expect(other.hits.length).toBe(before);
    const loop = await session(FETCH(`${srv.origin}/loop`), { caps: grant(srv.origin) }).s.runAsync();
    expect(loop.fault).toMatch(/more than 5 redirects/);
  });

  it("refuses another port, another scheme, credentials and an ungranted or unscoped origin, sending nothing", async () => {
    const before = srv.hits.length;
    const cases: [string, string[], RegExp][] = [
      [`${other.origin}/hello`, grant(srv.origin), new RegExp(`the origin ${other.origin} is not granted`)],
      [`https://127.0.0.1:${srv.port}/hello`, grant(srv.origin), /the origin https:\/\/127.0.0.1:\d+ is not granted/],
      [`ftp://127.0.0.1:${srv.port}/hello`, grant(srv.origin), /only http and https/],
      [`http://user:pw@127.0.0.1:${srv.port}/hello`, grant(srv.origin), /a URL with credentials is refused/],
      [`http://localhost:${srv.port}/hello`, grant(srv.origin), /the origin http:\/\/localhost:\d+ is not granted/],
      [`${srv.origin}/hello`, ["io.print", "net.fetch"], /is not granted/],
      ["not a url", grant(srv.origin), /'not a url' is not a URL/],
      [`http://127.0.0.1:${srv.port}@127.0.0.1:${other.port}/hello`, grant(srv.origin), /a URL with credentials is refused/],
      [`${srv.origin}/${"x".repeat(9000)}`, grant(srv.origin), /a URL of 9\d+ characters is longer than 8192/],
    ];
    for (const [url, caps, why] of cases) {
      const r = await session(FETCH(url), { caps }).s.runAsync();
      expect(r.status).toBe("fault");
      expect(r.fault).toMatch(why);
    }
    expect(srv.hits.length).toBe(before);
  });

  it("refuses a body beyond the caller's headroom while reading it, by length or by counting", async () => {
    for (const path of ["/big", "/endless"]) {
      const r = await session(FETCH(`${srv.origin}${path}`), { caps: grant(srv.origin), mem: 65536 }).s.runAsync();
      expect(r.status).toBe("fault");
      expect(r.fault).toMatch(/net.fetch: a body of .*bytes exceeds memory headroom/);
    }
  });

  it("gives up on a server that never answers at the deadline", async () => {
    const r = await session(FETCH(`${srv.origin}/hang`), { caps: grant(srv.origin), netTimeout: 100 }).s.runAsync();
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(new RegExp(`no complete answer from ${srv.origin} within 100 ms`));
  });

  it("a refused connection is a cap_failed fault naming the origin", async () => {
    const closed = await startServer();
    await closed.close();
    const r = await session(FETCH(`${closed.origin}/`), { caps: grant(closed.origin) }).s.runAsync();
    expect(r.fault).toMatch(new RegExp(`cannot fetch from ${closed.origin} \\(ECONNREFUSED\\)`));
  });
});

describe("net.fetch grants", () => {
  it("a policy needs an origin and keeps only its canonical form", () => {
    expect(() => loadPolicy({ allow: ["net.fetch"] })).toThrow(/'net.fetch' needs an origin: net.fetch:http:\/\/HOST:PORT/);
    expect(loadPolicy({ allow: ["net.fetch:HTTP://127.0.0.1:80"] }).grants).toContain("net.fetch:http://127.0.0.1");
    for (const bad of ["net.fetch:ftp://h", "net.fetch:http://u:p@h", "net.fetch:http://h/path", "net.fetch:http://h?q", "net.fetch:nothing"])
      expect(() => loadPolicy({ allow: [bad] }), bad).toThrow(/policy|origin|URL/);
    expect(loadPolicy({ deny: ["net.fetch"], allow: [] }).denials).toEqual(["net.fetch"]);
  });

  it("an origin grant covers exactly that origin", () => {
    fc.assert(
      fc.property(fc.constantFrom("http", "https"), fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 }), (scheme, a, b) => {
        const g = originOf(`${scheme}://127.0.0.1:${a}`) as string;
        const h = originOf(`${scheme}://127.0.0.1:${b}`) as string;
        expect(capCovers([`net.fetch:${g}`], `net.fetch:${h}`)).toBe(g === h);
      }),
    );
  });
});

// net.fetch and prompts through the CLI, against a local server the test
// starts on 127.0.0.1 (the CLI runs as a child process: spawned without
// blocking this process, which serves its requests). Replay and audit run
// after the server is gone: nothing is fetched again.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, ROOT, ensureBuilt, type Out } from "./helpers/cli.js";
import { startServer, type TestServer } from "./helpers/http.js";

const FETCH = join(ROOT, "examples", "fetch.ent");
let dir = "";
let srv: TestServer;

/** Runs `rar ARGS...` without blocking the event loop; `input` is written to its stdin (a pipe: not a terminal). */
function rar(args: readonly string[], input = ""): Promise<Out> {
  return run(process.execPath, [CLI, ...args], input);
}

function run(cmd: string, args: readonly string[], input: string): Promise<Out> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { cwd: dir });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

const hasScript = spawnSync("script", ["--version"], { encoding: "utf8" }).status === 0;

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-net-"));
  srv = await startServer();
});

afterAll(async () => {
  await srv?.close();
});

describe("net.fetch from the CLI", () => {
  it("fetches from the granted origin; replay and audit after the server is gone fetch nothing", async () => {
    const gone = await startServer();
    const img = join(dir, "fetch.rimg");
    const r = await rar(["run", FETCH, `${gone.origin}/hello`, "--allow", `net.fetch:${gone.origin}`, "--out", img]);
    expect(r.stdout).toBe("status 200 bytes 5\nhello\n");
    expect(r.code).toBe(0);
    expect(gone.hits).toEqual(["/hello"]);
    await gone.close();
    const again = await rar(["replay", img]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("status 200 bytes 5\nhello\n");
    const audit = JSON.parse((await rar(["audit", img, "--json"])).stdout) as { valid: boolean };
    expect(audit.valid).toBe(true);
  });

  it("needs an origin: an unscoped grant, a path or credentials in it are policy errors, nothing run", async () => {
    for (const [grant, why] of [
      ["net.fetch", /'net.fetch' needs an origin: net.fetch:http:\/\/HOST:PORT/],
      [`net.fetch:${srv.origin}/hello`, /an origin has no path, query or fragment/],
      [`net.fetch:http://u:p@127.0.0.1:${srv.port}`, /an origin carries no credentials/],
      ["net.fetch:file:///etc", /an origin is http:\/\/ or https:\/\//],
    ] as const) {
      const r = await rar(["run", FETCH, `${srv.origin}/hello`, "--allow", grant]);
      expect(r.code, grant).toBe(2);
      expect(r.stderr).toMatch(why);
      expect(r.stdout).toBe("");
    }
    const missing = await rar(["run", FETCH, `${srv.origin}/hello`]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/capability net.fetch is not granted .*pass --allow net.fetch:ORIGIN/);
  });

  it("another port of the same host is another origin: the call faults, nothing is sent", async () => {
    const before = srv.hits.length;
    const r = await rar(["run", FETCH, `http://127.0.0.1:${srv.port === 65535 ? 1 : srv.port + 1}/hello`, "--allow", `net.fetch:${srv.origin}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cap_failed .*net.fetch: the origin http:\/\/127.0.0.1:\d+ is not granted/);
    expect(srv.hits.length).toBe(before);
  });

  it("rar caps lists net.fetch with its origin scope, async", async () => {
    const caps = JSON.parse((await rar(["caps", "--json"])).stdout) as { capabilities: { name: string; scope: string; call: string }[] };
    expect(caps.capabilities.find((c) => c.name === "net.fetch")).toMatchObject({ scope: "net.fetch:ORIGIN", call: "async" });
  });
});

describe("prompts from the CLI", () => {
  it("refuses when stdin is not a terminal: the call faults cap_failed, stderr says why and which flag grants it", async () => {
    const img = join(dir, "refused.rimg");
    const r = await rar(["run", FETCH, `${srv.origin}/hello`, "--prompt", `net.fetch:${srv.origin}`, "--out", img], "y\n");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`rar: refused net.fetch:${srv.origin} for process 0: stdin is not a terminal to ask on (grant it with --allow net.fetch:${srv.origin})`);
    expect(r.stderr).toMatch(/cap_failed .*the host refused net.fetch:http:\/\/127.0.0.1:\d+ at the prompt/);
    // The refusal is in the trace: replay reproduces it without asking.
    const again = await rar(["replay", img]);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/allow|refused net.fetch/);
  });

  it("a policy file's prompt field works as --prompt does; a prompt for a directory scope is a policy error", async () => {
    const { writeFileSync } = await import("node:fs");
    const good = join(dir, "prompt.json");
    writeFileSync(good, JSON.stringify({ prompt: [`net.fetch:${srv.origin}`] }));
    const r = await rar(["run", FETCH, `${srv.origin}/hello`, "--policy", good]);
    expect(r.stderr).toMatch(/stdin is not a terminal to ask on/);
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ prompt: ["fs.read:."] }));
    const b = await rar(["run", FETCH, `${srv.origin}/hello`, "--policy", bad]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/prompt\[0\]: cannot prompt for 'fs.read:/);
    const unknown = await rar(["run", FETCH, `${srv.origin}/hello`, "--prompt", "geo.lookup"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown capability 'geo.lookup'/);
  });

  it.skipIf(!hasScript)("asks on a terminal (script gives the CLI one): y allows, the answer is recorded, replay does not ask", async () => {
    const img = join(dir, "asked.rimg");
    const cmd = [process.execPath, CLI, "run", FETCH, `${srv.origin}/hello`, "--prompt", `net.fetch:${srv.origin}`, "--out", img].map((a) => `'${a}'`).join(" ");
    const r = await run("script", ["-qec", cmd, "/dev/null"], "y\n");
    expect(r.stdout).toContain(`rar: allow net.fetch:${srv.origin} for process 0? [y/N]`);
    expect(r.stdout).toContain("status 200 bytes 5");
    expect(r.code).toBe(0);
    const again = await rar(["replay", img]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("status 200 bytes 5\nhello\n");
    expect(again.stderr).not.toMatch(/allow net.fetch/);
    const listed = (await rar(["audit", img])).stdout;
    expect(listed).toMatch(/^audit: valid/);
    expect(listed).toMatch(/prompt 1/);
    expect(readFileSync(img).length).toBeGreaterThan(0);
  });
});

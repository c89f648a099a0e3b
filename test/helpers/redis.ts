// A private redis-server for the cluster tests: a free loopback port, no
// persistence unless a test asks for an append-only file (to restart it with
// its data), stopped by the test. Debian's redis-server must be installed
// (.ci/run installs it when it is missing).

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer, connect } from "node:net";

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Stops the server (SIGKILL with `hard`: no chance to save anything). */
  stop(hard?: boolean): Promise<void>;
  /** Starts it again on the same port (and directory). */
  start(): Promise<void>;
}

export function redisServerInstalled(): boolean {
  return spawnSync("redis-server", ["--version"], { encoding: "utf8" }).status === 0;
}

async function freePort(): Promise<number> {
  return await new Promise((found, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => found(port));
    });
  });
}

function pong(port: number): Promise<boolean> {
  return new Promise((answer) => {
    const c = connect(port, "127.0.0.1");
    let got = "";
    c.setTimeout(1000, () => {
      c.destroy();
      answer(false);
    });
    c.on("connect", () => c.write("PING\r\n"));
    c.on("data", (d) => {
      got += d.toString();
      if (got.includes("\r\n")) {
        c.destroy();
        answer(got.startsWith("+PONG"));
      }
    });
    c.on("error", () => answer(false));
  });
}

/** Starts a redis-server; `aofDir` keeps an append-only file there (fsync on every write), so a restart finds the data. */
export async function startRedis(aofDir?: string): Promise<RedisServer> {
  if (!redisServerInstalled()) throw new Error("redis-server is not installed (apt-get install redis-server; .ci/run does it)");
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--protected-mode", "yes"];
  args.push(...(aofDir ? ["--appendonly", "yes", "--appendfsync", "always", "--dir", aofDir] : ["--appendonly", "no"]));
  let child: ChildProcess | null = null;
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn("redis-server", args, { stdio: "ignore" });
      for (let i = 0; i < 300; i++) {
        if (await pong(port)) return;
        if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`redis-server did not answer on port ${port}`);
    },
    async stop(hard = false) {
      const c = child;
      child = null;
      if (!c || c.exitCode !== null) return;
      const gone = new Promise((r) => c.once("exit", r));
      c.kill(hard ? "SIGKILL" : "SIGTERM");
      await gone;
    },
  };
  await server.start();
  return server;
}

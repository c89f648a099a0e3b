// `rar worker` processes for the cluster tests: each a child process whose
// stderr events (one JSON object a line) a test can wait for, stopped or
// killed by the test.

import { spawn, type ChildProcess } from "node:child_process";
import { CLI, rarIn, type Out } from "./cli.js";

export type WorkerEvent = Record<string, unknown> & { event: string };

export interface WorkerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly events: WorkerEvent[];
  /** Resolves with the first event (past or future) that matches. */
  waitFor(match: (e: WorkerEvent) => boolean, what?: string, ms?: number): Promise<WorkerEvent>;
  /** SIGKILL: no chance to store anything. */
  kill(): Promise<void>;
  /** SIGTERM: stores the leg in flight and closes. */
  stop(): Promise<void>;
}

export function startWorkerProcess(redis: string, name: string, extra: readonly string[] = []): WorkerProcess {
  const child = spawn(process.execPath, [CLI, "worker", "--redis", redis, "--name", name, ...extra], { stdio: ["ignore", "ignore", "pipe"] });
  const events: WorkerEvent[] = [];
  const waiting: { match: (e: WorkerEvent) => boolean; found: (e: WorkerEvent) => void }[] = [];
  let buffered = "";
  child.stderr?.on("data", (d: Buffer) => {
    buffered += d.toString();
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let e: WorkerEvent;
      try {
        e = JSON.parse(line) as WorkerEvent;
      } catch {
        e = { event: "text", line };
      }
      events.push(e);
      for (let i = waiting.length - 1; i >= 0; i--)
        if (waiting[i].match(e)) {
          waiting[i].found(e);
          waiting.splice(i, 1);
        }
    }
  });
  // "close": the process exited and its stderr was read to the end.
  const exited = new Promise<void>((r) => child.once("close", () => r()));
  return {
    name,
    child,
    events,
    waitFor(match, what = "an event", ms = 60_000) {
      const past = events.find(match);
      if (past) return Promise.resolve(past);
      return new Promise((found, fail) => {
        const timer = setTimeout(() => fail(new Error(`worker ${name}: no ${what} within ${ms} ms; events: ${JSON.stringify(events.slice(-10))}`)), ms);
        waiting.push({
          match,
          found: (e) => {
            clearTimeout(timer);
            found(e);
          },
        });
      });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** `rar ARGS...` (in `cwd`) asynchronously, so the test's own event loop keeps reading worker output meanwhile. */
export function rarAsync(cwd: string, ...args: string[]): Promise<Out> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
  });
}

export { rarIn };

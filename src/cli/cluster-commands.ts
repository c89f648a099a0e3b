// The commands that run jobs across machines (CLI.md "Running across
// machines"): `rar worker`, `rar submit`, `rar status`, `rar fetch`,
// `rar cancel`, over a Redis server and a BullMQ queue (src/cluster/,
// spec/distributed.md). Loaded only for these commands: `rar run` never
// loads BullMQ.

import { Option, type Command } from "commander";
import { closeConnection, commandConnection } from "../cluster/connection.js";
import { DEFAULT_QUEUE, checkQueueName } from "../cluster/queue.js";
import { cancelJob, checkJobId, fetchJob, formatStatus, jobStatus } from "../cluster/status.js";
import { submitJob, type Submission } from "../cluster/submit.js";
import { DEFAULT_MAX_MEM, DEFAULT_QUANTUM, startWorker } from "../cluster/worker.js";
import { DEFAULT_GAS, DEFAULT_MEM, type RunResult } from "../session.js";
import type { Redis } from "ioredis";
import { parseCount, parseProgramArgs, takesTextArgs } from "./args.js";
import { checkWritable, writeFileAtomic } from "./atomic.js";
import { EXIT, UsageError, escapeControls } from "./exit.js";
import { interruptible } from "./interrupt.js";
import { extensionOf, loadProgram } from "./load.js";
import { addPolicyOptions, policyFromFlags, type PolicyFlags } from "./policy-flags.js";
import { readInput } from "./read.js";
import { err, writeOut } from "./output.js";

/** Prints a run's fault line and summary on stderr and gives its exit code (main.ts owns the format). */
export type Finish = (r: RunResult) => number;


interface RedisFlags {
  redis: string;
  queue: string;
}

function addRedisOptions(cmd: Command, withQueue = true): Command {
  cmd.requiredOption("--redis <url>", "the Redis server of the cluster (redis://HOST:PORT[/DB])");
  if (withQueue) cmd.addOption(new Option("--queue <name>", "the queue of legs").default(DEFAULT_QUEUE).argParser(checkQueueName));
  return cmd;
}

async function withRedis<T>(url: string, work: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = await commandConnection(url);
  try {
    return await work(redis);
  } finally {
    await closeConnection(redis);
  }
}

interface WorkerFlags extends PolicyFlags, RedisFlags {
  quantum: number;
  name?: string;
  lockDuration?: number;
  stalledInterval?: number;
  maxStalled?: number;
  maxMem: number;
}

/**
 * `rar worker`: runs until SIGINT or SIGTERM, which store the leg in flight
 * and close (a second signal exits at once). The signals are taken before
 * the worker starts: BullMQ may hand it a leg before it reports ready.
 */
async function workerCommand(flags: WorkerFlags): Promise<number> {
  const policy = policyFromFlags(flags);
  // One JSON object a line, with the wall-clock time in ms (host-side only: no guest sees it).
  const log = (event: Record<string, unknown>): void => err(`${JSON.stringify({ ...event, t: Date.now() })}\n`);
  const stopping = new AbortController();
  const onSignal = (): void => {
    if (stopping.signal.aborted) process.exit(EXIT.suspended);
    stopping.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const worker = await startWorker({
    redis: flags.redis,
    queue: flags.queue,
    policy,
    quantum: flags.quantum,
    name: flags.name,
    lockDuration: flags.lockDuration,
    stalledInterval: flags.stalledInterval,
    maxStalled: flags.maxStalled,
    maxMem: flags.maxMem,
    log,
    signal: stopping.signal,
  });
  if (!stopping.signal.aborted) await new Promise((stopped) => stopping.signal.addEventListener("abort", stopped, { once: true }));
  log({ event: "worker_closing", worker: worker.name });
  await worker.close();
  log({ event: "worker_closed", worker: worker.name });
  return EXIT.done;
}

interface SubmitFlags extends PolicyFlags, RedisFlags {
  gas?: number;
  mem?: number;
  quantum: number;
}

async function submitCommand(file: string, rawArgs: string[], flags: SubmitFlags): Promise<number> {
  const policy = policyFromFlags(flags);
  let submission: Submission;
  if (extensionOf(file) === ".rimg") {
    if (rawArgs.length > 0) throw new UsageError("an image carries its arguments; none may be given", file);
    submission = { kind: "image", bytes: readInput(file), gas: flags.gas ?? DEFAULT_GAS, mem: flags.mem ?? 0 };
  } else {
    const { module, linked } = await loadProgram(file);
    const args = parseProgramArgs(rawArgs, takesTextArgs(module));
    submission = { kind: "program", module, linked, args, gas: flags.gas ?? DEFAULT_GAS, mem: flags.mem ?? DEFAULT_MEM };
  }
  const id = await withRedis(flags.redis, (redis) => submitJob(redis, submission, { queue: flags.queue, policy, quantum: flags.quantum, name: file }));
  writeOut(`${id}\n`);
  return EXIT.done;
}

async function statusCommand(id: string, flags: { redis: string; json?: boolean }): Promise<number> {
  const s = await withRedis(flags.redis, (redis) => jobStatus(redis, checkJobId(id)));
  // A job's reason quotes its guest (a fault line) and its record is Redis's: control characters escaped.
  writeOut(flags.json ? `${JSON.stringify(s)}\n` : escapeControls(formatStatus(s), true));
  return EXIT.done;
}

async function fetchCommand(id: string, flags: { redis: string; out: string; wait?: boolean }, finish: Finish): Promise<number> {
  checkJobId(id);
  checkWritable(flags.out);
  const { job, image, stdout } = await interruptible((signal) => withRedis(flags.redis, (redis) => fetchJob(redis, id, flags.wait === true, signal)));
  writeFileAtomic(flags.out, image);
  writeOut(stdout);
  err(`rar: job ${id} ${job.state}${job.reason ? `: ${escapeControls(job.reason, false)}` : ""}; image written to ${flags.out}\n`);
  if (job.state === "refused") return EXIT.usage;
  const r: RunResult = {
    status: job.status as RunResult["status"],
    value: job.result ?? undefined,
    fault: job.state === "faulted" ? job.reason : undefined,
    gasUsed: job.gasUsed,
    gasLimit: job.gasLimit,
    memUsed: job.memUsed,
    memLimit: job.memLimit,
  };
  const code = finish(r);
  // A job still going (fetched without --wait) is not finished even if its stored root looks so.
  return job.state === "queued" || job.state === "running" ? EXIT.suspended : code;
}

async function cancelCommand(id: string, flags: { redis: string }): Promise<number> {
  const was = await withRedis(flags.redis, (redis) => cancelJob(redis, checkJobId(id)));
  writeOut(was === "queued" || was === "running" ? `job ${id}: cancelled (it was ${was})\n` : `job ${id}: already ${was}\n`);
  return EXIT.done;
}

/** Registers worker, submit, status, fetch and cancel. */
export function addClusterCommands(program: Command, finish: Finish): void {
  const worker = program
    .command("worker")
    .description("take legs of jobs from the queue and run each for a quantum of gas, under this worker's own policy")
    .addOption(new Option("--quantum <n>", "most gas per leg").argParser(parseCount("--quantum", 1)).default(DEFAULT_QUANTUM))
    .option("--name <name>", "this worker's name in traces and job status (default HOST:PID)")
    .addOption(new Option("--lock-duration <ms>", "BullMQ lock on a leg: a worker silent this long is taken for dead").argParser(parseCount("--lock-duration", 100)))
    .addOption(new Option("--stalled-interval <ms>", "how often to take back legs of dead workers").argParser(parseCount("--stalled-interval", 100)))
    .addOption(new Option("--max-stalled <n>", "times one leg may be taken back before its job fails (default 32)").argParser(parseCount("--max-stalled", 1)))
    .addOption(new Option("--max-mem <n>", "largest root memory limit (words) of a job this worker runs; a job asking more is refused").argParser(parseCount("--max-mem", 1)).default(DEFAULT_MAX_MEM));
  addPolicyOptions(addRedisOptions(worker)).action(async (flags: WorkerFlags) => {
    process.exitCode = await workerCommand(flags);
  });

  const submit = program
    .command("submit")
    .description("submit a program (.ent, .rasm, .rmod) or an image (.rimg) as a job; prints its id")
    .argument("<file>", "program or image")
    .argument("[args...]", "passed to main(args): integers, or texts for main(args: [[int]]) when any is not an integer")
    .addOption(new Option("--gas <n>", `the job's gas in all (an image: added to its limit) (default ${DEFAULT_GAS})`).argParser(parseCount("--gas")))
    .addOption(new Option("--mem <n>", `root memory limit in words (an image: words added) (default ${DEFAULT_MEM}, 0 for an image)`).argParser(parseCount("--mem")))
    .addOption(new Option("--quantum <n>", "gas per leg (default: each worker's --quantum)").argParser(parseCount("--quantum", 1)).default(0));
  addPolicyOptions(addRedisOptions(submit)).action(async (file: string, args: string[], flags: SubmitFlags) => {
    process.exitCode = await submitCommand(file, args, flags);
  });

  addRedisOptions(
    program
      .command("status")
      .description("a job's state, legs (the worker of each), gas used, and why it was refused, faulted or suspended")
      .argument("<job>", "a job id")
      .option("--json", "one JSON object"),
    false,
  ).action(async (id: string, flags: { redis: string; json?: boolean }) => {
    process.exitCode = await statusCommand(id, flags);
  });

  addRedisOptions(
    program
      .command("fetch")
      .description("write a job's newest image and print its stdout so far (with --wait, once the job has ended)")
      .argument("<job>", "a job id")
      .requiredOption("--out <image>", "where to write the image")
      .option("--wait", "wait until the job ends"),
    false,
  ).action(async (id: string, flags: { redis: string; out: string; wait?: boolean }) => {
    process.exitCode = await fetchCommand(id, flags, finish);
  });

  addRedisOptions(program.command("cancel").description("cancel a job: no further leg runs").argument("<job>", "a job id"), false).action(
    async (id: string, flags: { redis: string }) => {
      process.exitCode = await cancelCommand(id, flags);
    },
  );
}

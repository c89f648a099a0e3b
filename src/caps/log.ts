// What a run tells its host besides its output (CLI.md "Host surface"): log
// records the guest writes with log.write(level, text), and lifecycle events
// the Session emits when the root starts, stops resumably, continues and
// ends. A host receives both through SessionOptions.onLog; the CLI writes
// them as JSON lines (--log FILE). Neither carries host time: they are a
// function of the run, like its trace.

/** log.write's levels, by number (0 .. 3). */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];

/** A record the guest wrote. */
export interface LogRecord {
  readonly type: "log";
  readonly level: LogLevel;
  /** Process path of the writer ("0.2"). */
  readonly path: string;
  readonly text: string;
}

export type LifecycleName = "started" | "suspended" | "resumed" | "finished";

/** The root started, stopped resumably (yielded, out of gas or memory, trapped), continued, or ended (done or fault). */
export interface LifecycleEvent {
  readonly type: "lifecycle";
  readonly event: LifecycleName;
  /** The root's status at the event (before running for started and resumed, after for the others). */
  readonly status: string;
  readonly gasUsed: number;
}

export type LogEvent = LogRecord | LifecycleEvent;

/** The name of a log level, or an Error naming the valid ones. */
export function logLevel(n: number): LogLevel {
  if (!Number.isInteger(n) || n < 0 || n >= LOG_LEVELS.length) throw new Error(`level ${n} is not 0 (debug) to 3 (error)`);
  return LOG_LEVELS[n];
}

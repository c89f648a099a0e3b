// The progress line of a run on a terminal: generation, best and median
// error, evaluations per second, ETA. Nothing is written unless the stream is
// a TTY (scripts and pipes see only the final output).

import type { GenerationStats } from "./run.js";

export interface ProgressSink {
  readonly isTTY?: boolean;
  write(s: string): unknown;
}

function duration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export class Progress {
  private shown = false;

  constructor(
    private readonly out: ProgressSink,
    private readonly gens: number,
    /** Generation the run (re)started at. */
    private readonly first = 0,
  ) {}

  get active(): boolean {
    return this.out.isTTY === true;
  }

  /** One generation done, after `seconds` of work at `rate` evaluations per second. */
  update(s: GenerationStats, seconds: number, rate: number): void {
    if (!this.active) return;
    const done = s.gen + 1;
    const eta = (seconds / Math.max(1, done - this.first)) * (this.gens - done);
    const line =
      `gen ${done}/${this.gens}  best ${s.best_error}  median ${s.median_error}  ` +
      `${Math.round(rate).toLocaleString("en-US")} evals/s  ETA ${duration(eta)}`;
    this.out.write(`\r\x1b[K${line}`);
    this.shown = true;
  }

  /** Clears the line before the final output. */
  end(): void {
    if (this.active && this.shown) this.out.write("\r\x1b[K");
    this.shown = false;
  }
}

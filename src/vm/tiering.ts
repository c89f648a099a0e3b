// Tiering options: whether a machine lets hot modules be compiled (jit.ts)
// and how much gas a module runs interpreted first. Each machine has its own
// (MachineOptions.tiering, SessionOptions.tiering); nothing here is mutable.
// Results, gas, faults and images are the same whatever the options.

/** How a machine runs code: interpreted only, or compiled once hot. */
export interface TieringOptions {
  /** Let hot modules be compiled to JavaScript (default true). Off: every module stays in the interpreter. */
  readonly enabled: boolean;
  /**
   * Gas a module runs interpreted in long stints before it is compiled
   * (default 200,000: about a millisecond of work; more for large modules).
   * 0 compiles every module before its first instruction.
   */
  readonly warmGas: number;
}

/** What a machine does unless told otherwise (MachineOptions.tiering overrides each field). */
export const DEFAULT_TIERING: TieringOptions = Object.freeze({ enabled: true, warmGas: 200_000 });


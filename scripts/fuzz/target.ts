// What a fuzzed kind of input provides: a generator of inputs from a seeded
// generator, and a check that feeds one input to the runtime. A check returns
// a short outcome (for statistics: "decoded", "rejected image/digest", ...);
// a RarError it lets escape is a rejection too. Anything else escaping is a
// host exception: a bug.

import type { Rng } from "./rng.js";

export type KindName = "images" | "modules" | "sources" | "policies";
export const KINDS: readonly KindName[] = ["images", "modules", "sources", "policies"];

export interface Input {
  /** The bytes or text, as a file of `ext` would hold them. */
  data: Uint8Array | string;
  /** File ending when saved (defaults to the target's). */
  ext?: string;
  /** Further files the input needs (an Ent program's imports), by path. */
  files?: Record<string, string>;
  /** How the input was made, for reports. */
  how: string;
  /** Kind-specific: which entry point the check feeds it to. */
  guest?: boolean;
  entry?: string;
  /** Kind-specific: what checking it must give (e.g. how the uninterrupted run went on). */
  then?: unknown;
}

export interface Target {
  /** Default file ending of inputs. */
  readonly ext: string;
  generate(rng: Rng): Input;
  check(input: Input): string;
  /** Removes what the target made on disk, if anything. */
  close?(): void;
}

/**
 * Not a host exception but a RarError where there must be none: a state the
 * runtime made itself that it cannot read back, or compiler output the
 * verifier rejects. Reported with the host exceptions.
 */
export class Anomaly extends Error {
  override readonly name = "Anomaly";
}

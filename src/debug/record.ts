// Recording for the time-travel debugger (`rar trace`, and `rar resume` or
// `rar run IMAGE` of a traced image): while the run goes on, the whole tree is
// checkpointed every `every` gas of the root (spec/image-format.md §4a). The
// checkpoints live in the session's image history, so they travel with every
// image written after, through any number of suspensions and migrations.
//
// Where checkpoints are taken depends only on the root's gas: checkpoint
// places are multiples of `every`, and `every` doubles (keeping the
// checkpoints at multiples of the new value) when there are too many or they
// hold too many words. Both rules read only what the guest did (gas, the
// trees' footprints), never the host's limits or clock, so a run suspended and
// resumed anywhere takes the same checkpoints as an uninterrupted one.

import type { Checkpoint, DebugPart } from "../image/format.js";
import { captureCheckpoint } from "../image/debug.js";
import { resolverOf } from "../image/codec.js";
import type { Session } from "../session.js";

/** The first checkpoint interval: about a millisecond of guest work. */
export const EVERY_MIN = 1 << 20;
/** Most checkpoints an image keeps. */
export const CHECKPOINTS_MAX = 64;
/** Most words all checkpoints together hold (their trees' footprints). */
export const CHECKPOINT_WORDS_MAX = 1 << 24;
/**
 * Gas per word of a checkpoint at least: encoding a word costs about what a
 * few units of gas do, so a checkpoint costs a small part of the run since
 * the last one.
 */
export const GAS_PER_CHECKPOINT_WORD = 64;

/** An empty debug part for a run about to be traced, with its source texts. */
export function newDebugPart(sources: ReadonlyMap<string, string> = new Map()): DebugPart {
  return { every: EVERY_MIN, checkpoints: [], sources: [...sources.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)), slice: null };
}

/** Doubles `every` until the checkpoints kept (those at its multiples) fit the bounds. */
function thin(d: DebugPart): void {
  const words = (cs: readonly Checkpoint[]): number => cs.reduce((n, c) => n + c.words, 0);
  const last = d.checkpoints[d.checkpoints.length - 1];
  while (
    d.checkpoints.length > CHECKPOINTS_MAX ||
    (d.checkpoints.length > 1 && words(d.checkpoints) > CHECKPOINT_WORDS_MAX) ||
    (last !== undefined && d.every < last.words * GAS_PER_CHECKPOINT_WORD)
  ) {
    d.every *= 2;
    d.checkpoints = d.checkpoints.filter((c) => c.at % d.every === 0);
  }
}

/**
 * The RunOptions.checkpoints of a session whose history has a debug part:
 * each run of the session adds checkpoints to it.
 */
export function checkpointing(session: Session): { next(gasUsed: number): number; take(): void } {
  const d = session.history.debug;
  if (!d) throw new Error("internal: checkpointing a session that is not traced");
  const resolve = resolverOf(session.machine);
  let place = 0;
  return {
    next(gasUsed: number): number {
      const last = d.checkpoints.length > 0 ? d.checkpoints[d.checkpoints.length - 1].at : 0;
      // The first multiple of every past the last checkpoint and not behind the run.
      place = Math.max(Math.floor(last / d.every) + 1, Math.ceil(gasUsed / d.every)) * d.every;
      return place;
    },
    take(): void {
      d.checkpoints.push(captureCheckpoint(session.root, place, session.trace?.length ?? 0, null, resolve));
      thin(d);
    },
  };
}

// How the fuzzer runs what it decoded or compiled: with a small budget, no
// output, no input, and no capability that reaches the host's files, so a
// random program can neither hang the fuzzer nor touch anything.

import { Session, type SessionOptions } from "../../src/session.js";
import type { Module } from "../../src/vm/module.js";

/** Gas a decoded image or compiled program gets: enough to reach children, loops and snapshots, bounded. */
export const GUEST_GAS = 20_000;
export const GUEST_MEM = 1 << 16;

/** Grants that touch nothing outside the process (clock and random are virtual unless scoped :real). */
export const SAFE_CAPS = ["clock.now", "io.print", "io.read", "random.u32"];

const quiet: SessionOptions = { stdout: () => {}, stdin: () => null };

export function startGuest(module: Module, linked: readonly Module[] = [], record = false): Session {
  return Session.start(module, { ...quiet, gas: GUEST_GAS, mem: GUEST_MEM, caps: SAFE_CAPS, linked, record });
}

/** A session of image bytes (the CLI's `rar resume` path), or a RarError. */
export function sessionOf(bytes: Uint8Array): Session {
  // The host grants what the generated guests use; an image asking for more is refused (authority never travels).
  return Session.fromImage(bytes, { ...quiet, caps: SAFE_CAPS, where: "fuzz.rimg" });
}

/** Keeps only grants of SAFE_CAPS's families (an image names its own), and caps the gas the run may take. */
export function tame(s: Session): void {
  const safe = s.root.caps.filter((c) => SAFE_CAPS.includes(c.replace(/:.*$/, "")) && !c.endsWith(":real"));
  if (safe.length !== s.root.caps.length) s.narrow(safe);
  const root = s.root;
  root.gasLimit = Math.min(root.gasLimit, root.gasUsed + GUEST_GAS);
}

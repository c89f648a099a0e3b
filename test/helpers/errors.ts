// The RarError a call throws (anything else thrown is rethrown; no throw fails the test).

import { RarError } from "../../src/vm/errors.js";

export function rarErrorOf(f: () => unknown): RarError {
  try {
    f();
  } catch (e) {
    if (e instanceof RarError) return e;
    throw e;
  }
  throw new Error("expected a RarError");
}

/** What f threw, whatever it is (null if nothing). */
export function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return null;
}

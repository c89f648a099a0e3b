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

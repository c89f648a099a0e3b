// Test helper: run a function with only a little JS stack left, so that any
// host recursion proportional to the size of its input overflows and shows.

/**
 * Runs `fn` with only `k` frames of JS stack left: recurses until the stack
 * overflows, then calls `fn` k frames above the overflow point. `fn` (the
 * very closure) must have run once before, so that V8 does not need stack to
 * compile it lazily. A frame of this helper is small (~100 bytes), so k = 100
 * leaves ~10 KB: enough for a fixed call path, far too little for a recursion
 * a few thousand deep.
 */
export function nearStackEnd<T>(k: number, fn: () => T): T {
  let ran = false;
  let out: T | undefined;
  const down = (): number => {
    let c: number;
    try {
      c = down();
    } catch (e) {
      if (e instanceof RangeError && !ran) return k;
      throw e;
    }
    if (c === 0) {
      ran = true;
      out = fn();
      return -1;
    }
    return c < 0 ? -1 : c - 1;
  };
  down();
  if (!ran) throw new Error("nearStackEnd: never reached the end of the stack");
  return out as T;
}

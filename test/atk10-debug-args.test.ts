// Debugger commands given more arguments than they take (`next 5`, `where x`,
// `step 1 2`, `mem 0 4 9`) are refused with one line naming the command, like
// any bad argument: before, the surplus was silently dropped, so `next 5`
// stepped one line while the user asked for five.

import { describe, expect, it } from "vitest";
import { Debugger } from "../src/debug/debugger.js";
import { decodeImage } from "../src/image/decode.js";
import { Session } from "../src/session.js";
import { RarError } from "../src/vm/errors.js";
import { load } from "./helpers/asm.js";
import { newDebugPart } from "../src/debug/record.js";

function debuggerOf(): Debugger {
  const s = Session.start(load(".func main 0 1\n  PUSH 3\n  PUSH 4\n  ADD\n  RET"), { gas: 1000, stdout: () => {} });
  s.history.debug = newDebugPart();
  s.run();
  return new Debugger(decodeImage(s.snapshot()));
}

describe("surplus debugger arguments", () => {
  const d = debuggerOf();
  it.each(["next 5", "n 1", "finish 2", "continue 3", "rc x", "where x", "stack 1", "locals a", "caps 1", "children 2", "why now", "quit 3", "step 1 2", "back 1 1", "jump 1 2", "mem 0 1 2", "help me"])(
    "%s is refused, naming the command",
    (line) => {
      const before = d.run("where");
      expect(() => d.run(line)).toThrow(RarError);
      expect(() => d.run(line)).toThrow(new RegExp(`^${line.split(" ")[0]}: `));
      expect(d.run("where")).toBe(before);
      expect(d.quit).toBe(false);
    },
  );

  it("the forms with their arguments still work", () => {
    expect(d.run("step 1")).toMatch(/^step 1 /);
    expect(d.run("back 1")).toMatch(/^step 0 /);
    expect(d.run("jump 2")).toMatch(/^step 2 /);
    expect(d.run("mem 0 1")).toMatch(/memory/);
    expect(d.run("break main")).toMatch(/reak/);
  });
});

import { it } from "vitest";
import { run } from "./helpers/asm.js";
it("probe", () => {
  for (const body of ["PUSH 7\n PUSH 0\n DIV", "PUSH 5\n LOAD 0", "PUSH -1\n MGROW", "TRAP 1\n PUSH 0", "PUSH 3\n RESULT", "PUSH 3\n STATUS", "PUSH 0\n PUSH 0\n PUSH -1\n PUSH 0\n PUSH 0\n PUSH 0\n SPAWN main"]) {
    const full = run(`.func main 0 0\n ${body}\n RET`);
    const pre = run(`.func main 0 0\n ${body}\n RET`, { gas: full.gasUsed - (body.startsWith("TRAP") ? 1 : 0) });
    const n = body.split("\n").length - (body.startsWith("TRAP") ? 1 : 0);
    console.log(JSON.stringify(body), full.status, full.gasUsed, "pushes", n - 1, "| with gas", full.gasUsed - (body.startsWith("TRAP") ? 1:0), pre.status);
    const tight = run(`.func main 0 0\n ${body}\n RET`, { gas: n - 1 });
    console.log("   gas only for preceding:", tight.status, tight.fault ?? "");
  }
});

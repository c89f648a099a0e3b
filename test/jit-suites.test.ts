// The property suites again, with every module compiled before its first
// instruction (warm-up gas 0): exhaustion at instruction boundaries, refuel
// equivalence, snapshot transparency at every instruction and the Ent
// differential tests, and the GP evaluator recording every candidate exactly
// as it runs alone, must all hold in the compiled tier too.

import { tiering } from "../src/vm/execute.js";

tiering.warmGas = 0;

await import("./properties.test.js");
await import("./image-transparency.test.js");
await import("./ent-differential.test.js");
await import("./instructions.test.js");
await import("./budgets.test.js");
await import("./gp-evaluator.test.js");
await import("./gp-sandbox.test.js");

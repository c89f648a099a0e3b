// Regenerates the golden images images/*.rimg from images/*.rasm (not run in
// CI; test/image-golden.test.ts checks the committed files). Run it only for
// a deliberate format change, together with a bump of IMAGE_VERSION:
//
//   npx tsx scripts/make-golden.ts
//
// Each program runs from a fresh session with the gas below and no trace (so
// the images do not depend on the trace format), and the suspended tree is
// written as it stands.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assemble } from "../lang/asm.js";
import { decodeImage } from "../src/image/decode.js";
import { inspectImage } from "../src/image/inspect.js";
import { Session } from "../src/session.js";
import { verify } from "../src/vm/verify.js";

/** Gas each golden program gets before it is imaged (chosen to stop where the .rasm header says). */
export const GOLDEN: Readonly<Record<string, number>> = {
  loop: 500,
  nested: 700,
  faulted: 150,
};

const dir = join(import.meta.dirname, "..", "images");

for (const [name, gas] of Object.entries(GOLDEN)) {
  const file = `images/${name}.rasm`;
  const module = verify(assemble(readFileSync(join(dir, `${name}.rasm`), "utf8"), file));
  const s = Session.start(module, { gas, stdout: () => {}, record: false });
  const r = s.run();
  const bytes = s.snapshot();
  writeFileSync(join(dir, `${name}.rimg`), bytes);
  const report = inspectImage(decodeImage(bytes));
  const tree = report.processes.map((p) => `${"  ".repeat(p.depth)}${p.handle} ${p.status} at ${p.function}`).join("; ");
  process.stdout.write(`${name}.rimg: ${bytes.length} bytes, root ${r.status}, ${tree}\n`);
}

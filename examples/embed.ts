// Embedding rar in a TypeScript host: assemble and verify a module, grant it
// one host capability, run it under a small gas budget, refuel, and finish.
//
//   npx tsx examples/embed.ts

import { Session, verify, type CapHandler } from "../src/index.js";
import { assemble } from "../src/internals.js"; // the .rasm assembler: a tool, not host API

// Sums the program arguments ([n, a0, ..., a(n-1)] at address 0), asks the
// host to scale the sum (capability `demo.scale`), prints "ok" and returns.
const source = `
.module embed
.cap io.print
.cap demo.scale

.func main 0 3
        PUSH 0
        LOAD 0          ; n
        LSET 0
loop:   LGET 0
        JZ done
        LGET 0
        LOAD 0          ; mem[i] = a(i-1)
        LGET 1
        ADD
        LSET 1
        LINC 0 -1
        JMP loop
done:   LGET 1
        CAP demo.scale 1
        LSET 2
        PUSH 2
        MGROW           ; room for "ok"
        LTEE 0
        PUSH 111
        STORE 0
        LGET 0
        PUSH 107
        STORE 1
        LGET 0
        PUSH 2
        CAP io.print 2
        POP
        LGET 2
        RET
`;

// Only words cross the boundary: the handler gets numbers and returns one.
const scale: CapHandler = {
  sig: { args: ["int"], result: "int" },
  call: ([x]) => (x as number) * 10,
};

const module = verify(assemble(source, "embed.rasm"));
const output: string[] = [];
const session = Session.start(module, {
  args: [1, 2, 3, 4],
  gas: 40, // deliberately too little
  caps: ["io.print", "demo.scale"],
  handlers: { "demo.scale": scale },
  stdout: (text) => output.push(text),
});

const first = session.run();
console.log(`first run: ${first.status}, gas ${first.gasUsed}/${first.gasLimit}`);

session.refuel(1_000); // raise the root's gas limit; the refused instruction is retried
const second = session.run();
console.log(`after refuel: ${second.status}, result ${second.value}, gas ${second.gasUsed}/${second.gasLimit}, mem ${second.memUsed}/${second.memLimit}`);
console.log(`guest printed: ${JSON.stringify(output.join(""))}`);

// A custom host capability in a TypeScript host (DESIGN §9):
//
//   npx tsx examples/host-capability.ts
//
// The host registers `weather.temp(city) -> int` with a typed signature and
// an async, timer-backed handler (a stand-in for a network call). The guest
// is compiled from Ent, negotiated against a policy, and run with runAsync:
// while a call is in flight the VM is suspended with all its state explicit
// and the event loop keeps running. Every call lands in the hash-chained
// trace; the image is then audited, which replays the run without the host.

import { Session, auditImage, compileSource, formatAudit, loadPolicy, verify, type CapHandler, type CapValue } from "../src/index.js";

const program = `
cap weather.temp([int]) -> int;

fn main() {
  let total = 0;
  let cities = ["Oslo", "Lima", "Perth"];
  for i in 0..len(cities) {
    let t = weather.temp(cities[i]);
    puts(cities[i]);
    print("  degrees:", t);
    total = total + t;
  }
  return total / len(cities);
}
`;

const FAKE_TEMPS: Record<string, number> = { Oslo: 4, Lima: 19, Perth: 27 };

// Only words cross the boundary: the city arrives as code points (a fresh
// Int32Array), the answer leaves as one int. A rejected promise would fault
// the calling process (cap_failed), never the host.
const weatherTemp: CapHandler = {
  sig: { args: ["array"], result: "int" },
  call(args): Promise<CapValue> {
    const city = String.fromCodePoint(...(args[0] as Int32Array));
    return new Promise((resolve) => setTimeout(() => resolve(FAKE_TEMPS[city] ?? 0), 20));
  },
};

async function main(): Promise<void> {
  const [entry] = compileSource(program, "weather.ent").modules;
  const module = verify(entry);
  // Grants for the root; a manifest capability the policy lacks would throw here, before anything runs.
  const policy = loadPolicy({ defaults: ["io.print"], allow: ["weather.temp"], custom: { "weather.temp": weatherTemp.sig } });
  const session = Session.start(module, { policy, handlers: { "weather.temp": weatherTemp } });

  let ticks = 0;
  const ticker = setInterval(() => ticks++, 5); // the event loop stays free while calls are in flight
  const r = await session.runAsync();
  clearInterval(ticker);
  console.log(`result ${r.value} (${r.status}); meanwhile the event loop ran ${ticks} ticker callback(s)`);

  // The image carries the trace; audit replays it without calling weather.temp again.
  const report = auditImage(session.snapshot());
  process.stdout.write(formatAudit(report));
}

void main();

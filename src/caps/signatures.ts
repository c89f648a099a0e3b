// Signatures of the built-in capabilities, shared by the runtime (argument
// marshalling) and the compiler (how a call site passes arguments). An array
// argument takes two words (ptr, len); an array result goes to the caller's
// inbox and the call pushes its length.

import type { CapSignature } from "./registry.js";

export const BUILTIN_SIGNATURES: Readonly<Record<string, CapSignature>> = {
  "io.print": { args: ["array"], result: "int" },
  "io.read": { args: [], result: "array" },
  "io.eprint": { args: ["array"], result: "int" },
  "clock.now": { args: [], result: "int" },
  "random.u32": { args: [], result: "int" },
  "random.bytes": { args: ["int"], result: "array" },
  "clock.mono": { args: [], result: "int" },
  "clock.sleep": { args: ["int"], result: "int" },
  "env.get": { args: ["array"], result: "array" },
  "log.write": { args: ["int", "array"], result: "int" },
  "kv.get": { args: ["array"], result: "array" },
  "kv.put": { args: ["array", "array"], result: "int" },
  "fs.read": { args: ["array"], result: "array" },
  "fs.write": { args: ["array", "array"], result: "int" },
  "fs.stat": { args: ["array"], result: "int" },
  "fs.list": { args: ["array"], result: "array" },
  "fs.mkdir": { args: ["array"], result: "int" },
  "fs.remove": { args: ["array"], result: "int" },
  "fs.rename": { args: ["array", "array"], result: "int" },
};

/** The signature of a built-in capability; scoped names (`fs.read:/data`) use their family's. */
export function builtinSignature(name: string): CapSignature | undefined {
  const base = name.replace(/@1$/, "").replace(/:.*$/, "");
  return BUILTIN_SIGNATURES[base];
}

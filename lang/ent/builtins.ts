// The built-in functions and constants of Ent, by name. Their typing lives in
// check.ts and their code in codegen.ts; this table is what makes a name
// built in (a user function may not take one of these names).

import { StatusCode } from "../../src/vm/opcodes.js";

/** Built-in functions with their arity (-1: any number of arguments). */
export const BUILTINS: Readonly<Record<string, number>> = {
  print: -1,
  puts: 1,
  len: 1,
  array: 1,
  copy: 1,
  resume: 1,
  result: 1,
  status: 1,
  refuel: 3,
  kill: 1,
  snapshot: 1,
  restore: 1,
  yield: 1,
  gas_left: 0,
  mem_left: 0,
  request: 1,
  request_args: 1,
  answer: 2,
};

export function isBuiltin(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(BUILTINS, name);
}

/** Status constants as guests see them (resume, status). */
export const STATUS_CONSTANTS: Readonly<Record<string, number>> = StatusCode;

export function statusConstant(name: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(STATUS_CONSTANTS, name) ? STATUS_CONSTANTS[name] : undefined;
}

/** The capability print and puts use. */
export const PRINT_CAP = "io.print";

// The machine-readable contract of the built-in capabilities (`rar caps`,
// the table of spec/capabilities.md): each entry derived from the one table
// (signatures.ts) and, for gas, from the CAP row of the opcode table.

import { GAS, Op, WORDS_PER_GAS, wordGas } from "../vm/opcodes.js";
import { BUILTIN_NAMES, BUILTIN_SIGNATURES, type CallConvention, type CapSpec, type ValueType } from "./signatures.js";

export interface CapValueContract {
  readonly name: string;
  readonly type: ValueType;
}

/** What a CAP call of the capability costs: `base + ⌈w/wordsPerGas⌉`, w its argument words. */
export interface CapGasContract {
  /** The CAP instruction's base gas. */
  readonly base: number;
  readonly wordsPerGas: number;
  /** The cost in terms of the arguments: an int counts 1 word, an array its length. */
  readonly formula: string;
}

export interface CapContract {
  readonly name: string;
  readonly version: number;
  readonly args: readonly CapValueContract[];
  readonly result: CapValueContract;
  readonly call: CallConvention;
  /** How a grant is written (`fs.read:DIR`; optional parts in brackets), null when the family takes no scope. */
  readonly scope: string | null;
  /** Whether `:real` selects the host's real clock or generator instead of the virtual one. */
  readonly real: boolean;
  readonly gas: CapGasContract;
  /** Whether a call changes something outside the process tree. */
  readonly effect: boolean;
  readonly doc: string;
}

/** How each scope kind is written after `family`. */
const SCOPE_SYNTAX: Readonly<Record<CapSpec["scope"], string | null>> = {
  none: null,
  real: "[:real]",
  dir: ":DIR | :tree:/PATH",
  prefix: "[:PREFIX]",
  key: ":KEY",
  origin: ":ORIGIN",
};

/** The gas of one call in terms of its arguments. */
function gasFormula(spec: CapSpec): string {
  const base = GAS[Op.CAP];
  let ints = 0;
  const arrays: string[] = [];
  spec.args.forEach((t, i) => (t === "int" ? ints++ : arrays.push(`len(${spec.names[i]})`)));
  if (arrays.length === 0) return String(base + wordGas(ints));
  const words = [...arrays, ...(ints > 0 ? [String(ints)] : [])];
  return `${base} + ⌈${words.length > 1 ? `(${words.join(" + ")})` : words[0]}/${WORDS_PER_GAS}⌉`;
}

/** The contract of one built-in capability. */
export function capContract(name: string): CapContract {
  const spec = BUILTIN_SIGNATURES[name];
  const syntax = SCOPE_SYNTAX[spec.scope];
  return {
    name,
    version: spec.version,
    args: spec.args.map((type, i) => ({ name: spec.names[i], type })),
    result: { name: spec.returns, type: spec.result },
    call: spec.call,
    scope: syntax === null ? null : name + syntax,
    real: spec.scope === "real",
    gas: { base: GAS[Op.CAP], wordsPerGas: WORDS_PER_GAS, formula: gasFormula(spec) },
    effect: spec.effect,
    doc: spec.doc,
  };
}

/** Every built-in capability's contract, sorted by name. */
export function capsContract(): CapContract[] {
  return BUILTIN_NAMES.map(capContract);
}

/** A contract's signature as one line: `(path:array, bytes:array) -> n:int`. */
export function signatureText(c: CapContract): string {
  return `(${c.args.map((a) => `${a.name}:${a.type}`).join(", ")}) -> ${c.result.name}:${c.result.type}`;
}

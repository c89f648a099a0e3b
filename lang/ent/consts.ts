// Constant declarations (`const N = 2 * M + 1;`): their values, computed
// without host recursion. A constant may name constants declared later or in
// a trusted import, so declarations are resolved depth-first with an explicit
// stack of evaluations: one that meets a constant not known yet suspends
// there, that constant is evaluated first, then the suspended one resumes
// where it stopped. Each evaluation keeps its own work list and value stack,
// so neither a chain of a million constants (C1 = C0 + 1, C2 = C1 + 1, ...)
// nor an operator chain of a million terms needs JS stack.

import type { BinaryExpr, ConstDecl, Expr, UnaryExpr } from "./ast.js";
import { statusConstant } from "./builtins.js";
import type { Pos } from "./errors.js";

export type ConstValue = { readonly kind: "const"; readonly value: number } | { readonly kind: "const_str"; readonly codes: readonly number[] };

/** Visit an expression, or apply an operator to the values its operands left. */
type Task = { readonly apply: false; readonly e: Expr } | { readonly apply: true; readonly e: UnaryExpr | BinaryExpr };

/** The evaluation of one declaration, resumable. */
interface Evaluation<U> {
  readonly decl: ConstDecl;
  readonly unit: U;
  readonly todo: Task[];
  readonly values: number[];
}

/** Where a constant's names are looked up (`U` is the checker's unit of the declaration). */
export interface ConstScope<U> {
  unitOf(d: ConstDecl): U;
  /** The declaration a name refers to from `unit`, if it names a constant. */
  find(path: readonly string[], unit: U): ConstDecl | undefined;
  fail(pos: Pos, message: string): never;
}

export class Constants<U> {
  private readonly values = new Map<ConstDecl, ConstValue | "busy">();

  constructor(private readonly scope: ConstScope<U>) {}

  /** The value of a declaration, evaluating it (and what it names) the first time. */
  value(d: ConstDecl): ConstValue {
    const known = this.values.get(d);
    if (known === "busy") this.scope.fail(d.pos, `constant '${d.name}' refers to itself`);
    if (known) return known;
    const stack: Evaluation<U>[] = [this.start(d)];
    while (stack.length > 0) {
      const need = this.resume(stack[stack.length - 1]);
      if (need === null) stack.pop();
      else stack.push(this.start(need));
    }
    return this.values.get(d) as ConstValue;
  }

  private start(d: ConstDecl): Evaluation<U> {
    this.values.set(d, "busy");
    return { decl: d, unit: this.scope.unitOf(d), todo: [{ apply: false, e: d.value }], values: [] };
  }

  /**
   * Runs an evaluation until it finishes (its value stored; null) or meets a
   * constant not evaluated yet (returned; the task naming it stays on top).
   * Operands are visited left before right, so errors come in source order.
   */
  private resume(ev: Evaluation<U>): ConstDecl | null {
    const { decl, todo, values } = ev;
    const fail: (pos: Pos, message: string) => never = (pos, message) => this.scope.fail(pos, message);
    if (decl.value.kind === "str") {
      this.values.set(decl, { kind: "const_str", codes: decl.value.codes });
      return null;
    }
    while (todo.length > 0) {
      const t = todo[todo.length - 1];
      if (t.apply) {
        todo.pop();
        const e = t.e;
        if (e.kind === "unary") {
          const a = values.pop() as number;
          values.push(e.op === "-" ? -a | 0 : e.op === "!" ? (a === 0 ? 1 : 0) : ~a);
        } else {
          const b = values.pop() as number;
          const a = values.pop() as number;
          const r = foldBinary(e.op, a, b);
          if (r === undefined) fail(e.pos, b === 0 ? "division by zero in a constant" : "integer overflow in a constant");
          values.push(r);
        }
        continue;
      }
      const e = t.e;
      switch (e.kind) {
        case "int":
          todo.pop();
          values.push(e.value);
          break;
        case "name": {
          const name = e.path.join(".");
          const s = statusConstant(name);
          if (s !== undefined && e.path.length === 1) {
            todo.pop();
            values.push(s);
            break;
          }
          const d = this.scope.find(e.path, ev.unit);
          if (!d) fail(e.pos, `'${name}' is not a constant`);
          const v = this.values.get(d);
          if (v === undefined) return d;
          if (v === "busy") fail(d.pos, `constant '${d.name}' refers to itself`);
          if (v.kind !== "const") fail(e.pos, `'${name}' is a string, not an int`);
          todo.pop();
          values.push(v.value);
          break;
        }
        case "unary":
          todo.pop();
          todo.push({ apply: true, e }, { apply: false, e: e.operand });
          break;
        case "binary":
          todo.pop();
          todo.push({ apply: true, e }, { apply: false, e: e.right }, { apply: false, e: e.left });
          break;
        default:
          fail(e.pos, "a constant must be an integer expression or a string literal");
      }
    }
    this.values.set(decl, { kind: "const", value: values[0] });
    return null;
  }
}

/** i32 result of a binary operator, or undefined where the VM faults (÷0, INT_MIN / -1). */
export function foldBinary(op: string, a: number, b: number): number | undefined {
  switch (op) {
    case "+":
      return (a + b) | 0;
    case "-":
      return (a - b) | 0;
    case "*":
      return Math.imul(a, b);
    case "/":
      if (b === 0 || (a === -2147483648 && b === -1)) return undefined;
      return (a / b) | 0;
    case "%":
      if (b === 0) return undefined;
      return b === -1 ? 0 : a % b | 0;
    case "&":
      return a & b;
    case "|":
      return a | b;
    case "^":
      return a ^ b;
    case "<<":
      return a << b;
    case ">>":
      return a >> b;
    case "==":
      return a === b ? 1 : 0;
    case "!=":
      return a !== b ? 1 : 0;
    case "<":
      return a < b ? 1 : 0;
    case "<=":
      return a <= b ? 1 : 0;
    case ">":
      return a > b ? 1 : 0;
    case ">=":
      return a >= b ? 1 : 0;
    case "&&":
      return a !== 0 && b !== 0 ? 1 : 0;
    case "||":
      return a !== 0 || b !== 0 ? 1 : 0;
    default:
      return undefined;
  }
}

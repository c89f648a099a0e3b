// Host capabilities: typed signatures and handlers. Only words cross the
// boundary: handlers receive copies (numbers and fresh Int32Arrays) and return
// copies, so guest values never alias host objects.

export type ValueType = "int" | "array";

export interface CapSignature {
  readonly args: readonly ValueType[];
  readonly result: ValueType;
}

export type CapValue = number | Int32Array;

export interface CapContext {
  /** Process path of the caller ("0.2"). */
  readonly path: string;
  /** Scopes the caller holds for this capability family ("" for an unscoped grant), sorted. */
  readonly scopes: readonly string[];
}

export interface CapHandler {
  readonly sig: CapSignature;
  call(args: CapValue[], ctx: CapContext): CapValue | Promise<CapValue>;
}

/** Words an argument list occupies on the operand stack: an int is 1, an array is (ptr, len). */
export function argWords(sig: CapSignature): number {
  let n = 0;
  for (const t of sig.args) n += t === "int" ? 1 : 2;
  return n;
}

/** The family of a capability name: `fs.read:/data` -> `fs.read`, `io.print@1` -> `io.print`. */
export function capFamily(name: string): string {
  return canonicalCap(name).replace(/:.*$/, "");
}

/** The scope of a capability name: `fs.read:/data` -> `/data`, `io.print` -> "". */
export function capScope(name: string): string {
  const c = canonicalCap(name);
  const i = c.indexOf(":");
  return i < 0 ? "" : c.slice(i + 1);
}

/** `io.print@1` and `io.print` name the same capability; scopes (`fs.read:/d`) are kept. */
export function canonicalCap(name: string): string {
  const m = /^([a-z][a-z0-9_.]*)(?:@1)?(:.*)?$/.exec(name);
  return m ? m[1] + (m[2] ?? "") : name;
}

/** Text of code points, as io.print writes it. Invalid code points become U+FFFD. */
export function codePointsToText(a: Int32Array): string {
  let s = "";
  for (let i = 0; i < a.length; i++) {
    const c = a[i];
    s += c >= 0 && c <= 0x10ffff && !(c >= 0xd800 && c <= 0xdfff) ? String.fromCodePoint(c) : "\uFFFD";
  }
  return s;
}

export class CapRegistry {
  private readonly handlers = new Map<string, CapHandler>();

  register(name: string, handler: CapHandler): this {
    this.handlers.set(canonicalCap(name), handler);
    return this;
  }

  get(name: string): CapHandler | undefined {
    return this.handlers.get(canonicalCap(name));
  }

  /** Registered names, sorted (never host iteration order). */
  names(): string[] {
    return [...this.handlers.keys()].sort();
  }
}

/** Where a host sends guest output. */
export interface HostIO {
  stdout(text: string): void;
}

/** The built-in capabilities of the VM core: io.print writes one line of code points. */
export function builtinCaps(io: HostIO): CapRegistry {
  return new CapRegistry().register("io.print", {
    sig: { args: ["array"], result: "int" },
    call(args) {
      io.stdout(codePointsToText(args[0] as Int32Array) + "\n");
      return 0;
    },
  });
}

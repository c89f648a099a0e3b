// The Ent workloads (issues 5 and 16): six programs written in Ent, each with
// its plain-JS twin (the same algorithm on i32 values, arrays as Int32Array),
// shared by the Ent group (compiled tier vs plain JS), the peers group
// (interpreter only vs quickjs-emscripten and js-interpreter running the twin)
// and test/tiers-gas.test.ts (gas used is the same in both tiers).
//
// A twin is JavaScript text, self-contained (it calls only itself and
// functions nested in it): the host makes it a function, and a peer
// evaluates the same text (peerSource()).

export interface EntWorkload {
  /** Short name: the metric keys are ent_<key>_vs_native and so on. */
  key: string;
  label: (args: readonly number[]) => string;
  source: string;
  /** The program's arguments at a size factor (1 for `npm run bench`, smaller for --quick and tests). */
  args: (scale: number) => number[];
  /** The plain-JS twin's text: one function declaration (nested ones inside), calling nothing else. */
  js: string;
  /** The twin's name. */
  name: string;
  /** The twin as a host function; returns what the Ent program returns. */
  native: (...args: number[]) => number;
}

const FIB_ENT = `
fn fib(n) {
  if n < 2 { return n; }
  return fib(n - 1) + fib(n - 2);
}
fn main(args) { return fib(args[0]); }
`;

const FIB_JS = `
function jsFib(n) {
  return n < 2 ? n : (jsFib(n - 1) + jsFib(n - 2)) | 0;
}`;

const LOOP_ENT = `
fn count(n) {
  let i = 0;
  while i < n { i = i + 1; }
  return i;
}
fn main(args) { return count(args[0]); }
`;

const COUNT_JS = `
function jsCount(n) {
  let i = 0;
  while (i < n) i = (i + 1) | 0;
  return i;
}`;

const SIEVE_ENT = `
fn sieve(n) {
  let a = array(n + 1);
  let c = 0;
  for i in 2..len(a) {
    if a[i] == 0 {
      c = c + 1;
      let j = i + i;
      while j <= n { a[j] = 1; j = j + i; }
    }
  }
  return c;
}
fn main(args) {
  let s = 0;
  for k in 0..args[1] { s = s + sieve(args[0]); }
  return s;
}
`;

const SIEVES_JS = `
function jsSieves(n, times) {
  let s = 0;
  for (let k = 0; k < times; k++) {
    const a = new Int32Array(n + 1);
    let c = 0;
    for (let i = 2; i < a.length; i++) {
      if (a[i] === 0) {
        c = (c + 1) | 0;
        let j = i + i;
        while (j <= n) {
          a[j] = 1;
          j = (j + i) | 0;
        }
      }
    }
    s = (s + c) | 0;
  }
  return s;
}`;

/** Fannkuch-redux (the Computer Language Benchmarks Game's, one thread): checksum * 1000 + max flips. */
const FANNKUCH_ENT = `
fn fannkuch(n) {
  let perm = array(n);
  let perm1 = array(n);
  let count = array(n);
  for i in 0..n { perm1[i] = i; }
  let r = n;
  let maxflips = 0;
  let checksum = 0;
  let odd = 0;
  while true {
    while r != 1 { count[r - 1] = r; r = r - 1; }
    for i in 0..n { perm[i] = perm1[i]; }
    let flips = 0;
    let k = perm[0];
    while k != 0 {
      let i = 0;
      let j = k;
      while i < j {
        let t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        i = i + 1;
        j = j - 1;
      }
      flips = flips + 1;
      k = perm[0];
    }
    if flips > maxflips { maxflips = flips; }
    if odd == 0 { checksum = checksum + flips; } else { checksum = checksum - flips; }
    while true {
      if r == n { return checksum * 1000 + maxflips; }
      let p0 = perm1[0];
      for i in 0..r { perm1[i] = perm1[i + 1]; }
      perm1[r] = p0;
      count[r] = count[r] - 1;
      if count[r] > 0 { break; }
      r = r + 1;
    }
    odd = 1 - odd;
  }
  return 0;
}
fn main(args) { return fannkuch(args[0]); }
`;

const FANNKUCH_JS = `
function jsFannkuch(n) {
  const perm = new Int32Array(n);
  const perm1 = new Int32Array(n);
  const count = new Int32Array(n);
  for (let i = 0; i < n; i++) perm1[i] = i;
  let r = n;
  let maxflips = 0;
  let checksum = 0;
  let odd = 0;
  for (;;) {
    while (r !== 1) {
      count[r - 1] = r;
      r = r - 1;
    }
    for (let i = 0; i < n; i++) perm[i] = perm1[i];
    let flips = 0;
    let k = perm[0];
    while (k !== 0) {
      let i = 0;
      let j = k;
      while (i < j) {
        const t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        i = i + 1;
        j = j - 1;
      }
      flips = flips + 1;
      k = perm[0];
    }
    if (flips > maxflips) maxflips = flips;
    checksum = odd === 0 ? (checksum + flips) | 0 : (checksum - flips) | 0;
    for (;;) {
      if (r === n) return (Math.imul(checksum, 1000) + maxflips) | 0;
      const p0 = perm1[0];
      for (let i = 0; i < r; i++) perm1[i] = perm1[i + 1];
      perm1[r] = p0;
      count[r] = count[r] - 1;
      if (count[r] > 0) break;
      r = r + 1;
    }
    odd = 1 - odd;
  }
}`;

/**
 * Integer n-body: five bodies in fixed point, every pair pulling on each
 * other (a force divided by a Manhattan distance), positions kept in 20 bits.
 * Returns a checksum of the final state.
 */
const NBODY_ENT = `
fn nbody(steps) {
  let n = 5;
  let x = array(n);
  let y = array(n);
  let z = array(n);
  let vx = array(n);
  let vy = array(n);
  let vz = array(n);
  let m = array(n);
  let seed = 12345;
  for i in 0..n {
    seed = seed * 1103515245 + 12345;
    x[i] = (seed >> 8) & 0xFFFFF;
    seed = seed * 1103515245 + 12345;
    y[i] = (seed >> 8) & 0xFFFFF;
    seed = seed * 1103515245 + 12345;
    z[i] = (seed >> 8) & 0xFFFFF;
    m[i] = 1 + i * 3;
  }
  for s in 0..steps {
    for i in 0..n {
      for j in i + 1..n {
        let dx = x[i] - x[j];
        let dy = y[i] - y[j];
        let dz = z[i] - z[j];
        let d = (((dx ^ (dx >> 31)) + (dy ^ (dy >> 31)) + (dz ^ (dz >> 31))) & 0xFFFF) + 1;
        vx[i] = vx[i] - dx * m[j] / d;
        vy[i] = vy[i] - dy * m[j] / d;
        vz[i] = vz[i] - dz * m[j] / d;
        vx[j] = vx[j] + dx * m[i] / d;
        vy[j] = vy[j] + dy * m[i] / d;
        vz[j] = vz[j] + dz * m[i] / d;
      }
    }
    for i in 0..n {
      x[i] = (x[i] + vx[i]) & 0xFFFFF;
      y[i] = (y[i] + vy[i]) & 0xFFFFF;
      z[i] = (z[i] + vz[i]) & 0xFFFFF;
    }
  }
  let sum = 0;
  for i in 0..n { sum = sum * 31 + x[i] + y[i] * 7 + z[i] * 13 + vx[i] + vy[i] + vz[i]; }
  return sum;
}
fn main(args) { return nbody(args[0]); }
`;

const NBODY_JS = `
function jsNbody(steps) {
  const n = 5;
  const x = new Int32Array(n);
  const y = new Int32Array(n);
  const z = new Int32Array(n);
  const vx = new Int32Array(n);
  const vy = new Int32Array(n);
  const vz = new Int32Array(n);
  const m = new Int32Array(n);
  let seed = 12345;
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) | 0;
    x[i] = (seed >> 8) & 0xfffff;
    seed = (Math.imul(seed, 1103515245) + 12345) | 0;
    y[i] = (seed >> 8) & 0xfffff;
    seed = (Math.imul(seed, 1103515245) + 12345) | 0;
    z[i] = (seed >> 8) & 0xfffff;
    m[i] = 1 + i * 3;
  }
  for (let s = 0; s < steps; s++) {
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const dx = (x[i] - x[j]) | 0;
        const dy = (y[i] - y[j]) | 0;
        const dz = (z[i] - z[j]) | 0;
        const d = ((((dx ^ (dx >> 31)) + (dy ^ (dy >> 31)) + (dz ^ (dz >> 31))) | 0) & 0xffff) + 1;
        vx[i] = vx[i] - ((Math.imul(dx, m[j]) / d) | 0);
        vy[i] = vy[i] - ((Math.imul(dy, m[j]) / d) | 0);
        vz[i] = vz[i] - ((Math.imul(dz, m[j]) / d) | 0);
        vx[j] = vx[j] + ((Math.imul(dx, m[i]) / d) | 0);
        vy[j] = vy[j] + ((Math.imul(dy, m[i]) / d) | 0);
        vz[j] = vz[j] + ((Math.imul(dz, m[i]) / d) | 0);
      }
    }
    for (let i = 0; i < n; i++) {
      x[i] = (x[i] + vx[i]) & 0xfffff;
      y[i] = (y[i] + vy[i]) & 0xfffff;
      z[i] = (z[i] + vz[i]) & 0xfffff;
    }
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum = (Math.imul(sum, 31) + x[i] + Math.imul(y[i], 7) + Math.imul(z[i], 13) + vx[i] + vy[i] + vz[i]) | 0;
  }
  return sum;
}`;

/** Quicksort (Hoare partition, middle pivot) of n pseudo-random ints; returns a checksum of the sorted array. */
const SORT_ENT = `
fn qsort(a, lo, hi) {
  while lo < hi {
    let p = a[lo + (hi - lo) / 2];
    let i = lo;
    let j = hi;
    while i <= j {
      while a[i] < p { i = i + 1; }
      while a[j] > p { j = j - 1; }
      if i <= j {
        let t = a[i];
        a[i] = a[j];
        a[j] = t;
        i = i + 1;
        j = j - 1;
      }
    }
    if j - lo < hi - i {
      qsort(a, lo, j);
      lo = i;
    } else {
      qsort(a, i, hi);
      hi = j;
    }
  }
  return 0;
}
fn main(args) {
  let n = args[0];
  let a = array(n);
  let seed = 42;
  for i in 0..n {
    seed = seed * 1103515245 + 12345;
    a[i] = seed >> 4;
  }
  qsort(a, 0, n - 1);
  let sum = 0;
  for i in 0..n { sum = sum * 31 + a[i]; }
  return sum;
}
`;

const SORT_JS = `
function jsSort(n) {
  const a = new Int32Array(n);
  let seed = 42;
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) | 0;
    a[i] = seed >> 4;
  }
  function qsort(lo, hi) {
    while (lo < hi) {
      const p = a[lo + (((hi - lo) / 2) | 0)];
      let i = lo;
      let j = hi;
      while (i <= j) {
        while (a[i] < p) i = i + 1;
        while (a[j] > p) j = j - 1;
        if (i <= j) {
          const t = a[i];
          a[i] = a[j];
          a[j] = t;
          i = i + 1;
          j = j - 1;
        }
      }
      if (j - lo < hi - i) {
        qsort(lo, j);
        lo = i;
      } else {
        qsort(i, hi);
        hi = j;
      }
    }
  }
  qsort(0, n - 1);
  let sum = 0;
  for (let i = 0; i < n; i++) sum = (Math.imul(sum, 31) + a[i]) | 0;
  return sum;
}`;

const size = (n: number, scale: number, least: number): number => Math.max(least, Math.round(n * scale));
const fmtN = (n: number): string => n.toLocaleString("en-US");

/** A twin's text made into a host function (V8 compiles it like any other code). */
function twin(js: string): { js: string; name: string; native: (...args: number[]) => number } {
  const name = (/function (\w+)/.exec(js) as RegExpExecArray)[1];
  return { js, name, native: new Function(`${js}\nreturn ${name};`)() as (...args: number[]) => number };
}

export const ENT_WORKLOADS: readonly EntWorkload[] = [
  { key: "fib", label: ([n]) => `fib(${n})`, source: FIB_ENT, args: (s) => [s >= 1 ? 27 : s >= 0.05 ? 20 : 12], ...twin(FIB_JS) },
  { key: "loop", label: ([n]) => `counting loop (${fmtN(n)} iterations)`, source: LOOP_ENT, args: (s) => [size(5_000_000, s, 100)], ...twin(COUNT_JS) },
  {
    key: "sieve",
    label: ([n, k]) => `sieve of ${fmtN(n)}, ${k} times`,
    source: SIEVE_ENT,
    args: (s) => [size(200_000, s, 100), 5],
    ...twin(SIEVES_JS),
  },
  {
    key: "fannkuch",
    label: ([n]) => `fannkuch-redux n=${n}`,
    source: FANNKUCH_ENT,
    args: (s) => [s >= 1 ? 9 : s >= 0.05 ? 7 : 5],
    ...twin(FANNKUCH_JS),
  },
  {
    key: "nbody",
    label: ([n]) => `integer n-body, ${fmtN(n)} steps`,
    source: NBODY_ENT,
    args: (s) => [size(200_000, s, 20)],
    ...twin(NBODY_JS),
  },
  { key: "sort", label: ([n]) => `quicksort of ${fmtN(n)} ints`, source: SORT_ENT, args: (s) => [size(100_000, s, 50)], ...twin(SORT_JS) },
];

/**
 * The twin as a program a JS peer evaluates: its text and a call. With
 * `es5`, for an ES5 interpreter: `let`/`const` become `var` (no twin relies
 * on block scope), typed arrays zero-filled arrays, and Math.imul a function
 * of 16-bit halves.
 */
export function peerSource(w: EntWorkload, args: readonly number[], es5: boolean): string {
  const call = `${w.name}(${args.join(", ")});`;
  if (!es5) return `${w.js}\n${call}`;
  const body = w.js
    .replace(/\b(let|const)\b/g, "var")
    .replace(/new Int32Array\(/g, "zeros(")
    .replace(/Math\.imul\(/g, "imul(");
  return `${ES5_PRELUDE}\n${body}\n${call}`;
}

const ES5_PRELUDE = `
function zeros(n) { var a = []; for (var i = 0; i < n; i++) a.push(0); return a; }
function imul(a, b) {
  var al = a & 0xffff, bl = b & 0xffff;
  return (al * bl + ((((a >>> 16) * bl + al * (b >>> 16)) & 0xffff) << 16)) | 0;
}`;

// Guest workloads shared by several groups, as inline `.rasm`, each with its
// plain-JS twin (the same algorithm on i32 values) and its exact instruction
// count, so "metered instructions per second" counts instructions, not gas.

/** Counting loop: count(n) runs `i += 1` until i >= n. 5 instructions per iteration. */
export const COUNT_FN = `
.func count 1 2          ; count(n): local 1 = i
loop:   LINC 1 1
        LGET 1
        LGET 0
        LT
        JNZ loop
        LGET 1
        RET
`;

export const LOOP_RASM = `
.module bench_loop
.func main 0
        PUSH 0
        LOAD 1           ; n = args[0]
        CALL count
        RET
${COUNT_FN}`;

/** Instructions executed by LOOP_RASM for n >= 1. */
export function loopInstructions(n: number): number {
  return 4 + 5 * n + 2;
}

export function nativeCount(n: number): number {
  let i = 0;
  do i = (i + 1) | 0;
  while (i < n);
  return i;
}

/** Recursive fib, same shape as examples/asm/fib.rasm. */
export const FIB_RASM = `
.module bench_fib
.func main 0
        PUSH 0
        LOAD 1           ; n = args[0]
        CALL fib
        RET

.func fib 1
        LGET 0
        PUSH 2
        LT
        JZ recurse
        LGET 0
        RET
recurse:
        LGET 0
        ADDI -1
        CALL fib
        LGET 0
        ADDI -2
        CALL fib
        ADD
        RET
`;

/** Instructions executed by FIB_RASM: 6 per leaf call, 12 per inner call, 4 in main. */
export function fibInstructions(n: number): number {
  let a = 6; // I(0)
  let b = 6; // I(1)
  if (n < 2) return 4 + 6;
  for (let k = 2; k <= n; k++) {
    const c = 12 + a + b;
    a = b;
    b = c;
  }
  return 4 + b;
}

export function nativeFib(n: number): number {
  return n < 2 ? n : (nativeFib(n - 1) + nativeFib(n - 2)) | 0;
}

/** Words in the memory workload's array. */
export const MEM_WORDS = 4096;

/**
 * Load/store loop: `passes` times over an array of MEM_WORDS words,
 * a[i] = a[i-1] + i. Returns the last element.
 */
export const MEMORY_RASM = `
.module bench_memory
.func main 0 5           ; 0 passes, 1 i, 2 pass, 3 base, 4 end
        PUSH 0
        LOAD 1
        LSET 0
        PUSH ${MEM_WORDS + 1}
        MGROW            ; old size = base of a[-1..MEM_WORDS)
        LTEE 3
        ADDI ${MEM_WORDS + 1}
        LSET 4
pass:   LGET 3
        ADDI 1
        LSET 1
inner:  LGET 1
        LGET 1
        LOAD -1          ; a[i-1]
        LGET 1
        ADD
        STORE 0          ; a[i] := a[i-1] + i
        LINC 1 1
        LGET 1
        LGET 4
        LT
        JNZ inner
        LINC 2 1
        LGET 2
        LGET 0
        LT
        JNZ pass
        LGET 4
        LOAD -1
        RET
`;

export function memoryInstructions(passes: number): number {
  return 8 + passes * (3 + MEM_WORDS * 11 + 5) + 3;
}

export function nativeMemory(passes: number): number {
  const base = 2;
  const mem = new Int32Array(base + MEM_WORDS + 1);
  const end = base + MEM_WORDS + 1;
  let pass = 0;
  do {
    let i = base + 1;
    do {
      mem[i] = (mem[i - 1] + i) | 0;
      i++;
    } while (i < end);
    pass++;
  } while (pass < passes);
  return mem[end - 1];
}

/**
 * A chain of processes: nest(d, n) spawns nest(d-1, n) as a child and resumes
 * it, until d = 0 runs count(n). The loop therefore runs at tree depth `d`.
 */
export const DEPTH_RASM = `
.module bench_depth
.func main 0
        PUSH 0
        LOAD 1           ; depth
        PUSH 0
        LOAD 2           ; n
        CALL nest
        RET

.func nest 2 3           ; nest(d, n): local 2 = child handle
        LGET 0
        JZ work
        LGET 0
        ADDI -1
        LGET 1
        PUSH 0           ; no memory copied
        PUSH 0
        PUSH 2147483647  ; gas limit (an intent; the root's budget still bounds it)
        PUSH 2147483647  ; memory limit
        PUSH 0           ; no capabilities granted
        PUSH 0           ; none trapped
        SPAWN nest
        LTEE 2
        RESUME
        POP
        LGET 2
        RESULT
        RET
work:   LGET 1
        CALL count
        RET
${COUNT_FN}`;

/** spawn + resume + result + kill of a tiny child, n times, from a guest loop. */
export const SPAWN_RASM = spawnLoop(true);

/** The same without the kill: every child stays alive (done, its result readable) until the root ends. */
export const LIVE_SPAWN_RASM = spawnLoop(false);

function spawnLoop(kill: boolean): string {
  return `
.module bench_spawn
.func main 0 4           ; 0 n, 1 i, 2 handle, 3 sum
        PUSH 0
        LOAD 1
        LSET 0
loop:   LGET 1           ; the child's argument
        PUSH 0
        PUSH 0
        PUSH 1000        ; gas
        PUSH 256         ; memory words
        PUSH 0
        PUSH 0
        SPAWN tiny
        LTEE 2
        RESUME
        POP
        LGET 2
        RESULT
        LGET 3
        ADD
        LSET 3
${kill ? "        LGET 2\n        KILL\n" : ""}        LINC 1 1
        LGET 1
        LGET 0
        LT
        JNZ loop
        LGET 3
        RET

.func tiny 1
        LGET 0
        ADDI 1
        RET
`;
}

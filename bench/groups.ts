// The registry of metric groups, run in this order by `npm run bench`.
//
// To add a group: write `run(ctx): GroupResult` in its own file under bench/
// (metrics as flat `key: number`, plus rows for the table), export a
// BenchGroup, and add it here. Keep each group to a few seconds.

import type { BenchGroup } from "./harness.js";
import { calibrationGroup } from "./calibrate.js";
import { capsGroup } from "./caps.js";
import { debugGroup } from "./debug.js";
import { entGroup } from "./ent.js";
import { gpGroup } from "./gp.js";
import { hostMemoryGroup } from "./hostmem.js";
import { imagesGroup } from "./images.js";
import { peersGroup } from "./peers.js";
import { startupGroup } from "./startup.js";
import { depthGroup, spawnGroup } from "./tree.js";
import { vfsGroup } from "./vfs.js";
import { vmGroup } from "./vm.js";

export const GROUPS: readonly BenchGroup[] = [
  // issue 2: the VM core
  vmGroup, // loop_minstr_per_s, calls_minstr_per_s, memory_minstr_per_s, fib_vs_native, loop_vs_native, memory_vs_native
  depthGroup, // depth100_vs_depth1
  spawnGroup, // spawn_run_per_s, live_spawn_vs_killed
  hostMemoryGroup, // host_bytes_per_guest_word, host_bytes_per_process, host_bytes_per_charged_word, host_bytes_per_process_vs_charged, host_bytes_per_added_process, host_amplification_<case>, host_amplification_max
  calibrationGroup, // gas_calibration_spread, ns_per_gas_<group>
  peersGroup, // <workload>_<peer>_vs_native, <workload>_vm_vs_<peer>, ent_<workload>_<peer>_vs_native, ent_<workload>_interp_vs_<peer>, interp_vs_quickjs_max
  imagesGroup, // issues 3, 16: snapshot_ms_1m_words, restore_ms_1m_words, <what>_vs_floor (1m, small, tree), tiny_image_bytes, image_bytes_per_memory_byte
  capsGroup, // issue 4: cap_call_ns, trace_overhead_ratio
  entGroup, // issues 5, 16: ent_<fib|loop|sieve|fannkuch|nbody|sort>_vs_native
  gpGroup, // issues 6, 15: gp_evals_per_s (faithful smallest), gp_tuned_evals_per_s, gp_run_evals_per_s
  startupGroup, // startup_vs_node, startup_rasm_vs_node, startup_node_ms, startup_ms
  debugGroup, // issue 12: trace_record_overhead, debug_jump_ms, debug_index_ms, debug_run_steps, view_html_bytes
  vfsGroup, // issue 14: vfs_write_read_mb_per_s, vfs_image_bytes_vs_files
];

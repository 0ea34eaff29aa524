// The built model workers run burn's CPU backend with WebAssembly SIMD (.cargo/config.toml): its
// functions hold SIMD instructions, where a build without `+simd128` has none (its SIMD layer,
// macerator, is inlined into them). gemm's simd128 matrix kernels are compiled into any build,
// so they alone would prove nothing here: gemm chooses them at run time, and
// `matrix_products_in_the_browser_use_gemms_simd_kernels` (engine/tests/device.rs) checks that
// choice. Reads the dev build's function names, which `trunk build` keeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { DIST } from './support/harness.mjs';

// An instruction line of `wasm-objdump -d`: `offset: bytes | mnemonic immediates`.
const LANES = /\|\s*(?:v128|[if](?:8|16|32|64)x\d+)\./;
// A function's first line: `offset func[index] <name>:`, the name maybe `<impl crate::…>` or
// `<Type as crate::Trait>`.
const FUNCTION = /^[0-9a-f]+ func\[\d+\]/;
const CRATE = /^[0-9a-f]+ func\[\d+\] <<?(?:impl )?([a-z_][a-z0-9_]*)::/;
const WORKERS = ['tempokd-cpu-worker', 'tempokd-worker'];

/** SIMD instructions per crate, from the disassembly of `file` (wabt's wasm-objdump, which
 * takes seconds where binaryen's wasm-dis built to JavaScript took minutes). */
async function simdByCrate(file) {
  const dis = spawn('wasm-objdump', ['-d', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  // The disassembly runs to gigabytes of indented lines; grep keeps the few that count.
  const kept = spawn('grep', ['-E', '^[0-9a-f]+ func\\[|\\|\\s*(v128|[if](8|16|32|64)x[0-9]+)\\.'],
    { stdio: [dis.stdout, 'pipe', 'inherit'] });
  const ended = Promise.all([dis, kept].map((child) => new Promise((resolve) => child.on('exit', resolve))));
  const counts = new Map();
  let functions = 0;
  let named = 0;
  let crate = null;
  for await (const line of createInterface({ input: kept.stdout })) {
    if (FUNCTION.test(line)) {
      functions += 1;
      crate = CRATE.exec(line)?.[1] ?? null;
      if (crate !== null) named += 1;
    } else if (crate !== null && LANES.test(line)) {
      counts.set(crate, (counts.get(crate) ?? 0) + 1);
    }
  }
  const [code, grepCode] = await ended;
  assert.equal(code, 0, `wasm-objdump -d ${file} exited with ${code}`);
  assert.equal(grepCode, 0, `grep of wasm-objdump's lines exited with ${grepCode}`);
  assert.ok(functions > 0, `${file}: wasm-objdump listed no function`);
  assert.ok(named > functions / 2,
    `${file}: ${named} of ${functions} functions are named; test a dev build (trunk build), which keeps the names`);
  return counts;
}

test('both model workers run burn\'s CPU backend with SIMD instructions', async () => {
  // Both disassemblies at once, one a core.
  const counted = await Promise.all(WORKERS.map((worker) => simdByCrate(join(DIST, `${worker}_bg.wasm`))));
  for (const [index, counts] of counted.entries()) {
    const flex = counts.get('burn_flex') ?? 0;
    console.log(`${WORKERS[index]}: ${flex} SIMD instructions in burn_flex, ${counts.get('gemm_f32') ?? 0} in gemm_f32`);
    assert.ok(flex > 0, `${WORKERS[index]}: no SIMD instruction in burn's CPU backend (burn_flex)`);
  }
});

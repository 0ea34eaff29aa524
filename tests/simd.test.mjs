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
import { DIST, ROOT } from './support/harness.mjs';

const LANES = /\((?:v128|[if](?:8|16|32|64)x\d+)\./;
const WORKERS = ['tempokd-cpu-worker', 'tempokd-worker'];

/** SIMD instructions per crate, from the disassembly of `file` (binaryen's wasm-dis). */
async function simdByCrate(file) {
  const dis = spawn(join(ROOT, 'node_modules/.bin/wasm-dis'), [file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const counts = new Map();
  let functions = 0;
  let named = 0;
  let crate = null;
  for await (const line of createInterface({ input: dis.stdout })) {
    if (line.startsWith(' (func ')) {
      functions += 1;
      // ` (func $crate::path::name::h0123…` or, quoted, ` (func $"<impl crate::…>::…"`.
      const name = /^ \(func \$"?<?(?:impl )?([a-z_][a-z0-9_]*)::/.exec(line);
      crate = name?.[1] ?? null;
      if (crate !== null) named += 1;
    } else if (crate !== null && LANES.test(line)) {
      counts.set(crate, (counts.get(crate) ?? 0) + 1);
    }
  }
  const code = await new Promise((resolve) => dis.on('close', resolve));
  assert.equal(code, 0, `wasm-dis ${file} exited with ${code}`);
  assert.ok(named > functions / 2,
    `${file}: ${named} of ${functions} functions are named; test a dev build (trunk build), which keeps the names`);
  return counts;
}

test('both model workers run burn\'s CPU backend with SIMD instructions', async () => {
  // Both disassemblies at once: each takes minutes of one core.
  const counted = await Promise.all(WORKERS.map((worker) => simdByCrate(join(DIST, `${worker}_bg.wasm`))));
  for (const [index, counts] of counted.entries()) {
    const flex = counts.get('burn_flex') ?? 0;
    console.log(`${WORKERS[index]}: ${flex} SIMD instructions in burn_flex, ${counts.get('gemm_f32') ?? 0} in gemm_f32`);
    assert.ok(flex > 0, `${WORKERS[index]}: no SIMD instruction in burn's CPU backend (burn_flex)`);
  }
});

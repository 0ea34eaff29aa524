// End-to-end: the shipped models run in the page's worker and say what the command line says.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, serve, launch, open, screenshot, paintedPixels } from './support/harness.mjs';

const CLIP = join(ROOT, 'static/clips/stop-4s.wav');
// SwiftShader runs recurrent students one dispatch per frame on the CPU: a 1 s clip of the
// check set keeps the WebGPU run to about a minute.
const SHORT_CLIP = join(ROOT, 'engine/tests/fixtures/check-set/go_009360.wav');
const CATALOG = JSON.parse(await readFile(join(ROOT, 'static/models/index.json'), 'utf8')).models;
const STUDENTS = CATALOG.filter((model) => model.kind === 'student').map((model) => model.name);
// Loading eleven models and running them on SwiftShader takes a while on two busy cores.
const TIMEOUT = 300_000;
const PROBABILITY_TOLERANCE = 1e-3;

let server;
let browser;
before(async () => {
  server = await serve();
  browser = await launch(['--enable-unsafe-webgpu']);
});
after(async () => { await browser?.close(); server?.close(); });

/** `tempokd inspect --json` with every shipped model on `clip`, keyed by model name. */
function inspect(clip) {
  const students = STUDENTS.flatMap((name) => ['--student', `static/models/${name}`]);
  const output = execFileSync('cargo', [
    'run', '--quiet', '-p', 'tempokd', '--', 'inspect',
    '--teacher', 'static/models/teacher', ...students, '--json', '--audio', clip,
  ], { cwd: ROOT, maxBuffer: 1 << 28 });
  const json = JSON.parse(output);
  const byName = { teacher: json.teacher };
  json.students.forEach((student, i) => { byName[STUDENTS[i]] = student; });
  return byName;
}

/** Every model row on the page once the run has finished: top label and probabilities. */
async function readings(page) {
  await page.waitForSelector('#run-status:has-text("models answered")', { timeout: TIMEOUT });
  return page.$$eval('.reading', (rows) => Object.fromEntries(rows.map((row) => [
    row.dataset.model, { top: row.dataset.top, probs: row.dataset.probs.split(',').map(Number) },
  ])));
}

function assertSame(shown, expected, where) {
  assert.deepEqual(Object.keys(shown).sort(), Object.keys(expected).sort(), where);
  for (const [name, model] of Object.entries(expected)) {
    assert.equal(shown[name].top, model.top, `${where}: ${name}'s top label`);
    model.probs.forEach((p, i) => {
      const difference = Math.abs(shown[name].probs[i] - p);
      assert.ok(difference <= PROBABILITY_TOLERANCE,
        `${where}: ${name}, ${model.labels[i]}: ${shown[name].probs[i]} on the page, ${p} from tempokd inspect`);
    });
  }
}

const expected = inspect(CLIP);
const expectedShort = inspect(SHORT_CLIP);

test('on the CPU every model says what tempokd inspect says', async () => {
  const { page, errors } = await open(browser, `${server.url}?device=cpu`);
  const loaded = Date.now();
  await page.setInputFiles('input[type=file]', CLIP);
  await page.waitForSelector('.reading[data-model=teacher] canvas', { timeout: TIMEOUT });
  console.log(`# first map (the teacher's) drawn ${((Date.now() - loaded) / 1000).toFixed(2)} s after the page loaded (CPU)`);
  const shown = await readings(page);
  assert.match(await page.textContent('#device'), /^CPU/);
  assertSame(shown, expected, 'CPU');
  const { painted, total } = await paintedPixels(page, '.reading[data-model=teacher] canvas');
  assert.ok(painted > total / 2, `teacher's map: ${painted} of ${total} pixels drawn`);
  console.log(`# ${await page.textContent('#model-status')}; ${await page.textContent('#run-status')} (CPU)`);
  await screenshot(page, '09-models-cpu');
  assert.deepEqual(errors, []);
  await page.close();
});

test('on WebGPU (SwiftShader) every model agrees with the CPU', async () => {
  const { page, errors } = await open(browser, server.url);
  await page.setInputFiles('input[type=file]', SHORT_CLIP);
  const shown = await readings(page);
  assert.match(await page.textContent('#device'), /^WebGPU/);
  assertSame(shown, expectedShort, 'WebGPU');
  console.log(`# ${await page.textContent('#model-status')}; ${await page.textContent('#run-status')} (WebGPU)`);
  await screenshot(page, '10-models-webgpu');
  assert.deepEqual(errors, []);
  await page.close();
});

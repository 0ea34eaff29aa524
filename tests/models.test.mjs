// End-to-end: the shipped models run in the page's worker and say what the command line says.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, SCREENSHOTS, serve, launch, open, screenshot, paintedPixels } from './support/harness.mjs';

const CLIP = join(ROOT, 'static/clips/stop-4s.wav');
// SwiftShader runs recurrent students one dispatch per frame on the CPU: a 1 s clip of the
// check set keeps the WebGPU run to about a minute.
const SHORT_CLIP = join(ROOT, 'engine/tests/fixtures/check-set/go_049140.wav');
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
    'run', '--quiet', '-p', 'tempokd-cli', '--', 'inspect',
    '--teacher', 'static/models/teacher', ...students, '--json', '--audio', clip,
  ], { cwd: ROOT, maxBuffer: 1 << 28 });
  const json = JSON.parse(output);
  const byName = { teacher: json.teacher };
  json.students.forEach((student, i) => { byName[STUDENTS[i]] = student; });
  return byName;
}

/** Every model row on the page once the run has finished: top label and probabilities. */
/** The number of the clip the run status is about (0 before the first). */
const clipNumber = (page) =>
  page.evaluate(() => Number(document.querySelector('#run-status')?.dataset.clip ?? 0));

/** Each model's reading once a run has finished, read in the same moment as the status: of a
 * clip newer than `after` (a new clip clears the last one's rows only once it is decoded, so
 * until then the old rows and status still show), and with `count` rows when given. */
async function readings(page, { after = 0, count } = {}) {
  const shown = await page.waitForFunction(({ after, count }) => {
    const status = document.querySelector('#run-status');
    if (!status || Number(status.dataset.clip) <= after || !/models answered/.test(status.textContent)) {
      return null;
    }
    const rows = [...document.querySelectorAll('.reading')];
    if (count !== undefined && rows.length !== count) return null;
    return Object.fromEntries(rows.map((row) => [
      row.dataset.model, { top: row.dataset.top, probs: row.dataset.probs.split(',').map(Number) },
    ]));
  }, { after, count }, { timeout: TIMEOUT });
  return shown.jsonValue();
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

test('on the CPU every model says what tempokd inspect says', async (t) => {
  const { page, errors } = await open(browser, `${server.url}?device=cpu`);
  const loaded = Date.now();
  const since = () => `${((Date.now() - loaded) / 1000).toFixed(2)} s after the page loaded`;
  await page.setInputFiles('input[type=file]', CLIP);
  // Each moment is logged as it happens (the worker runs models as they finish loading, so maps
  // can come before every model has loaded). Until the first fetched weights the worker is
  // starting: its wasm compiling.
  const logged = (what, promise) => promise.then(() => console.log(`# ${what} ${since()} (CPU)`));
  const firstMap = page.waitForSelector('.reading canvas', { timeout: TIMEOUT }).then(async () => {
    const when = since();
    const rows = await page.$$eval('.reading', (shown) => shown.map((row) => row.dataset.model));
    console.log(`# first map drawn ${when} (CPU; rows then: ${rows.join(', ')})`);
  });
  await Promise.all([
    logged('first model weights fetched by the worker',
      page.waitForFunction(() => document.querySelector('#model-progress')?.value > 0, null, { timeout: TIMEOUT, polling: 50 })),
    logged('all models loaded', page.waitForSelector('#model-status:has-text("loaded")', { timeout: TIMEOUT })),
    firstMap,
    logged("the teacher's map drawn", page.waitForSelector('.reading[data-model=teacher] canvas', { timeout: TIMEOUT })),
  ]);
  const shown = await readings(page);
  assert.match(await page.textContent('#device'), /^CPU/);
  assertSame(shown, expected, 'CPU');
  const { painted, total } = await paintedPixels(page, '.reading[data-model=teacher] canvas');
  assert.ok(painted > total / 2, `teacher's map: ${painted} of ${total} pixels drawn`);
  console.log(`# ${await page.textContent('#model-status')}; ${await page.textContent('#run-status')} (CPU)`);
  await screenshot(page, '10-models-cpu');

  // Pointing at a chart marks that time on every chart and reads each map there; so do the keys.
  const teacherStrip = page.locator('.reading[data-model=teacher] canvas');
  await teacherStrip.scrollIntoViewIfNeeded();
  const box = await teacherStrip.boundingBox();
  const cursors = (count) => page.waitForFunction((n) => document.querySelectorAll('.time-cursor').length === n, count);
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
  // The waveform, the spectrogram, every model's strip and the teacher's map as the KD target.
  await cursors(3 + CATALOG.length);
  assert.match(await page.textContent('.reading[data-model=teacher] .at-cursor'), /^2\.33 s: weight 0\.\d{3}$/);
  assert.match(await page.textContent('.kd-target .at-cursor'), /^2\.33 s: weight 0\.\d{3}$/);
  assert.match(await page.textContent('.kd-target .target-how'),
    /^its rollout without the query frame's own mass, then sharpened by a temperature of 0\.5: the map a student distilled from it learns to copy$/);
  await page.mouse.move(0, 0);
  await page.focus('#waveform');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('#hover-readout:has-text("0.04 s")');
  assert.match(await page.textContent('#hover-readout'), /^0\.04 s: level -?\d+ dBFS, loudest mel bin \d+ of 40$/);
  await page.keyboard.press('Escape');
  await cursors(0);

  // Downloads: the numbers are the ones shown, the figures are a PNG and an SVG naming each model.
  const saved = async (button) => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
    return { name: download.suggestedFilename(), bytes: await readFile(await download.path()) };
  };
  const json = await saved('#download-json');
  assert.equal(json.name, 'stop-4s-tempokd.json');
  const numbers = JSON.parse(json.bytes.toString('utf8'));
  assert.equal(numbers.clip.duration_s, 4);
  assert.deepEqual(numbers.clip.keyword_window, null);
  assertSame(Object.fromEntries(numbers.models.map((m) => [m.model, m])), expected, 'JSON download');
  for (const model of numbers.models) {
    assert.ok(model.attention.values.length > 0, `${model.model} has a map`);
  }
  const png = await saved('#download-png');
  assert.equal(png.name, 'stop-4s-tempokd.png');
  assert.deepEqual([...png.bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const svg = (await saved('#download-svg')).bytes.toString('utf8');
  assert.match(svg, /^<svg/);
  for (const model of numbers.models) assert.ok(svg.includes(model.title), `the SVG names ${model.title}`);
  await writeFile(join(SCREENSHOTS, 'figure.png'), png.bytes);

  // A shipped student as ONNX, at fp32 and int8: the page's file is byte for byte the one
  // `tempokd export` writes (which the engine's tests run in tract and onnxruntime).
  const exports = await mkdtemp(join(tmpdir(), 'tempokd-onnx-'));
  t.after(() => rm(exports, { recursive: true, force: true }));
  for (const [precision, suffix] of [['fp32', ''], ['int8', '-int8']]) {
    await page.selectOption('.readings .onnx-precision', precision);
    const onnx = await saved('.reading[data-model="crnn-kd"] .export-onnx');
    assert.equal(onnx.name, `crnn-kd${suffix}.onnx`);
    const exported = join(exports, onnx.name);
    execFileSync('cargo', ['run', '--quiet', '-p', 'tempokd-cli', '--', 'export', '--precision', precision,
      '--model', join(ROOT, 'static/models/crnn-kd'), '--onnx', exported], { cwd: ROOT });
    assert.ok(onnx.bytes.equals(await readFile(exported)), `the page exports what tempokd export does (${precision})`);
    await page.waitForSelector(`.onnx-status:has-text("Saved crnn-kd${suffix}.onnx")`);
    console.log(`# ${await page.textContent('.onnx-status')}`);
  }
  await page.locator('.readings .onnx-export').scrollIntoViewIfNeeded();
  await screenshot(page, '10b-onnx-export');

  // The deployment card: every shipped student with what tempokd deploy-card measured, and each
  // timed in this browser when asked (on the CPU here, so no WebGPU time).
  const card = JSON.parse(await readFile(join(ROOT, 'static/models/deployment.json'), 'utf8'));
  const cardRows = await page.$$eval('#deployment-table tbody tr', (rows) => rows.map((row) => row.dataset.model));
  assert.deepEqual(cardRows, card.students.map((student) => student.model));
  const row = (model) => `#deployment-table tr[data-model="${model}"]`;
  const times = (model) => `#deployment-times tr[data-model="${model}"]`;
  for (const student of card.students) {
    assert.equal(await page.textContent(`${row(student.model)} .params`),
      `${student.cost.params} (${student.paper_params ?? '–'})`);
    assert.equal(await page.textContent(`${row(student.model)} .multiply-adds`),
      `${(student.cost.multiply_adds_per_second / 1e6).toFixed(2)} M`);
  }
  await page.click('#deployment-measure');
  await page.waitForFunction(() => !document.querySelector('#deployment-progress')
    && [...document.querySelectorAll('#deployment-times .browser-cpu')].every((cell) => / ms$/.test(cell.textContent)),
  null, { timeout: TIMEOUT });
  for (const student of card.students) {
    assert.equal(await page.textContent(`${times(student.model)} .browser-webgpu`), 'not used: the models run on the CPU');
  }
  const timed = await page.$$eval('#deployment-times tbody tr', (rows) => rows.map((r) =>
    `${r.dataset.model} ${r.querySelector('.browser-cpu').textContent} (card's CPU ${r.querySelector('.native').textContent})`));
  console.log(`# 1 s in this browser's CPU: ${timed.join(', ')}`);
  await page.locator('#deployment-times').scrollIntoViewIfNeeded();
  await screenshot(page, '10c-deployment-card');

  // Inside the teacher: a layer's attention drawn, and new rollout settings redraw its strip.
  const matrix = await paintedPixels(page, '#attention-matrix');
  assert.ok(matrix.painted > matrix.total / 2, `attention matrix: ${matrix.painted} of ${matrix.total} pixels drawn`);
  const strip = () => page.$eval('.reading[data-model=teacher] canvas', (canvas) => canvas.toDataURL());
  const before = await strip();
  await page.selectOption('#explore-layer', '0');
  await page.selectOption('#explore-head', '1');
  await page.selectOption('#rollout-row', 'mean_of_rows');
  await page.waitForFunction((old) => document.querySelector('.reading[data-model=teacher] canvas').toDataURL() !== old, before);
  await page.locator('.explorer').scrollIntoViewIfNeeded();
  await screenshot(page, '11-teacher-explorer');
  await page.click('#rollout-reset');
  await page.waitForFunction((old) => document.querySelector('.reading[data-model=teacher] canvas').toDataURL() === old, before);
  assert.deepEqual(errors, []);
  await page.close();
});

test('another teacher from a folder URL and a student from picked files run beside the defaults', async () => {
  const { page, errors } = await open(browser, `${server.url}?device=cpu`);
  await page.setInputFiles('input[type=file]', CLIP);
  await readings(page);
  await page.click('.other-models summary');
  // Not a model: said before anything loads, and the page goes on.
  await page.setInputFiles('#model-files', [
    { name: 'config.json', mimeType: 'application/json', buffer: Buffer.from('[1, 2]') },
    { name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('junk') },
  ]);
  await page.waitForSelector('.other-models .error:has-text("not a model\'s config")');
  await page.fill('#model-url', `${server.url}models/teacher`);
  await page.click('.model-url button[type=submit]');
  const teacherBytes = CATALOG.find((model) => model.name === 'teacher').bytes;
  await page.waitForSelector(`#model-offer:has-text("wav2vec 2.0 teacher at ${server.url}models/teacher/: model.safetensors is ${(teacherBytes / 1e6).toFixed(1)} MB")`);
  await page.click('#load-offer');
  await page.waitForSelector('.reading[data-model=your-teacher-1]', { timeout: TIMEOUT });
  const folder = join(ROOT, 'static/models/tc-resnet8');
  await page.setInputFiles('#model-files', [join(folder, 'config.json'), join(folder, 'model.safetensors')]);
  await page.waitForSelector('.reading[data-model=your-student-2]', { timeout: TIMEOUT });
  const shown = await readings(page);
  assertSame({ 'your-teacher-1': shown['your-teacher-1'], 'your-student-2': shown['your-student-2'] },
    { 'your-teacher-1': expected.teacher, 'your-student-2': expected['tc-resnet8'] }, 'added models');
  // Weights that are not a model: the worker says so and every other model still answers.
  await page.setInputFiles('#model-files', [
    { name: 'config.json', mimeType: 'application/json', buffer: await readFile(join(folder, 'config.json')) },
    { name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('junk') },
  ]);
  await page.waitForSelector('.model-loading [role=alert]:has-text("your-student-3")', { timeout: TIMEOUT });
  assert.match(await page.textContent('.model-loading [role=alert]'), /safetensors/);
  assert.equal(Object.keys(await readings(page)).length, CATALOG.length + 2);
  await screenshot(page, '12-other-models');
  assert.deepEqual(errors, []);
  await page.close();
});

// Model folders built to hurt (scripts/hostile/make.py): each is refused with a one-line
// message, from picked files and from a URL, and the default models still answer.
const HOSTILE = join(ROOT, 'engine/tests/fixtures/hostile');

test('hostile model folders are refused with a message and the defaults still answer', async (t) => {
  const tooLarge = '/hostile/student-lstm-product/model.safetensors';
  const hostile = await serve(undefined, { mounts: { '/hostile/': HOSTILE }, heads: { [tooLarge]: 600 << 20 } });
  // A failed assertion must not leave the server holding the test process open.
  t.after(() => hostile.close());
  const { page, errors } = await open(browser, `${hostile.url}?device=cpu`);
  await page.setInputFiles('input[type=file]', SHORT_CLIP);
  await readings(page);
  await page.click('.other-models summary');
  const refusal = async (name) => {
    const alert = page.locator(`.model-loading [role=alert]:has-text("${name}")`);
    await alert.waitFor({ timeout: TIMEOUT });
    return alert.textContent();
  };
  const picked = join(HOSTILE, 'student-lstm-product');
  await page.setInputFiles('#model-files', [join(picked, 'config.json'), join(picked, 'model.safetensors')]);
  assert.match(await refusal('your-student-1'), /units × projection.*max_parameters/);
  // Picked weights over 100 MB are read only once the visitor says yes (a sparse file of zeros:
  // nothing is read before the answer, and what is read is refused as weights).
  const large = await mkdtemp(join(tmpdir(), 'tempokd-large-'));
  t.after(() => rm(large, { recursive: true, force: true }));
  await copyFile(join(ROOT, 'static/models/tc-resnet8/config.json'), join(large, 'config.json'));
  await writeFile(join(large, 'model.safetensors'), '');
  await truncate(join(large, 'model.safetensors'), 150e6);
  const pickLarge = () => page.setInputFiles('#model-files', [join(large, 'config.json'), join(large, 'model.safetensors')]);
  await pickLarge();
  assert.match(await page.textContent('#picked-offer'), /^model\.safetensors is 150\.0 MB: reading it takes as much memory/);
  await screenshot(page, '18-large-picked-file');
  await page.click('#cancel-picked');
  assert.equal(await page.locator('#picked-offer').count(), 0);
  assert.equal(await page.locator('.model-loading [role=alert]:has-text("your-student-2")').count(), 0);
  await pickLarge();
  await page.click('#load-picked');
  assert.match(await refusal('your-student-2'), /safetensors/);
  // Weights larger than the page loads are refused from their size, before any download.
  await page.fill('#model-url', `${hostile.url}hostile/student-lstm-product`);
  await page.click('.model-url button[type=submit]');
  await page.waitForSelector('.other-models .error:has-text("is 600 MB; this page loads model files of at most 512 MB")');
  await page.fill('#model-url', `${hostile.url}hostile/teacher-stride-one`);
  await page.click('.model-url button[type=submit]');
  await page.waitForSelector('#model-offer:has-text("wav2vec 2.0 teacher")');
  await page.click('#load-offer');
  assert.match(await refusal('your-teacher-3'), /max_attention_bytes/);
  // Another clip: every default model answers it, as the command line does.
  const shortClip = await clipNumber(page);
  await page.setInputFiles('input[type=file]', CLIP);
  assertSame(await readings(page, { after: shortClip, count: CATALOG.length }), expected, 'after the hostile folders');
  await screenshot(page, '16-hostile-models');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a worker that dies without a word is replaced and the page goes on', async () => {
  const { page, errors } = await open(browser, `${server.url}?device=cpu`);
  await page.setInputFiles('input[type=file]', SHORT_CLIP);
  await readings(page);
  // What a failed allocation does: the instance traps, no panic hook runs, and only the
  // worker's scope hears an uncaught error.
  const worker = page.workers().find((w) => /tempokd-cpu-worker/.test(w.url()));
  assert.ok(worker, `the model worker among ${page.workers().map((w) => w.url())}`);
  await worker.evaluate(() => { setTimeout(() => { throw new Error('forced trap'); }, 0); });
  await page.waitForSelector('#device-notice:has-text("most likely out of memory")', { timeout: TIMEOUT });
  assert.match(await page.textContent('#device-notice'), /has been started again/);
  const shortClip = await clipNumber(page);
  await page.setInputFiles('input[type=file]', CLIP);
  assertSame(await readings(page, { after: shortClip, count: CATALOG.length }), expected, 'after the worker was replaced');
  assert.deepEqual(errors.filter((error) => !/forced trap/.test(error)), []);
  await page.close();
});

test('on WebGPU (SwiftShader) every model agrees with the CPU', async () => {
  const { page, errors } = await open(browser, server.url);
  await page.setInputFiles('input[type=file]', SHORT_CLIP);
  const shown = await readings(page);
  assert.match(await page.textContent('#device'), /^WebGPU/);
  assertSame(shown, expectedShort, 'WebGPU');
  console.log(`# ${await page.textContent('#model-status')}; ${await page.textContent('#run-status')} (WebGPU)`);
  await screenshot(page, '13-models-webgpu');
  assert.deepEqual(errors, []);
  await page.close();
});

// The worker's loader runs this first: every GPU device the worker gets is destroyed at once,
// as when a browser reclaims the GPU.
const LOSE_THE_DEVICE = `{
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function (...options) {
    const device = await requestDevice.apply(this, options);
    setTimeout(() => device.destroy(), 0);
    return device;
  };
}
`;

test('a lost WebGPU device moves the models to the CPU with a message', async () => {
  const losing = await serve(undefined, { prepend: { '/tempokd-worker_loader.js': LOSE_THE_DEVICE } });
  const { page, errors } = await open(browser, losing.url);
  await page.setInputFiles('input[type=file]', SHORT_CLIP);
  const shown = await readings(page);
  assert.match(await page.textContent('#device'), /^CPU \(no WebGPU: the browser took the GPU device away \(Destroyed: Device was destroyed\)\)$/);
  assert.match(await page.textContent('#device-notice'), /^WebGPU stopped: the browser took the GPU device away .*\. The models run on the CPU now\.$/);
  assertSame(shown, expectedShort, 'after the device was lost');
  await screenshot(page, '15-device-lost');
  // The lost device's callbacks may log to the console; nothing may be thrown.
  assert.deepEqual(errors.filter((error) => !/lost|destroyed/i.test(error)), []);
  await page.close();
  losing.close();
});

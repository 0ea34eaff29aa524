// End-to-end: knowledge distillation in the page. Takes of the visitor's own words (one from
// the microphone, one the clip above) join the training words; a short run of both students (without and with KD) draws its curves, stops on
// request, and the student it downloads loads back in the page and in `tempokd inspect` with the
// same answers; a second run reuses the teacher's maps and diverges at a far too large learning
// rate, keeping its weights; a third is interrupted by a reload and restored from the browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, serve, launch, open, screenshot, paintedPixels, setNumber } from './support/harness.mjs';

const CLIP = join(ROOT, 'static/clips/yes-2s.wav');
const PACK_MANIFEST = join(ROOT, 'static/data/pack/manifest.csv');
// Fetching the pack and the teacher's maps of its clips come first, then the steps.
const TIMEOUT = 400_000;
const PROBABILITY_TOLERANCE = 1e-3;

let server;
let browser;
before(async () => {
  server = await serve();
  // A fake microphone (a beep) that needs no permission prompt.
  browser = await launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream']);
});
after(async () => { await browser?.close(); server?.close(); });

/** Steps done, from the status line. */
async function stepsDone(page) {
  const match = /Step (\d+) of/.exec(await page.textContent('#training-status'));
  return match ? Number(match[1]) : 0;
}

async function waitForSteps(page, steps) {
  await page.waitForFunction((n) => {
    const match = /Step (\d+) of/.exec(document.querySelector('#training-status')?.textContent ?? '');
    return match && Number(match[1]) >= n;
  }, steps, { timeout: TIMEOUT, polling: 100 });
}

/** The top label and probabilities of one model's row. */
async function reading(page, model) {
  const row = page.locator(`.reading[data-model="${model}"]`);
  try {
    await row.waitFor({ timeout: TIMEOUT });
    await page.waitForSelector('#run-status:has-text("models answered")', { timeout: TIMEOUT });
  } catch (error) {
    const shown = await page.$$eval('#run-status, #model-status, .error, .reading',
      (all) => all.map((e) => e.dataset.model ?? e.textContent));
    throw new Error(`${model}'s reading did not come (${error.message}); the page showed: ${shown.join(' | ')}`);
  }
  return row.evaluate((element) => ({
    top: element.dataset.top, probs: element.dataset.probs.split(',').map(Number),
  }));
}

test('a short KD run draws both curves, stops, and its student loads back as tempokd inspect reads it', async (t) => {
  const { page, errors } = await open(browser, `${server.url}?device=cpu`);
  await page.waitForSelector('#model-status:has-text("loaded")', { timeout: TIMEOUT });

  // One click records a take of "no" from the microphone; the demo "yes" above, labelled with
  // one click, is another. Both join the pack's training words.
  await page.click('button.take[data-label="no"]');
  await page.waitForSelector('#own-words-note:has-text("Added a take of “no”")', { timeout: TIMEOUT });
  await page.click('button.demo:has-text("yes")');
  await page.waitForSelector('#run-status:has-text("models answered")', { timeout: TIMEOUT });
  await page.check('#take-clip');
  await page.click('button.take[data-label="yes"]');
  assert.equal(await page.textContent('#own-words-count'), 'In the next run: no × 1, yes × 1.');
  const [header, ...rows] = (await readFile(PACK_MANIFEST, 'utf8')).trim().split('\n');
  const splitAt = header.split(',').indexOf('split');
  const trainWords = rows.filter((row) => row.split(',')[splitAt] === 'train').length;
  assert.ok(trainWords > 0, 'the pack lists training words');

  await setNumber(page, '#train-steps', 300);
  const clicked = Date.now();
  await page.click('#train-start');
  await page.waitForSelector('#training-status:has-text("Preparing")', { timeout: TIMEOUT });
  await waitForSteps(page, 1);
  console.log(`# first step ${((Date.now() - clicked) / 1000).toFixed(1)} s after Train (pack, teacher maps, CPU)`);
  // Two noisy copies of every training word, the takes among them.
  assert.match(await page.textContent('#training-info'),
    new RegExp(`^${2 * (trainWords + 2)} training clips, \\d+ validation clips, on CPU`));
  assert.doesNotMatch(await page.textContent('#training-info'), /cache/);
  await waitForSteps(page, 5);
  const early = await paintedPixels(page, '#curve-loss');
  await waitForSteps(page, 22);
  // Both curves grow: more of the loss chart is drawn, and both runs have been scored twice.
  const later = await paintedPixels(page, '#curve-loss');
  assert.ok(later.painted > early.painted, `loss chart: ${early.painted} then ${later.painted} pixels`);
  const probe = await paintedPixels(page, '#probe-kd');
  assert.ok(probe.painted > probe.total / 2, `the KD student's probe map: ${probe.painted} of ${probe.total}`);
  const pace = /([\d.]+) steps\/s/.exec(await page.textContent('#training-status'));
  assert.ok(pace, 'the pace is shown');
  console.log(`# TC-ResNet8, batch 32, L = 2 s, both runs, CPU: ${pace[1]} steps/s (${await page.textContent('#training-status')})`);
  await page.click('#train-stop');
  await page.waitForSelector('#training-status:has-text("Stopped after")', { timeout: TIMEOUT });
  const results = await page.$$eval('#training-results tbody tr',
    (rows) => rows.map((row) => [...row.cells].slice(0, 3).map((cell) => cell.textContent).join(' | ')));
  assert.equal(results.length, 2);
  console.log(`# after the last scoring: ${results.join('; ')}`);
  await page.locator('.trainer').scrollIntoViewIfNeeded();
  await screenshot(page, '15-training');

  // Download the KD student, hand it to the page and to the command line: same answers.
  const folder = await mkdtemp(join(tmpdir(), 'tempokd-trained-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  for (const [button, file] of [['.download-config-1', 'config.json'], ['.download-weights-1', 'model.safetensors']]) {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
    assert.equal(download.suggestedFilename(), `tc-resnet8-kd-trained-${file}`);
    await writeFile(join(folder, file), await readFile(await download.path()));
  }
  const inspected = JSON.parse(execFileSync('cargo', [
    'run', '--quiet', '-p', 'tempokd-cli', '--', 'inspect', '--student', folder, '--json', '--audio', CLIP,
  ], { cwd: ROOT, maxBuffer: 1 << 26 })).students[0];
  // The same student as ONNX: what `tempokd export` writes from the downloaded files.
  const [onnx] = await Promise.all([page.waitForEvent('download'), page.click('.download-onnx-1')]);
  assert.match(onnx.suggestedFilename(), /^tc-resnet8-trained-here-with-kd.*\.onnx$/);
  execFileSync('cargo', ['run', '--quiet', '-p', 'tempokd-cli', '--', 'export', '--model', folder,
    '--onnx', join(folder, 'student.onnx')], { cwd: ROOT });
  assert.ok((await readFile(await onnx.path())).equals(await readFile(join(folder, 'student.onnx'))),
    'the page exports the trained student as tempokd export does');
  // The deployment card gets a row for each student trained here, measured in this browser: its
  // cost is the shipped student's of the same layout, its fp32 file the one just saved.
  const card = JSON.parse(await readFile(join(ROOT, 'static/models/deployment.json'), 'utf8'));
  const shipped = card.students.find((student) => student.model === 'tc-resnet8');
  await page.click('#deployment-measure');
  const trainedRow = '#deployment-table tr.trained-here[data-model="tc-resnet8, trained here with KD"]';
  const trainedTimes = '#deployment-times tr.trained-here[data-model="tc-resnet8, trained here with KD"]';
  await page.waitForFunction((row) => / ms$/.test(document.querySelector(`${row} .browser-cpu`)?.textContent ?? ''),
    trainedTimes, { timeout: TIMEOUT });
  assert.equal(await page.textContent(`${trainedRow} .params`), String(shipped.cost.params));
  assert.equal(await page.textContent(`${trainedRow} .multiply-adds`),
    `${(shipped.cost.multiply_adds_per_second / 1e6).toFixed(2)} M`);
  const onnxKb = ((await readFile(join(folder, 'student.onnx'))).length / 1000).toFixed(0);
  assert.match(await page.textContent(`${trainedRow} .onnx`), new RegExp(`^${onnxKb} · \\d+ · \\d+ kB$`));
  console.log(`# the KD student trained here: 1 s in ${await page.textContent(`${trainedTimes} .browser-cpu`)} on this browser's CPU`);
  await page.locator(trainedTimes).scrollIntoViewIfNeeded();
  await screenshot(page, '15b-deployment-trained');
  await page.setInputFiles('input[type=file]', CLIP);
  await page.click('.other-models summary');
  await page.setInputFiles('#model-files', [join(folder, 'config.json'), join(folder, 'model.safetensors')]);
  await page.click('.use-1');
  for (const model of ['your-student-1', 'tc-resnet8, trained here with KD']) {
    const shown = await reading(page, model);
    assert.equal(shown.top, inspected.top, `${model}'s top label`);
    inspected.probs.forEach((p, i) => assert.ok(Math.abs(shown.probs[i] - p) <= PROBABILITY_TOLERANCE,
      `${model}, ${inspected.labels[i]}: ${shown.probs[i]} on the page, ${p} from tempokd inspect`));
  }

  // A second run takes the teacher's maps from this browser's cache, so it starts at once; at a
  // far too large learning rate its loss blows up, and the run goes back to the weights from
  // before the update that did it.
  await setNumber(page, '#train-lr', 9.9);
  await setNumber(page, '#train-lambda', 10);
  const again = Date.now();
  await page.click('#train-start');
  await page.waitForSelector('#training-info:has-text("cache")', { timeout: TIMEOUT });
  console.log(`# second run: training began ${((Date.now() - again) / 1000).toFixed(1)} s after Train (teacher maps cached)`);
  // It diverges within a few steps, too soon to catch the step count in between.
  await page.waitForSelector('#training-status.error:has-text("diverged")', { timeout: TIMEOUT });
  const diverged = await page.textContent('#training-status');
  const [, badStep, keptStep] = /diverged at step (\d+) .* the weights after step (\d+) are kept/.exec(diverged) ?? [];
  assert.equal(Number(keptStep), Number(badStep) - 2, diverged);
  console.log(`# learning rate 9.9, λ 10: ${diverged}`);
  assert.equal(await page.locator('#training-results tbody tr').count(), 2);
  // The table scores the weights that were kept, not those of the undone update.
  assert.match(await page.textContent('#training-results caption'), new RegExp(`weights of step ${keptStep}$`));
  const [kept] = await Promise.all([page.waitForEvent('download'), page.click('.download-weights-1')]);
  const keptBytes = await readFile(await kept.path());
  const firstBytes = await readFile(join(folder, 'model.safetensors'));
  assert.equal(keptBytes.length, firstBytes.length, 'the diverged run keeps a whole student');
  assert.notDeepEqual(keptBytes, firstBytes);

  // A third run is interrupted by a reload after its step-20 scoring: the next visit shows it.
  await setNumber(page, '#train-lr', 0.001);
  await setNumber(page, '#train-lambda', 0.5);
  await page.click('#train-start');
  await waitForSteps(page, 23);
  await page.reload();
  await page.waitForSelector('#training-status:has-text("Restored from this browser")', { timeout: TIMEOUT });
  const restored = await page.textContent('#training-status');
  const savedStep = Number(/was at step (\d+) of 300/.exec(restored)?.[1]);
  assert.ok(savedStep >= 20, restored);
  assert.equal(await page.locator('#training-results tbody tr').count(), 2);
  const curve = await paintedPixels(page, '#curve-loss');
  assert.ok(curve.painted > 0, 'the restored loss curve is drawn');
  await page.locator('.trainer').scrollIntoViewIfNeeded();
  await screenshot(page, '16-training-restored');
  assert.deepEqual(errors, []);
  await page.close();
});

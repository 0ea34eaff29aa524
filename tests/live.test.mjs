// End-to-end: live mode listens to Chromium's fake microphone, fed a stream `tempokd synth-stream`
// made with keywords at known times, and marks what `tempokd stream` finds in the same file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ROOT, serve, launch, open, screenshot, paintedPixels, fakeMicrophone, startListening,
  heardAtLeast, watchLongTasks, longTasks,
} from './support/harness.mjs';

const SECONDS = 45;
// The teacher, and the students with KD whose detections the page is held to.
const CHECKED = ['teacher', 'tc-resnet8-kd', 'crnn-kd', 'lstm-p-kd'];
// The page's hops fall at other moments of the file than the command line's (the microphone
// starts wherever it starts): the page's windows end up to a hop away from the command line's, and
// the window a word's mark is decided on may be the neighbouring one, since its audio is shifted by
// that phase (seen: a sure word marked 0.35 s before the command line's mark). So a mark may move
// by up to two hops; the stream's words are seconds apart, so that still names one word.
const HOP_S = 0.25;
const SAME_TIME_S = 2 * HOP_S + 0.05;

function tempokd(args) {
  return execFileSync('cargo', ['run', '--quiet', '-p', 'tempokd-cli', '--', ...args],
    { cwd: ROOT, maxBuffer: 1 << 28, encoding: 'utf8' });
}

let dir;
let wav;
let server;
let browser;
let cli;
let clip;
let cliOnClip;

/** `tempokd stream --json` with the checked models on `file`: each model's detections. */
function stream(file) {
  const models = CHECKED.flatMap((name) => ['--model', `static/models/${name}`]);
  const heard = JSON.parse(tempokd(['stream', ...models, '--audio', file, '--json']));
  return Object.fromEntries(CHECKED.map((name, i) => [name, heard.models[i].detections]));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tempokd-live-'));
  wav = join(dir, 'stream.wav');
  tempokd(['synth-stream', '--out', wav, '--seconds', String(SECONDS), '--words', '8',
    '--stream-seed', '3', '--keyword-share', '0.9']);
  cli = stream(wav);
  // A clip the page takes (at most 30 s), played as the stream.
  clip = join(dir, 'clip.wav');
  tempokd(['synth-stream', '--out', clip, '--seconds', '24', '--words', '5', '--stream-seed', '4']);
  cliOnClip = stream(clip);
  server = await serve();
  browser = await launch(fakeMicrophone(wav));
});
after(async () => {
  await browser?.close();
  server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The page's detections from its CSV download. */
async function pageDetections(page) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#live-csv')]);
  assert.equal(download.suggestedFilename(), 'tempokd-detections.csv');
  const [header, ...rows] = (await readFile(await download.path(), 'utf8')).trim().split('\n');
  assert.equal(header, 'time_s,word,model,confidence,decided_s,speech_end_s,latency_ms');
  return rows.map((row) => {
    const [at, label, model, confidence, decided, speechEnd, latency] = row.split(',');
    return { at: Number(at), label, model, confidence: Number(confidence), decided: Number(decided),
      speechEnd: speechEnd === '' ? null : Number(speechEnd),
      latency: latency === '' ? null : Number(latency) };
  });
}

/** The page's stream time minus the file's: the median over the teacher's words that the command
 * line also found. */
function offset(shown) {
  const shifts = shown.filter((d) => d.model === 'teacher').flatMap((d) => {
    const match = cli.teacher.filter((c) => c.label === d.label)
      .map((c) => d.at - c.at_s).sort((a, b) => Math.abs(a) - Math.abs(b))[0];
    return match === undefined ? [] : [match];
  }).sort((a, b) => a - b);
  assert.ok(shifts.length > 0, 'the teacher marked none of the words the command line found');
  return shifts[Math.floor(shifts.length / 2)];
}

test('live mode marks the words the command line finds in the same stream', { timeout: 300_000 }, async () => {
  const { page, errors } = await open(browser, `${server.url}?device=cpu`);
  await startListening(page);
  // Tasks of 50 ms or more on the page's thread while it listens.
  await watchLongTasks(page);
  await heardAtLeast(page, SECONDS + 2);
  await screenshot(page, 'live-listening');
  const tasks = await longTasks(page);
  // How many tasks pass 50 ms is a measurement of this shared machine's load, printed for
  // README's live-mode figures, not asserted; what is held is that the page never freezes.
  console.log(`page tasks of 50 ms or more while listening: ${JSON.stringify(tasks)}`);
  assert.ok(tasks.every((ms) => ms < 250),
    `a page task froze the page while listening (ms): ${JSON.stringify(tasks)}`);
  const painted = await paintedPixels(page, '#live-tape');
  // The spectrogram, once ten seconds have been heard, fills more than a fifth of the canvas.
  assert.ok(painted.painted > painted.total * 0.22, `the tape is drawn: ${JSON.stringify(painted)}`);

  await page.click('#live-pause');
  await page.waitForSelector('#live-status:has-text("Paused")');
  await page.click('#live-stop');
  await page.waitForSelector('#live-status:has-text("Stopped")');
  // What each model cost: readings, ms each, how far behind its last began, windows dropped.
  const costs = await page.$$eval('#live-models tbody tr', (rows) => rows.map((row) =>
    [...row.querySelectorAll('td')].map((cell) => cell.textContent.trim())));
  console.log(`models (name | reads | worker | readings | ms each | behind s | skipped):\n${costs.map((c) => c.join(' | ')).join('\n')}`);
  // With a core to spare the students are dealt out to a helper worker; the teacher stays.
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const workers = new Set(costs.map((c) => c[2]));
  assert.equal(costs.find((c) => c[0].endsWith('(teacher)'))?.[2], 'model worker');
  if (cores >= 2) {
    assert.ok(workers.has('helper 1'), `no student read on a helper with ${cores} cores: ${JSON.stringify(costs)}`);
  } else {
    assert.deepEqual([...workers], ['model worker']);
  }
  const skipped = Object.fromEntries(costs.map((c) => [/\(([^)]+)\)$/.exec(c[0])[1], Number(c.at(-1))]));
  const shown = await pageDetections(page);
  const shift = offset(shown);
  assert.ok(shift > -0.5 && shift < 5, `the stream started ${shift} s before the file`);
  // The fake microphone hands the file over resampled (16 kHz to the device's rate and back), so
  // a word a model is unsure of may tip to another label; a sure one may not.
  const SURE = 0.9;
  for (const model of CHECKED) {
    const onPage = shown.filter((d) => d.model === model);
    const sameTime = (d, c) => Math.abs(d.at - shift - c.at_s) <= SAME_TIME_S;
    const sure = cli[model].filter((c) => c.confidence >= SURE);
    const sureMissed = sure.filter((c) => !onPage.some((d) => sameTime(d, c) && d.label === c.label));
    const missed = cli[model].filter((c) => !onPage.some((d) => sameTime(d, c)));
    const extra = onPage.filter((d) => !cli[model].some((c) => sameTime(d, c)));
    const where = `${model}: page ${JSON.stringify(onPage)}, command line ${JSON.stringify(cli[model])}`;
    console.log(`${model}: ${cli[model].length - missed.length} of the command line's ${cli[model].length} words marked, ${extra.length} others, ${sure.length - sureMissed.length} of ${sure.length} sure words with the same label (stream ${shift.toFixed(2)} s after the file)`);
    // A window read every hop is dropped when the worker is more than 1 s behind (a busy or slow
    // machine), and a dropped window may take a word with it: how many drop follows the shared
    // machine's load (0 to 46 of about 72 windows with speech seen per model), so each dropped
    // window excuses at most one word; with none dropped, no sure word may be missed.
    const dropped = skipped[model];
    assert.ok(sureMissed.length <= dropped,
      `words the command line is sure of, missed or named otherwise (${dropped} windows dropped): ${where}`);
    assert.ok(missed.length <= 1 + dropped, `words missed (${dropped} windows dropped): ${where}`);
    assert.ok(extra.length <= 1, `words the command line did not hear: ${where}`);
  }
  for (const d of shown) {
    // A latency is measured from the end of the stretch of speech holding the word.
    assert.equal(d.latency === null, d.speechEnd === null, JSON.stringify(d));
    if (d.speechEnd !== null) assert.ok(d.at <= d.speechEnd + 0.25, JSON.stringify(d));
  }
  const latencies = shown.filter((d) => d.latency !== null).map((d) => d.latency).sort((a, b) => a - b);
  assert.ok(latencies.length > 0, 'some latency was measured');
  const quantile = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  console.log(`latency from the end of speech to the mark, every model: median ${quantile(0.5)} ms, ` +
    `90th percentile ${quantile(0.9)} ms, most ${latencies.at(-1)} ms (n = ${latencies.length}; ` +
    `${latencies.filter((ms) => ms < 0).length} marks before the word ended)`);
  assert.deepEqual(errors, []);
});

test('a clip played as the stream gives exactly the detections of tempokd stream', { timeout: 300_000 }, async () => {
  const { page, errors } = await open(browser, `${server.url}?device=cpu`);
  await page.setInputFiles('input[type=file]', clip);
  await page.click('#mode-live');
  await page.waitForSelector('#live-play:not([disabled])', { timeout: 60_000 });
  await page.click('#live-play');
  await page.waitForSelector('#live-status:has-text("Listening:")', { timeout: 180_000 });
  await page.waitForSelector('#live-status:has-text("Stopped")', { timeout: 120_000 });
  await screenshot(page, 'live-clip');
  const shown = await pageDetections(page);
  for (const model of CHECKED) {
    const onPage = shown.filter((d) => d.model === model);
    const where = `${model}: page ${JSON.stringify(onPage)}, command line ${JSON.stringify(cliOnClip[model])}`;
    assert.equal(onPage.length, cliOnClip[model].length, where);
    cliOnClip[model].forEach((c, i) => {
      const d = onPage[i];
      assert.equal(d.label, c.label, where);
      // The CSV keeps milliseconds and four decimals.
      assert.ok(Math.abs(d.at - c.at_s) < 2e-3 && Math.abs(d.decided - c.decided_s) < 2e-3, where);
      assert.ok(Math.abs(d.confidence - c.confidence) < 2e-3, where);
    });
  }
  assert.ok(CHECKED.some((model) => cliOnClip[model].length > 0), 'the clip has words to find');
  assert.deepEqual(errors, []);
});

test('a denied microphone says so and leaves the page usable', { timeout: 120_000 }, async () => {
  const bare = await launch(['--use-fake-device-for-media-stream', '--deny-permission-prompts']);
  try {
    const { page } = await open(bare, `${server.url}?device=cpu`);
    await page.click('#mode-live');
    await page.click('#live-listen');
    await page.waitForSelector('#live-status:has-text("denied")', { timeout: 90_000 });
    assert.equal(await page.isEnabled('#live-listen'), true);
    await page.click('#mode-clip');
    assert.equal(await page.isVisible('#mode-clip'), true);
  } finally {
    await bare.close();
  }
});

test('calibration in the page measures what tempokd calibrate measures in the same streams', { timeout: 600_000 }, async () => {
  // Two fast students, a short stream without keywords: the path, not the figures, is tested.
  const calibrated = ['tc-resnet8', 'tc-resnet8-kd'];
  const { page, errors } = await open(browser, `${server.url}?device=cpu`);
  await page.click('#mode-live');
  await page.waitForSelector('.calibration-model');
  for (const box of await page.$$('.calibration-model')) {
    if (!calibrated.includes(await box.getAttribute('value'))) await box.uncheck();
  }
  await page.fill('#calibration-copies', '1');
  await page.dispatchEvent('#calibration-copies', 'change');
  await page.fill('#calibration-background-s', '30');
  await page.dispatchEvent('#calibration-background-s', 'change');
  await page.click('#calibrate-start');
  await page.waitForSelector('#calibration-status:has-text("Calibrated.")', { timeout: 480_000 });
  await screenshot(page, 'calibration');
  const streamsText = await page.textContent('#calibration-streams');
  // The pack's validation and test splits hold one recording of each of the ten keywords.
  assert.match(streamsText, /Keyword stream: 20 keywords/);
  assert.match(streamsText, /without keywords: 30 s of generated noise/);
  const painted = await paintedPixels(page, '#calibration-chart');
  assert.ok(painted.painted > painted.total * 0.02, `the trade-off is drawn: ${JSON.stringify(painted)}`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#calibration-json')]);
  const onPage = JSON.parse(await readFile(await download.path(), 'utf8'));
  assert.deepEqual(onPage.map((r) => r.model), calibrated);

  // The same streams made by the command line, and tempokd calibrate at the page's thresholds.
  const streams = join(dir, 'calibration');
  tempokd(['calibration-streams', '--pack', 'static/data/pack', '--out', streams,
    '--copies', '1', '--background', '30']);
  const thresholds = onPage[0].trade_off.map((p) => p.threshold).join(',');
  const cli = JSON.parse(tempokd(['calibrate',
    ...calibrated.flatMap((name) => ['--model', `static/models/${name}`]),
    '--stream', join(streams, 'keywords.wav'), '--stream', join(streams, 'background.wav'),
    '--thresholds', thresholds, '--json']));
  for (const [i, model] of calibrated.entries()) {
    const pagePoints = onPage[i].trade_off;
    const cliPoints = cli.models[i].trade_off;
    assert.equal(pagePoints.length, cliPoints.length);
    let differing = 0;
    const tally = (point) => point.errors.tally;
    pagePoints.forEach((point, j) => {
      const p = tally(point);
      const c = tally(cliPoints[j]);
      assert.equal(p.keywords, 20);
      assert.equal(c.keywords, 20);
      assert.ok(Math.abs(p.hours - c.hours) < 1e-6, `${model}: ${p.hours} h against ${c.hours} h`);
      // The command line reads the streams back from 16-bit WAV files, the page has them
      // unrounded: a probability at a threshold's edge may tip, never more than one word.
      const off = Math.abs(p.found - c.found) + Math.abs(p.false_accepts - c.false_accepts);
      assert.ok(off <= 1, `${model} at ${point.threshold}: page ${JSON.stringify(p)}, command line ${JSON.stringify(c)}`);
      // No check that a higher threshold finds no more: a detector with a refractory time does
      // not promise it (a wrong keyword detected at a low threshold holds off the right one said
      // in the same word, which a higher threshold then finds; `tempokd calibrate` shows it too).
      differing += off;
    });
    console.log(`${model}: ${pagePoints.length} thresholds, ${differing} counts differing from the command line; ` +
      `at 0.5 found ${tally(pagePoints.find((p) => p.threshold === 0.5)).found} of 20`);
  }
  // The chosen thresholds then mark live detections.
  await page.click('#calibration-use');
  await page.waitForSelector('#calibration-use:has-text("sliders")');
  assert.deepEqual(errors, []);
});

test('calibration can take the visitor\'s surroundings from the microphone as the stream without keywords', { timeout: 300_000 }, async () => {
  const { page, errors } = await open(browser, `${server.url}?device=cpu`);
  await page.click('#mode-live');
  await page.waitForSelector('.calibration-model');
  for (const box of await page.$$('.calibration-model')) {
    if ((await box.getAttribute('value')) !== 'tc-resnet8-kd') await box.uncheck();
  }
  await page.fill('#calibration-copies', '1');
  await page.dispatchEvent('#calibration-copies', 'change');
  await page.fill('#calibration-background-s', '10');
  await page.dispatchEvent('#calibration-background-s', 'change');
  await page.selectOption('#calibration-background', 'room');
  await page.click('#calibrate-start');
  await page.waitForSelector('#calibration-status:has-text("Recording your surroundings")', { timeout: 60_000 });
  await page.waitForSelector('#calibration-status:has-text("Calibrated.")', { timeout: 240_000 });
  // The fake microphone plays the keyword stream, which this calibration takes for surroundings
  // without keywords: the path is tested, not the rate.
  assert.match(await page.textContent('#calibration-streams'), /without keywords: 10 s of your surroundings/);
  assert.equal(await page.$$eval('#calibration-table tbody tr', (rows) => rows.length), 1);
  assert.deepEqual(errors, []);
});

// End-to-end: the built page in headless Chromium, audio in and shown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, serve, launch, open, screenshot, paintedPixels, tallColumns, dropFile } from './support/harness.mjs';

const WAV = join(ROOT, 'static/clips/stop-4s.wav');
const MP3 = join(ROOT, 'engine/tests/fixtures/audio/tone-48000-stereo.mp3');
const TIMEOUT = 60_000;

let server;
let browser;
before(async () => {
  server = await serve();
  // A fake microphone (a beep) that needs no permission prompt, and WebGPU on SwiftShader.
  browser = await launch([
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    '--enable-unsafe-webgpu',
  ]);
});
after(async () => { await browser?.close(); server?.close(); });

/** Waits until the clip view shows `name` with both charts drawn. */
async function expectClip(page, name, seconds) {
  await page.waitForSelector(`.clip-summary:has-text("${name}: ${seconds}")`, { timeout: TIMEOUT });
  for (const canvas of ['#waveform', '#spectrogram']) {
    const { painted, total } = await paintedPixels(page, canvas);
    assert.ok(painted > total / 20, `${canvas}: ${painted} of ${total} pixels drawn`);
  }
}

/**
 * Waits until the clip view shows a recording. The fake microphone beeps now and then, so most
 * of its waveform is a flat line: what shows the recording was drawn is the beeps, columns
 * painted over most of the chart's height (the axis is one such column).
 */
async function expectRecording(page) {
  await page.waitForSelector('.clip-summary:has-text("recording: ")', { timeout: TIMEOUT });
  const beeps = await tallColumns(page, '#waveform', 0.6);
  assert.ok(beeps >= 4, `#waveform: ${beeps} columns drawn over 60 % of its height`);
  const { painted, total } = await paintedPixels(page, '#spectrogram');
  assert.ok(painted > total / 20, `#spectrogram: ${painted} of ${total} pixels drawn`);
}

test('the page shows the device it runs on', async () => {
  const { page, errors } = await open(browser, server.url);
  const device = page.locator('#device');
  // Wait for the badge to exist *and* to have settled: before the app mounts there is no badge.
  await page.waitForFunction(() => {
    const badge = document.querySelector('#device');
    return badge !== null && !badge.textContent.startsWith('Looking');
  }, null, { timeout: TIMEOUT });
  const label = await device.textContent();
  assert.match(label, /^(WebGPU: .+|CPU \(no WebGPU: .+\))$/);
  assert.equal(await page.isHidden('#fatal'), true, 'this browser has WebAssembly SIMD');
  await screenshot(page, '01-start');
  assert.deepEqual(errors, []);
  await page.close();
});

test('an uploaded WAV and MP3 are decoded and drawn', async () => {
  const { page, errors } = await open(browser, server.url);
  await page.setInputFiles('input[type=file]', WAV);
  await expectClip(page, 'stop-4s.wav', '4.00 s');
  await screenshot(page, '02-wav');
  await page.setInputFiles('input[type=file]', MP3);
  await expectClip(page, 'tone-48000-stereo.mp3', '0.6');
  assert.match(await page.textContent('.clip-summary'), /2 channels/);
  await screenshot(page, '03-mp3');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a dropped file and a demo clip are drawn', async () => {
  const { page, errors } = await open(browser, server.url);
  await dropFile(page, 'section.input', 'dropped.wav', await readFile(WAV), 'audio/wav');
  await expectClip(page, 'dropped.wav', '4.00 s');
  await page.click('button.demo:has-text("left")');
  await expectClip(page, 'left-8s.wav', '8.00 s');
  await screenshot(page, '04-demo-clip');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a clip placed in noise is heard at the chosen length, and a word too long for it is refused', async () => {
  // The models run on the CPU here: SwiftShader's WebGPU would take the cores from the page.
  const { page, errors } = await open(browser, `${server.url}?device=cpu`);
  await page.click('button.demo:has-text("yes")');
  await expectClip(page, 'yes-2s.wav', '2.00 s');
  await page.selectOption('#noise-length', '6');
  await expectClip(page, 'yes-2s.wav', '6.00 s, its word placed in 6 s of pink noise at 5 dB SNR');
  await page.selectOption('#noise-kind', 'hum');
  await page.locator('#noise-snr').fill('12');
  await page.locator('#noise-position').fill('100');
  await expectClip(page, 'yes-2s.wav', '6.00 s, its word placed in 6 s of hum noise at 12 dB SNR');
  await screenshot(page, '05-placed-in-noise');
  // An uploaded clip's word is its spoken part: all 4 s of this noisy clip do not fit in 2 s.
  await page.setInputFiles('input[type=file]', WAV);
  await page.selectOption('#noise-length', '2');
  await page.waitForSelector('.error:has-text("longer than the 2 s of noise; choose a longer noise length")', { timeout: TIMEOUT });
  assert.equal(await page.locator('.clip').count(), 0);
  await page.selectOption('#noise-length', '');
  await expectClip(page, 'stop-4s.wav', '4.00 s,');
  assert.equal(await page.locator('.error').count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});

test('on a phone-width screen in the dark theme the page fits without sideways scrolling', async () => {
  const { page, errors } = await open(browser, `${server.url}?device=cpu`);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.click('button.demo:has-text("stop")');
  await expectClip(page, 'stop-4s.wav', '4.00 s');
  await page.waitForSelector('.reading[data-model=teacher]', { timeout: TIMEOUT });
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const root = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  assert.equal(root, 'rgb(11, 17, 32)', `dark background, body ${background}`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);
  // Charts are drawn at most 1.5 times wider than shown, so their 12 px text stays readable.
  const shrink = await page.$$eval('canvas.chart', (charts) => Math.max(...charts.map((c) => c.width / c.clientWidth)));
  assert.ok(shrink <= 1.5, `a chart is drawn ${shrink.toFixed(2)} times wider than shown`);
  await screenshot(page, '14-phone-dark');
  assert.deepEqual(errors, []);
  await page.close();
});

test('non-audio and corrupt files give a message and the page stays usable', async (t) => {
  const { page } = await open(browser, server.url);
  // A file over the limit is refused from its size, before any of it is read (a sparse file).
  const folder = await mkdtemp(join(tmpdir(), 'tempokd-huge-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const huge = join(folder, 'huge.wav');
  await writeFile(huge, '');
  await truncate(huge, 3e9);
  await page.setInputFiles('input[type=file]', huge);
  await page.waitForSelector('.error:has-text("The file is 3000 MB; files up to 67 MB are accepted")', { timeout: TIMEOUT });
  await page.click('button.dismiss');
  await dropFile(page, 'section.input', 'notes.txt', Buffer.from('just some text\n'.repeat(40)), 'text/plain');
  await page.waitForSelector('.error:has-text("could not decode this file as audio")', { timeout: TIMEOUT });
  await screenshot(page, '06-not-audio');
  await page.click('button.dismiss');
  assert.equal(await page.locator('.error').count(), 0);
  const wav = await readFile(WAV);
  const corrupt = Buffer.concat([wav.subarray(0, 12), Buffer.alloc(200, 0xff)]);
  await dropFile(page, 'section.input', 'corrupt.wav', corrupt, 'audio/wav');
  await page.waitForSelector('.error:has-text("could not decode")', { timeout: TIMEOUT });
  await page.click('button.dismiss');
  assert.equal(await page.locator('.error').count(), 0);
  assert.equal(await page.locator('#fatal').isHidden(), true);
  // A file longer than the limit is refused from its decoded length, before its samples are
  // copied into the page: six channels of a minute.
  await dropFile(page, 'section.input', 'minute.wav', silentWav(8_000, 6, 60), 'audio/wav');
  await page.waitForSelector('.error:has-text("The clip is 60.0 s long and the limit is 30 s: trim it and try again.")', { timeout: TIMEOUT });
  await page.click('button.dismiss');
  await page.setInputFiles('input[type=file]', WAV);
  await expectClip(page, 'stop-4s.wav', '4.00 s');
  await page.close();
});

/** A 16-bit PCM WAV of silence. */
function silentWav(rate, channels, seconds) {
  const data = rate * channels * seconds * 2;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * channels * 2, 28);
  header.writeUInt16LE(channels * 2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data, 40);
  return Buffer.concat([header, Buffer.alloc(data)]);
}

test('a recording from the microphone is drawn', async () => {
  const { page, errors } = await open(browser, server.url);
  await page.click('button.record-button');
  await page.waitForSelector('button.record-button:has-text("Stop")', { timeout: TIMEOUT });
  await page.waitForSelector('[role=meter]');
  await page.waitForTimeout(1500);
  await screenshot(page, '07-recording');
  await page.click('button.record-button');
  await expectRecording(page);
  await screenshot(page, '08-recorded');
  assert.deepEqual(errors, []);
  await page.close();
});

test('without a microphone the visitor is told so', async () => {
  const bare = await launch();
  try {
    const { page } = await open(bare, server.url);
    await page.click('button.record-button');
    await page.waitForSelector('.error:has-text("microphone")', { timeout: TIMEOUT });
    const message = await page.textContent('.error .error-text');
    assert.match(message, /upload a file instead/);
    await screenshot(page, '09-no-microphone');
  } finally {
    await bare.close();
  }
});

test('a browser without WebAssembly SIMD is told so before anything loads', async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  try {
    // As in such a browser the probe module does not validate. Only the probe is refused here,
    // so the page below still loads; a real browser without SIMD stops at the banner.
    await page.addInitScript(() => { WebAssembly.validate = () => false; });
    await page.goto(server.url);
    const banner = page.locator('#fatal');
    await banner.waitFor({ state: 'visible', timeout: TIMEOUT });
    assert.match(await banner.textContent(), /WebAssembly SIMD.*Chrome and Edge 91, Firefox 89 and Safari 16\.4/);
    await screenshot(page, '17-no-simd');
  } finally {
    await page.close();
  }
});

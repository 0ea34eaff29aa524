// Serves the built page on 127.0.0.1 and drives Debian's headless Chromium with playwright-core.
import { createServer } from 'node:http';
import { readFile, readdir, mkdir } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..', '..');
// TEMPOKD_DIST serves another build, e.g. a release build to measure it.
export const DIST = resolve(ROOT, process.env.TEMPOKD_DIST ?? 'dist');
export const SCREENSHOTS = join(ROOT, 'tests', 'screenshots');

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.css': 'text/css', '.json': 'application/json', '.wav': 'audio/wav', '.png': 'image/png',
};

// Served gzip-compressed when the browser accepts it, as a static host would, compressed before
// the first request so no page waits on it; the weights (random-looking floats) and audio gain
// little and are sent as they are.
const COMPRESSED_TYPES = new Set(['.html', '.js', '.wasm', '.css', '.json']);
const compressed = new Map();
const compress = promisify(gzip);

function compressOnce(key, body) {
  if (!compressed.has(key)) compressed.set(key, compress(body));
  return compressed.get(key);
}

async function compressAll(dir) {
  const files = await readdir(dir, { recursive: true });
  await Promise.all(files.filter((file) => COMPRESSED_TYPES.has(extname(file))).map(async (file) => {
    const path = join(dir, file);
    await compressOnce(path, await readFile(path));
  }));
}

/**
 * A static server for dist/ on a free loopback port. `prepend` maps a path to script put before
 * that file's text, to change what the browser offers a worker.
 */
export async function serve(dir = DIST, { prepend = {}, mounts = {}, heads = {} } = {}) {
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, 'http://x').pathname));
    // `heads` maps a path to the length a HEAD request is told (a file too large to serve).
    if (request.method === 'HEAD' && heads[path] !== undefined) {
      response.writeHead(200, { 'content-length': heads[path] }).end();
      return;
    }
    // `mounts` maps a path prefix to another folder (test fixtures served beside the page).
    const [prefix, root] = Object.entries(mounts).find(([mount]) => path.startsWith(mount)) ?? ['/', dir];
    const file = join(root, path.slice(prefix.length - 1).replace(/\/$/, '/index.html'));
    if (!file.startsWith(root)) { response.writeHead(403).end(); return; }
    try {
      let body = Buffer.concat([Buffer.from(prepend[path] ?? ''), await readFile(file)]);
      const headers = { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' };
      if (COMPRESSED_TYPES.has(extname(file)) && /\bgzip\b/.test(request.headers['accept-encoding'] ?? '')) {
        body = await compressOnce(prepend[path] ? `${file}\0${prepend[path]}` : file, body);
        Object.assign(headers, { 'content-encoding': 'gzip', vary: 'accept-encoding' });
      }
      response.writeHead(200, { ...headers, 'content-length': body.length });
      response.end(body);
    } catch {
      response.writeHead(404).end('not found');
    }
  });
  await compressAll(dir);
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() };
}

const QUIET_FLAGS = [
  '--no-sandbox', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

/** Headless Chromium; `extraArgs` add fake media devices or WebGPU. */
export async function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [...QUIET_FLAGS, ...extraArgs],
  });
}

/** A page that records console errors and uncaught exceptions. */
export async function open(browser, url) {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = [];
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(url);
  return { page, errors };
}

/**
 * Opens the page on `device` ('cpu' or the browser's choice), starts training `student` for
 * `steps` steps and returns once the first step is shown, with the page's clock when Train was
 * pressed and when that step showed (the benchmarks' shared start).
 */
export async function startTraining(page, url, { student, device, steps, timeout }) {
  await page.goto(device === 'cpu' ? `${url}?device=cpu` : url);
  await page.waitForSelector('#model-status:has-text("loaded")', { timeout });
  await page.selectOption('#train-student', student);
  await setNumber(page, '#train-steps', steps);
  const pressed = await page.evaluate(() => performance.now());
  await page.click('#train-start');
  try {
    await page.waitForFunction(() => /^Step [1-9]/.test(document.querySelector('#training-status')?.textContent ?? ''),
      null, { timeout, polling: 50 });
  } catch (error) {
    // Say where the run stopped getting ready, not only that the wait ran out.
    throw new Error(`${student} on ${device}: no first step ${timeout / 1000} s after Train; the page says: `
      + `${await page.textContent('#training-status')} (${error.message.split('\n')[0]})`);
  }
  const firstStep = await page.evaluate(() => performance.now());
  return { pressed, firstStep };
}

/** Chromium's flags that play `wav` once as the microphone, with no permission prompt. */
export function fakeMicrophone(wav) {
  return ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${wav}%noloop`];
}

/** Opens live mode and presses Listen; returns once the page listens. */
export async function startListening(page) {
  await page.click('#mode-live');
  await page.click('#live-listen');
  await page.waitForSelector('#live-status:has-text("Listening:")', { timeout: 180_000 });
}

/** Waits until the live view has heard `seconds` of the stream. */
export async function heardAtLeast(page, seconds, { timeout = (seconds + 60) * 1000, polling = 500 } = {}) {
  await page.waitForFunction((s) => {
    const heard = /Listening: ([\d.]+) s/.exec(document.querySelector('#live-status').textContent);
    return heard && Number(heard[1]) >= s;
  }, seconds, { timeout, polling });
}

/** Starts collecting the page thread's tasks of 50 ms or more; `longTasks` reads them. */
export async function watchLongTasks(page) {
  await page.evaluate(() => {
    window.tempokdLongTasks = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.tempokdLongTasks.push(Math.round(entry.duration));
    }).observe({ type: 'longtask' });
  });
}

/** The durations (ms) of the long tasks seen since `watchLongTasks`. */
export function longTasks(page) {
  return page.evaluate(() => window.tempokdLongTasks);
}

/** Sets a number field as a visitor would: type, then leave the field. */
export async function setNumber(page, selector, value) {
  await page.fill(selector, String(value));
  await page.dispatchEvent(selector, 'change');
}

export async function screenshot(page, name) {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Pixels drawn on a canvas (alpha > 0). */
export async function paintedPixels(page, selector) {
  return page.$eval(selector, (canvas) => {
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted += 1;
    return { painted, total: canvas.width * canvas.height };
  });
}

/** How many pixel columns of a canvas are painted over at least `share` of its height. */
export async function tallColumns(page, selector, share) {
  return page.$eval(selector, (canvas, share) => {
    const { width, height } = canvas;
    const data = canvas.getContext('2d').getImageData(0, 0, width, height).data;
    let tall = 0;
    for (let x = 0; x < width; x += 1) {
      let painted = 0;
      for (let y = 0; y < height; y += 1) if (data[(y * width + x) * 4 + 3] !== 0) painted += 1;
      if (painted >= share * height) tall += 1;
    }
    return tall;
  }, share);
}

/** Drops bytes as a file onto an element, as a drag from the desktop would. */
export async function dropFile(page, selector, name, bytes, type) {
  const transfer = await page.evaluateHandle(({ name, base64, type }) => {
    const data = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([data], name, { type }));
    return transfer;
  }, { name, base64: Buffer.from(bytes).toString('base64'), type });
  await page.dispatchEvent(selector, 'drop', { dataTransfer: transfer });
}

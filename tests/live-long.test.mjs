// End-to-end: ten minutes of live listening on Chromium's fake microphone, fed a generated stream,
// keep the page's and the model worker's memory flat once the tape is full (the ring buffer, the
// tape and the worker's queue hold a few seconds, whatever the length of the stream), and the
// page's thread free of long tasks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ROOT, serve, launch, open, screenshot, fakeMicrophone, startListening, heardAtLeast,
  watchLongTasks, longTasks,
} from './support/harness.mjs';

const SECONDS = 600;
// By the first minute the tape, the ring buffer and every model have all they keep.
const SETTLED_S = 60;

let dir;
let server;
let browser;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tempokd-live-long-'));
  const wav = join(dir, 'stream.wav');
  execFileSync('cargo', ['run', '--quiet', '-p', 'tempokd-cli', '--', 'synth-stream', '--out', wav,
    '--seconds', String(SECONDS + 30), '--stream-seed', '5'], { cwd: ROOT, stdio: 'inherit' });
  server = await serve();
  browser = await launch([...fakeMicrophone(wav), '--enable-precise-memory-info', '--js-flags=--expose-gc']);
});
after(async () => {
  await browser?.close();
  server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Once `seconds` of the stream have been heard: the page's and the worker's wasm memory, and the
 * page's JavaScript heap after a garbage collection, in bytes. */
async function memoryAt(page, seconds) {
  await heardAtLeast(page, seconds, { timeout: (seconds + 120) * 1000, polling: 1000 });
  // The memory line is redrawn once a second.
  await page.waitForTimeout(1100);
  return page.evaluate(() => {
    window.gc();
    const line = document.querySelector('#live-memory');
    return {
      page: Number(line.dataset.pageBytes),
      worker: Number(line.dataset.workerBytes),
      workers: Number(line.dataset.workers),
      heap: performance.memory.usedJSHeapSize,
    };
  });
}

test('ten minutes of listening keep memory flat and the page responsive', { timeout: (SECONDS + 420) * 1000 }, async () => {
  const { page, errors } = await open(browser, `${server.url}?device=cpu`);
  await startListening(page);
  const settled = await memoryAt(page, SETTLED_S);
  await watchLongTasks(page);
  const end = await memoryAt(page, SECONDS);
  await screenshot(page, 'live-ten-minutes');
  const tasks = await longTasks(page);
  const detections = await page.$$eval('#live-log tbody tr', (rows) => rows.length);
  await page.click('#live-stop');
  const mb = (bytes) => (bytes / 2 ** 20).toFixed(1);
  console.log(`after ${SETTLED_S} s: page ${mb(settled.page)} MB, ${end.workers} model worker(s) ${mb(settled.worker)} MB, ` +
    `heap ${mb(settled.heap)} MB; after ${SECONDS} s: page ${mb(end.page)} MB, worker ` +
    `${mb(end.worker)} MB, heap ${mb(end.heap)} MB; page tasks of 50 ms or more: ` +
    `${JSON.stringify(tasks)}; detections listed: ${detections}`);
  assert.ok(settled.worker > 0, 'the worker reported its memory');
  // Wasm memory never shrinks: it is the most an instance has held at once. After the first
  // minute it may still rise to a new high-water mark (the teacher reading a longer stretch of
  // speech, allocator slack: 3 MB in the worker over one measured run), never by what a leak of
  // the stream's audio would take (a second of it is 64 kB; nine minutes read by ten students
  // every hop are over 2 GB).
  assert.ok(end.page - settled.page <= 2 * 2 ** 20, `the page's memory grew: ${mb(settled.page)} → ${mb(end.page)} MB`);
  // The model worker holds the teacher; a helper (one per further core) holds only students.
  const allowed = (8 + 4 * (end.workers - 1)) * 2 ** 20;
  assert.ok(end.worker - settled.worker <= allowed, `the workers' memory grew: ${mb(settled.worker)} → ${mb(end.worker)} MB`);
  // The detection log keeps every detection (about 100 bytes each); nothing else may grow.
  assert.ok(end.heap - settled.heap <= 4 * 2 ** 20, `the page's heap grew: ${mb(settled.heap)} → ${mb(end.heap)} MB`);
  // Our target is none over 50 ms. How many pass it is a measurement of this shared machine's
  // load (printed above, README's figures), not asserted; what is held is that the page never
  // freezes.
  assert.ok(tasks.every((ms) => ms < 250),
    `a page task froze the page over ${SECONDS - SETTLED_S} s (ms): ${JSON.stringify(tasks)}`);
  assert.deepEqual(errors, []);
});

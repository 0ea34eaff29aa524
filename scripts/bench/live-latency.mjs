// Live mode's latency without and with the helper workers, in one run of one build: Chromium's
// fake microphone plays the same generated stream each time (the stream of tests/live.test.mjs)
// and the page listens with every model on the CPU, told by an init script either that the
// browser has one core (no helper: every model on the model worker) or the cores it has.
// The two alternate, TEMPOKD_BENCH_ROUNDS times each (default 2). Prints, per configuration,
// the latency from the end of each stretch of speech to its mark over every model's marks, the
// ms a reading takes per worker and the windows dropped, the marks naming a keyword said there
// apart from the others, where each mark's time went (the wait for the audio that decided it,
// then chunks, queue, reading and showing) with the slowest marks, and how busy the page's own
// thread was while listening (Chromium's task, script, style and layout time, and the tasks of
// 50 ms or more); then the ratio of the medians.
//
//   scripts/test.sh (or trunk build --offline), then: node scripts/bench/live-latency.mjs
//   TEMPOKD_DIST=target/dist-release node scripts/bench/live-latency.mjs
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ROOT, serve, launch, fakeMicrophone, startListening, heardAtLeast, watchLongTasks, longTasks,
} from '../../tests/support/harness.mjs';

const SECONDS = 45;
const ROUNDS = Number(process.env.TEMPOKD_BENCH_ROUNDS ?? 2);

const dir = await mkdtemp(join(tmpdir(), 'tempokd-live-bench-'));
const wav = join(dir, 'stream.wav');
execFileSync('cargo', ['run', '--quiet', '-p', 'tempokd-cli', '--', 'synth-stream', '--out', wav,
  '--seconds', String(SECONDS), '--words', '8', '--stream-seed', '3', '--keyword-share', '0.9'],
{ cwd: ROOT, stdio: 'inherit' });
// What was said, and when (written beside the stream): a mark is right when it names a keyword
// said within TOLERANCE_S of where it is placed, as `tempokd calibrate` counts a detection.
const said = JSON.parse(await readFile(join(dir, 'stream.json'), 'utf8')).words;
const TOLERANCE_S = 0.25;
const isRight = (word, at) => said.some((w) => w.label === word &&
  at >= w.start_s - TOLERANCE_S && at <= w.end_s + TOLERANCE_S);
const server = await serve();

/** One session of SECONDS with the page told it has `cores` cores (null: what it has). */
async function listen(cores) {
  const browser = await launch(fakeMicrophone(wav));
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    if (cores !== null) {
      await page.addInitScript((n) => {
        Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => n });
      }, cores);
    }
    await page.goto(`${server.url}?device=cpu`);
    const reported = await page.evaluate(() => navigator.hardwareConcurrency);
    await startListening(page);
    const thread = await watchPageThread(page);
    await heardAtLeast(page, SECONDS + 2);
    const pageThread = await thread.read();
    await page.click('#live-stop');
    await page.waitForSelector('#live-status:has-text("Stopped")');
    const models = await page.$$eval('#live-models tbody tr', (rows) => rows.map((row) =>
      [...row.querySelectorAll('td')].map((cell) => cell.textContent.trim())));
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#live-csv')]);
    const [header, ...rows] = (await readFile(await download.path(), 'utf8')).trim().split('\n');
    const column = Object.fromEntries(header.split(',').map((name, at) => [name, at]));
    const marks = rows.map((row) => row.split(','))
      .filter((cells) => cells[column.latency_ms] !== '')
      .map((cells) => {
        const [decided, speechEnd] = [cells[column.decided_s], cells[column.speech_end_s]].map(Number);
        const ms = Number(cells[column.latency_ms]);
        // The stream's time from the end of speech to the end of the audio that decided the
        // word (a window's end, or for the teacher when voice activity closed the stretch), and
        // the rest: the audio's chunks, the wait for the worker, the reading, the page's showing.
        const waitMs = Math.round((decided - speechEnd) * 1000);
        const model = cells[column.model];
        const onHop = Math.abs(decided * 4 - Math.round(decided * 4)) < 1e-3;
        const read = model === 'teacher' ? 'stretch' : onHop ? 'hop' : 'early';
        const at = Number(cells[column.time_s]);
        const word = cells[column.word];
        return { model, word, at, speechEnd, decided, read, ms, waitMs, restMs: ms - waitMs,
          right: isRight(word, at) };
      });
    return { reported, models, marks, pageThread };
  } finally {
    await browser.close();
  }
}

/** Starts counting the page thread's work; `read()` gives it per second since then. */
async function watchPageThread(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
  const metrics = async () => Object.fromEntries(
    (await cdp.send('Performance.getMetrics')).metrics.map(({ name, value }) => [name, value]));
  await watchLongTasks(page);
  const [first, startedMs] = [await metrics(), Date.now()];
  return {
    async read() {
      const last = await metrics();
      const seconds = (Date.now() - startedMs) / 1000;
      const perSecond = (...names) => Math.round(
        names.reduce((sum, name) => sum + last[name] - first[name], 0) * 1000 / seconds);
      return {
        taskMs: perSecond('TaskDuration'), scriptMs: perSecond('ScriptDuration'),
        layoutMs: perSecond('RecalcStyleDuration', 'LayoutDuration'),
        longTasks: await longTasks(page), seconds,
      };
    },
  };
}
const threadSummary = ({ taskMs, scriptMs, layoutMs, longTasks, seconds }) =>
  `busy ${taskMs} ms a second over ${seconds.toFixed(0)} s (script ${scriptMs}, style and ` +
  `layout ${layoutMs}), ${longTasks.length} tasks of 50 ms or more` +
  (longTasks.length ? ` (longest ${Math.max(...longTasks)} ms)` : '');
const sortedMs = (marks) => marks.map((mark) => mark.ms).sort((a, b) => a - b);
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const summary = (sorted) => (sorted.length ? `median ${quantile(sorted, 0.5)} ms, 90th ` +
  `percentile ${quantile(sorted, 0.9)} ms, most ${sorted.at(-1)} ms (n = ${sorted.length})` : 'none');
/** The teacher reads each stretch of speech once voice activity has closed it, the students
 * every hop: their latencies differ in kind, so each is also given apart. */
const byReader = (marks) => ['teacher', 'students'].map((who) => {
  const mine = sortedMs(marks.filter((mark) => (mark.model === 'teacher') === (who === 'teacher')));
  return `${who}: ${mine.length ? summary(mine) : 'no marks'}`;
}).join('; ');
/** Median, 90th percentile and worst of the wait for the deciding audio and of the rest, for the
 * teacher and the students apart. */
const split = (marks) => ['teacher', 'students'].map((who) => {
  const mine = marks.filter((mark) => (mark.model === 'teacher') === (who === 'teacher'));
  const part = (key) => {
    const sorted = mine.map((mark) => mark[key]).sort((a, b) => a - b);
    return `${quantile(sorted, 0.5)} / ${quantile(sorted, 0.9)} / ${sorted.at(-1)} ms`;
  };
  return mine.length ? `${who}: waiting for the audio ${part('waitMs')}, then ${part('restMs')}` : '';
}).filter(Boolean).join('; ');
const configurations = [{ name: 'one worker (1 core reported)', cores: 1 },
  { name: 'with helpers (the cores the browser has)', cores: null }];
const results = new Map(configurations.map((c) => [c.name, []]));
for (let round = 0; round < ROUNDS; round += 1) {
  for (const configuration of configurations) {
    const run = await listen(configuration.cores);
    results.get(configuration.name).push(run);
    const sorted = sortedMs(run.marks);
    console.log(`${configuration.name}, round ${round + 1} (${run.reported} cores reported): ` +
      `${summary(sorted)}; ${byReader(run.marks)}`);
    // Model | reads | worker | readings | ms each | behind s | skipped
    for (const cells of run.models) console.log(`  ${cells.join(' | ')}`);
    console.log(`  marks naming a keyword said there: ` +
      `${summary(sortedMs(run.marks.filter((mark) => mark.right)))}; the others (false accepts): ` +
      `${summary(sortedMs(run.marks.filter((mark) => !mark.right)))}`);
    console.log(`  where the time went: ${split(run.marks)}`);
    console.log(`  the page's thread while listening: ${threadSummary(run.pageThread)}`);
    const slowest = [...run.marks].sort((a, b) => b.ms - a.ms).slice(0, 6);
    console.log(`  slowest marks: ${slowest.map((m) => `${m.model} "${m.word}" at ${m.at} s ` +
      `(${m.right ? 'right' : 'wrong'}, ${m.read} window ending ${m.decided} s, ` +
      `speech ended ${m.speechEnd} s) ` +
      `${m.ms} = ${m.waitMs} + ${m.restMs} ms`).join('; ')}`);
  }
}
const medians = configurations.map((c) => {
  const marks = results.get(c.name).flatMap((run) => run.marks);
  const all = sortedMs(marks);
  console.log(`${c.name}, all rounds: ${summary(all)}; ${byReader(marks)}; marks naming a ` +
    `keyword said there: ${summary(sortedMs(marks.filter((mark) => mark.right)))}`);
  return quantile(all, 0.5);
});
console.log(`median latency with helpers / one worker: ${(medians[1] / medians[0]).toFixed(2)}`);
server.close();
await rm(dir, { recursive: true, force: true });

// Times KD training in the page: for each student and device, one run of both copies (without
// and with KD) in headless Chromium, and prints a table of steps per second, the time of the
// whole run, and the longest task that held the page's own thread while it trained.
//
//   trunk build --release --offline --dist target/dist-release
//   TEMPOKD_DIST=target/dist-release node scripts/bench/training-page.mjs
//
// Every student runs on each device. TC-ResNet8 on the CPU trains the default 300 steps, so its
// time is that of a whole run. The others train TEMPOKD_BENCH_STEPS steps (default 60) or stop after
// TEMPOKD_BENCH_SECONDS of training (default 180), whichever comes first: SwiftShader emulates the
// GPU on the CPU and can be very slow. All runs share one browser profile, so after the first the
// teacher's maps come from its cache.
import { serve, launch, startTraining } from '../../tests/support/harness.mjs';

const TIMEOUT = 1_200_000;
const STEPS = Number(process.env.TEMPOKD_BENCH_STEPS ?? 60);
const SECONDS = Number(process.env.TEMPOKD_BENCH_SECONDS ?? 180);
// TEMPOKD_BENCH_DEVICES (default "cpu,webgpu") picks the devices; every student runs on each.
const DEVICES = (process.env.TEMPOKD_BENCH_DEVICES ?? 'cpu,webgpu').split(',');
// TEMPOKD_BENCH_STUDENTS (default all five) picks the students.
const STUDENTS = (process.env.TEMPOKD_BENCH_STUDENTS ?? 'tc-resnet8,lstm-p,crnn,att-rnn,mhatt-rnn').split(',');
const RUNS = DEVICES.flatMap((device) => STUDENTS.map((student) => (
  device === 'cpu' && student === 'tc-resnet8'
    ? { student, device, steps: 300, seconds: Infinity }
    : { student, device, steps: STEPS, seconds: SECONDS })));

// Every main-thread task over 50 ms, as the browser reports it, from the page's first moment.
const WATCH_LONG_TASKS = () => {
  window.longTasks = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.longTasks.push([entry.startTime, entry.duration]);
  }).observe({ type: 'longtask', buffered: true });
};

// When each stage of getting ready ("Preparing the teacher maps: …") first shows, so the first
// step's wait can be split into its stages.
const WATCH_STAGES = () => {
  window.stages = [];
  const note = () => {
    const stage = /^Preparing the (.+?):/.exec(document.querySelector('#training-status')?.textContent ?? '')?.[1];
    if (stage !== undefined && window.stages.at(-1)?.[1] !== stage) window.stages.push([performance.now(), stage]);
  };
  addEventListener('DOMContentLoaded', () => new MutationObserver(note)
    .observe(document.body, { subtree: true, childList: true, characterData: true }));
};

/** Seconds from `pressed` to the first step spent in each stage, in order ("models 0.4 s, …"). */
function stageTimes(stages, pressed, firstStep) {
  const shown = stages.filter(([at]) => at >= pressed && at <= firstStep);
  return shown.map(([at, stage], index) => {
    const until = shown[index + 1]?.[0] ?? firstStep;
    return `${stage} ${((until - at) / 1000).toFixed(1)} s`;
  }).join(', ');
}

async function measure(page, url, { student, device, steps, seconds }) {
  const { pressed, firstStep } = await startTraining(page, url, { student, device, steps, timeout: TIMEOUT });
  try {
    await page.waitForSelector('#training-status:has-text("Trained")',
      { timeout: Number.isFinite(seconds) ? seconds * 1000 : TIMEOUT });
  } catch {
    const status = await page.textContent('#training-status');
    if (!/Trained/.test(status)) {
      // A run that ended otherwise (an error, a lost device) has no Stop button: say what the
      // page shows instead of waiting for one.
      if (!await page.isVisible('#train-stop')) {
        throw new Error(`${student} on ${device}: the run has no Stop button after ${seconds} s `
          + `of training; the page says: ${status}`);
      }
      await page.click('#train-stop');
      const stopping = Date.now();
      try {
        await page.waitForSelector('#training-status:has-text("Stopped after")', { timeout: TIMEOUT });
      } catch {
        // A step that never ends (or a worker stuck in one) leaves the run where it was: say
        // where, rather than only that the wait ran out.
        throw new Error(`${student} on ${device}: not stopped ${((Date.now() - stopping) / 1000).toFixed(0)} s `
          + `after Stop was pressed; the page says: ${await page.textContent('#training-status')}`);
      }
    }
  }
  const ended = await page.evaluate(() => performance.now());
  const status = await page.textContent('#training-status');
  // "Trained 300 steps in 44.1 s." or "Stopped after 12 steps (180.4 s)."
  const [, done, trainedSeconds] = /(\d+) steps (?:in |\()([\d.]+) s/.exec(status).map(Number);
  const info = await page.textContent('#training-info');
  const [during, loading, stages] = await page.evaluate(([from, to]) => [
    window.longTasks.filter(([start]) => start >= from && start <= to),
    window.longTasks.filter(([start]) => start < from).map(([, duration]) => duration),
    window.stages,
  ], [firstStep, ended]);
  const tasks = during.map(([, duration]) => duration);
  // When each long task came, so a slow redraw while stepping tells apart from the run's end.
  for (const [start, duration] of during) {
    console.error(`${student}: a page task of ${duration.toFixed(0)} ms, ${((start - firstStep) / 1000).toFixed(1)} s `
      + `after the first step (the run ended ${((ended - firstStep) / 1000).toFixed(1)} s after it)`);
  }
  return {
    student, device: /, on (\w+)/.exec(info)?.[1] ?? device, steps: done,
    firstStep: (firstStep - pressed) / 1000,
    stages: stageTimes(stages, pressed, firstStep),
    cached: /cache/.test(info),
    total: (ended - pressed) / 1000,
    trainedSeconds,
    perSecond: done / trainedSeconds,
    longest: Math.max(0, ...tasks),
    over100: tasks.filter((duration) => duration > 100).length,
    // The page's own loading (its wasm, the first charts) shows the observer at work.
    loadingTasks: loading.length,
    loadingLongest: Math.max(0, ...loading),
  };
}

const server = await serve();
const browser = await launch(['--enable-unsafe-webgpu']);
const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
await context.addInitScript(WATCH_LONG_TASKS);
await context.addInitScript(WATCH_STAGES);
const page = await context.newPage();
const rows = [];
try {
  for (const run of RUNS) {
    const row = await measure(page, server.url, run);
    rows.push(row);
    console.error(`measured ${run.student} on ${row.device}: ${row.perSecond.toFixed(2)} steps/s`);
  }
} finally {
  await browser.close();
  server.close();
}
console.log('| student | device | steps | first step after Train | training time | steps/s | longest page task while training | tasks > 100 ms | long tasks before training (longest) |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const first = `${r.firstStep.toFixed(1)} s${r.cached ? ' (maps cached)' : ' (maps computed)'}`;
  console.error(`${r.student} on ${r.device}, first step ${r.firstStep.toFixed(1)} s: ${r.stages}`);
  console.log(`| ${r.student} | ${r.device} | ${r.steps} | ${first} | ${r.trainedSeconds.toFixed(1)} s | ${r.perSecond.toFixed(2)} | ${r.longest.toFixed(0)} ms | ${r.over100} | ${r.loadingTasks} (${r.loadingLongest.toFixed(0)} ms) |`);
}

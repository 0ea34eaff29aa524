// Samples one of the page's threads with Chromium's CPU profiler (over the DevTools protocol)
// while one student trains on the CPU, or while live mode listens, and prints the busiest
// functions. Run through profile.sh, which builds the page and its CPU worker with their
// functions' names.
//
//   TEMPOKD_DIST=target/dist-profile node scripts/bench/profile.mjs THREAD STUDENT SECONDS
//
// THREAD is `worker` (the training workers: where the steps' time goes), `page` (the page's own
// thread: what it does between steps, and in each stretch of 50 ms or more that held it, as the
// browser's long tasks do) or `live` (the page's own thread while live mode listens with every
// model on the CPU to the generated stream of tests/live.test.mjs; STUDENT is not used).
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ROOT, serve, launch, startTraining, fakeMicrophone, startListening,
} from '../../tests/support/harness.mjs';

const [thread = 'worker', student = 'tc-resnet8', seconds = '20'] = process.argv.slice(2);
if (!['worker', 'page', 'live'].includes(thread)) throw new Error(`THREAD is worker, page or live, not ${thread}`);
const TIMEOUT = 1_200_000;
const SAMPLE_EVERY_US = thread === 'worker' ? 500 : 100;
// The live stream is longer than any profile of it, so the profile sees listening only.
const STREAM_S = Number(seconds) + 30;
// A stretch of the page's thread this long without an idle sample is reported on its own.
const LONG_STRETCH_MS = 50;

const dir = await mkdtemp(join(tmpdir(), 'tempokd-profile-'));
const wav = join(dir, 'stream.wav');
if (thread === 'live') {
  execFileSync('cargo', ['run', '--quiet', '-p', 'tempokd-cli', '--', 'synth-stream', '--out', wav,
    '--seconds', String(STREAM_S), '--words', '8', '--stream-seed', '3', '--keyword-share', '0.9'],
  { cwd: ROOT, stdio: 'inherit' });
}
const server = await serve();
const browser = await launch(thread === 'live' ? fakeMicrophone(wav) : []);
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const session = await context.newCDPSession(page);
  const workers = await attachToWorkers(session);
  const status = thread === 'live' ? '#live-status' : '#training-status';
  if (thread === 'live') {
    await page.goto(`${server.url}?device=cpu`);
    await startListening(page);
  } else {
    // More steps than the profile lasts, so it sees training only.
    await startTraining(page, server.url, { student, device: 'cpu', steps: 100_000, timeout: TIMEOUT });
  }
  const threads = thread === 'worker'
    ? workers.all()
    : [{ url: 'the page', send: (method, params) => session.send(method, params) }];
  for (const profiled of threads) {
    await profiled.send('Profiler.enable');
    await profiled.send('Profiler.setSamplingInterval', { interval: SAMPLE_EVERY_US });
    await profiled.send('Profiler.start');
  }
  const from = await page.textContent(status);
  await new Promise((done) => setTimeout(done, Number(seconds) * 1000));
  const to = await page.textContent(status);
  const doing = thread === 'live' ? 'listening with every model' : `${student} training`;
  console.log(`${seconds} s of ${doing} on the CPU: "${from}" … "${to}"`);
  for (const profiled of threads) {
    const { profile } = await profiled.send('Profiler.stop');
    const samples = readSamples(profile);
    const summary = summarise(samples);
    // The model worker idles while the training workers train.
    if (thread === 'worker' && summary.busy < 0.5) continue;
    console.log(`\n${profiled.url}: ${(summary.total / 1e6).toFixed(1)} s sampled, ${(100 * summary.busy).toFixed(1)} % busy`);
    console.log('\nown time\n' + table(summary.self, summary.total, 25));
    console.log('\nwith what it calls\n' + table(summary.inclusive, summary.total, 40));
    if (thread === 'worker') continue;
    for (const stretch of busyStretches(samples, LONG_STRETCH_MS * 1000)) {
      const inside = summarise(stretch);
      const at = (stretch[0].at - samples[0].at) / 1e6;
      console.log(`\nbusy for ${(inside.total / 1000).toFixed(0)} ms without a break, ${at.toFixed(1)} s into the profile`);
      console.log('own time\n' + table(inside.self, inside.total, 12));
      console.log('with what it calls\n' + table(inside.inclusive, inside.total, 30));
    }
  }
} finally {
  await browser.close();
  server.close();
  await rm(dir, { recursive: true, force: true });
}

/**
 * The page's workers, reached through the page's session: Chromium announces each one, and
 * messages for it travel wrapped in `Target.sendMessageToTarget`.
 */
async function attachToWorkers(session) {
  const targets = new Map();
  const waiting = new Map();
  let nextId = 1;
  session.on('Target.attachedToTarget', ({ sessionId, targetInfo }) => {
    if (targetInfo.type === 'worker') targets.set(sessionId, targetInfo.url);
  });
  session.on('Target.receivedMessageFromTarget', ({ message }) => {
    const reply = JSON.parse(message);
    if (!waiting.has(reply.id)) return;
    const { ok, fail } = waiting.get(reply.id);
    waiting.delete(reply.id);
    if (reply.error) fail(new Error(reply.error.message));
    else ok(reply.result);
  });
  await session.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  const worker = (sessionId) => ({
    url: targets.get(sessionId),
    send: (method, params = {}) => new Promise((ok, fail) => {
      const id = nextId++;
      waiting.set(id, { ok, fail });
      session.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) })
        .catch(fail);
    }),
  });
  return { all: () => [...targets.keys()].map(worker) };
}

/** Each sample in order: when it was taken (µs), how long it stands for, and its stack, leaf first. */
function readSamples({ nodes, samples, timeDeltas, startTime }) {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const name = (node) => (node.callFrame.functionName || '(anonymous)').replace(/::h[0-9a-f]{16}$/, '');
  const stacks = new Map();
  const stackOf = (id) => {
    if (!stacks.has(id)) {
      const stack = [];
      for (let at = id; at !== undefined; at = parent.get(at)) stack.push(name(byId.get(at)));
      stacks.set(id, stack);
    }
    return stacks.get(id);
  };
  let at = startTime;
  return samples.map((id, index) => {
    at += timeDeltas[index] ?? 0;
    return { at, time: timeDeltas[index + 1] ?? 0, stack: stackOf(id) };
  });
}

function idle(sample) {
  return sample.stack[0] === '(idle)';
}

/** Time per function name: its own samples, and every sample with it on the stack. */
function summarise(samples) {
  const self = new Map();
  const inclusive = new Map();
  const add = (map, key, time) => map.set(key, (map.get(key) ?? 0) + time);
  let total = 0;
  let idleTime = 0;
  for (const sample of samples) {
    total += sample.time;
    if (idle(sample)) idleTime += sample.time;
    add(self, sample.stack[0], sample.time);
    for (const caller of new Set(sample.stack)) add(inclusive, caller, sample.time);
  }
  return { self, inclusive, total, busy: total > 0 ? 1 - idleTime / total : 0 };
}

/** The runs of samples with no idle one among them that last at least `atLeastUs`. */
function busyStretches(samples, atLeastUs) {
  const stretches = [];
  let current = [];
  const close = () => {
    const lasted = current.reduce((sum, sample) => sum + sample.time, 0);
    if (lasted >= atLeastUs) stretches.push(current);
    current = [];
  };
  for (const sample of samples) {
    if (idle(sample)) close();
    else current.push(sample);
  }
  close();
  return stretches;
}

function table(times, total, rows) {
  return [...times].sort((a, b) => b[1] - a[1]).slice(0, rows)
    .map(([name, time]) => `${(100 * time / total).toFixed(1).padStart(6)} %  ${name.slice(0, 140)}`)
    .join('\n');
}

// Samples the page's workers with Chromium's CPU profiler (over the DevTools protocol) while one
// student trains on the CPU, and prints the busiest functions. Run through profile-worker.sh,
// which builds a worker whose functions have names.
//
//   TEMPOKD_DIST=target/dist-profile node scripts/bench/profile-worker.mjs STUDENT SECONDS
import { serve, launch, startTraining } from '../../tests/support/harness.mjs';

const [student = 'tc-resnet8', seconds = '20'] = process.argv.slice(2);
const TIMEOUT = 1_200_000;
const SAMPLE_EVERY_US = 500;

const server = await serve();
const browser = await launch([]);
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const workers = await attachToWorkers(await context.newCDPSession(page));
  // More steps than the profile lasts, so it sees training only.
  await startTraining(page, server.url, { student, device: 'cpu', steps: 100_000, timeout: TIMEOUT });
  for (const worker of workers.all()) {
    await worker.send('Profiler.enable');
    await worker.send('Profiler.setSamplingInterval', { interval: SAMPLE_EVERY_US });
    await worker.send('Profiler.start');
  }
  const from = await page.textContent('#training-status');
  await new Promise((done) => setTimeout(done, Number(seconds) * 1000));
  const to = await page.textContent('#training-status');
  console.log(`${student}, ${seconds} s of training on the CPU: "${from}" … "${to}"`);
  for (const worker of workers.all()) {
    const { profile } = await worker.send('Profiler.stop');
    const summary = summarise(profile);
    // The model worker idles while the training worker trains.
    if (summary.busy < 0.5) continue;
    console.log(`\n${worker.url}: ${(summary.total / 1e6).toFixed(1)} s sampled, ${(100 * summary.busy).toFixed(1)} % busy`);
    console.log('\nown time\n' + table(summary.self, summary.total, 25));
    console.log('\nwith what it calls\n' + table(summary.inclusive, summary.total, 40));
  }
} finally {
  await browser.close();
  server.close();
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

/** Time per function name: its own samples, and every sample with it on the stack. */
function summarise({ nodes, samples, timeDeltas }) {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const name = (node) => (node.callFrame.functionName || '(anonymous)').replace(/::h[0-9a-f]{16}$/, '');
  const self = new Map();
  const inclusive = new Map();
  const add = (map, key, time) => map.set(key, (map.get(key) ?? 0) + time);
  let total = 0;
  let idle = 0;
  samples.forEach((id, index) => {
    const time = timeDeltas[index] ?? 0;
    total += time;
    const leaf = name(byId.get(id));
    if (leaf === '(idle)') idle += time;
    add(self, leaf, time);
    const onStack = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) onStack.add(name(byId.get(at)));
    for (const caller of onStack) add(inclusive, caller, time);
  });
  return { self, inclusive, total, busy: total > 0 ? 1 - idle / total : 0 };
}

function table(times, total, rows) {
  return [...times].sort((a, b) => b[1] - a[1]).slice(0, rows)
    .map(([name, time]) => `${(100 * time / total).toFixed(1).padStart(6)} %  ${name.slice(0, 140)}`)
    .join('\n');
}

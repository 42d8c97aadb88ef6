// Frame-time benchmark (not a test: the machines are shared and noisy, so this reports).
// 3 brokers, 3 topics x 12 partitions (replication factor 3), 5,000 records/s simulated at 1x
// in headless Chromium against the release build in dist/. A frame's time runs from its
// requestAnimationFrame timestamp to the first task after it, so it covers the engine step,
// the Yew render, style, layout and paint. Also checks the DOM does not grow with the log.
//   node tests/browser/frame-time.mjs [seconds]   (45 by default: past 30 virtual seconds, the
//   30 s request timeouts of the first requests start firing and the engine does more per frame)
// Env: KPLAY_DIST=<dir> measures another build (side by side, to beat the noise);
//      KPLAY_WELCOME=1 plays the welcome scenario instead of the frame scenario;
//      KPLAY_CSS=<css> adds a style sheet, to try a rendering idea without a rebuild.
import { readFileSync } from 'node:fs';
import { serveDist, launch, openPage, openFrameScenario } from './harness.mjs';

const seconds = Number(process.argv[2] ?? 45);
// CPU time stolen from this (virtual) machine by its host while measuring, from /proc/stat:
// on a shared machine it explains a slow run (Linux only; elsewhere it says so).
const cpu = () => {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { total: f.reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
  } catch { return null; }
};

const server = await serveDist();
const browser = await launch();
const { page, errors } = await openPage(browser, server.url);
// KPLAY_WELCOME=1 measures the welcome scenario as a first visit plays it instead.
if (process.env.KPLAY_WELCOME) await page.waitForSelector('[data-testid=app-ready]');
else await openFrameScenario(page);
await page.evaluate(() => {
  window.__frames = [];
  const loop = (ts) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => window.__frames.push(performance.now() - ts);
    ch.port2.postMessage(0);
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
});
const cdp = await page.context().newCDPSession(page);
await cdp.send('Performance.enable');
const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
await page.click('[data-testid=play]');
const domAt = async () => page.evaluate(() => document.getElementsByTagName('*').length);
const wait = (ms) => page.waitForFunction((t) => performance.now() > t, null, { timeout: ms + 10_000 }).catch(() => {});
const t0 = await page.evaluate(() => performance.now());
await wait(0);
await page.waitForFunction((t) => performance.now() > t, t0 + (seconds * 1000) / 3, { timeout: seconds * 1000 + 10_000, polling: 500 });
const domEarly = await domAt();
const cpu0 = cpu();
const m0 = await metrics();
const n0 = await page.evaluate(() => window.__frames.length);
// Virtual and wall time read together, so the rate does not depend on when the polling woke.
const clockNow = () => page.$eval('[data-testid=clock]', (e) => [Number(e.dataset.nowUs), performance.now()]);
const [early, wallEarly] = await clockNow();
await page.waitForFunction((t) => performance.now() > t, t0 + seconds * 1000, { timeout: seconds * 1000 + 10_000, polling: 500 });
const domLate = await domAt();
const cpu1 = cpu();
const m1 = await metrics();
const n1 = await page.evaluate(() => window.__frames.length);
const [late, wallLate] = await clockNow();
const frames = await page.evaluate(() => window.__frames.slice(30)); // skip warm-up
const acked = await page.textContent('[data-testid=record-totals]');
await browser.close();
await server.close();

// Whether frames get slower as the run goes on (as the log, the trace and pending timeouts grow).
const thirds = [0, 1, 2].map((i) => {
  const part = frames.slice(Math.floor((i * frames.length) / 3), Math.floor(((i + 1) * frames.length) / 3)).sort((a, b) => a - b);
  return part[Math.min(part.length - 1, Math.floor(0.95 * part.length))];
});
frames.sort((a, b) => a - b);
const pct = (p) => frames[Math.min(frames.length - 1, Math.floor((p / 100) * frames.length))];
const virtualRate = ((late - early) / 1e3) / (wallLate - wallEarly);
console.log(`frames: ${frames.length} over ${seconds} s of wall time`);
console.log(`frame time p50 ${pct(50).toFixed(1)} ms, p95 ${pct(95).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, max ${frames[frames.length - 1].toFixed(1)} ms (budget 16.7 ms)`);
console.log(`p95 by thirds of the run: ${thirds.map((t) => t.toFixed(1)).join(', ')} ms`);
console.log(`virtual seconds per wall second: ${virtualRate.toFixed(2)} (1.00 means the simulation kept up at 1x)`);
console.log(`DOM elements: ${domEarly} at ${Math.round(early / 1e6)} s, ${domLate} at ${Math.round(late / 1e6)} s`);
console.log(`records: ${acked}`);
// Where a frame's main-thread time goes (Chromium's own counters over the last two thirds).
const per = (k) => (((m1[k] - m0[k]) * 1000) / (n1 - n0)).toFixed(1);
console.log(`per frame: script ${per('ScriptDuration')} ms, style ${per('RecalcStyleDuration')} ms, layout ${per('LayoutDuration')} ms, all tasks ${per('TaskDuration')} ms`);
console.log(cpu0 && cpu1
  ? `CPU stolen by the host while measuring: ${((100 * (cpu1.steal - cpu0.steal)) / Math.max(1, cpu1.total - cpu0.total)).toFixed(0)}% (a noisy neighbour slows every frame; compare runs with similar figures)`
  : 'CPU steal: unknown (no /proc/stat)');
if (errors.length) console.log('page errors:', errors);

// Where a frame's CPU goes (not a test; a tool for comparing two builds or two style sheets).
// Plays the frame-time scenario (harness.mjs, frameScenario) and records a Chromium trace, then
// prints the CPU time per frame of each thread that draws (the page's main thread, the raster
// workers, the compositor and the display compositor) and of the main thread's rendering
// stages. CPU time (a trace's `tdur`) varies far less than wall time on a shared host, where
// frame-time.mjs's p95 moves by a third from one minute to the next: compare builds with this,
// then confirm with frame-time.mjs.
//   node tests/browser/frame-profile.mjs [seconds]      (8 by default, after 4 s of warm-up)
// Env: KPLAY_DIST=<dir> profiles another build; KPLAY_CSS=<css> adds a style sheet.
import { serveDist, launch, openPage, openFrameScenario } from './harness.mjs';

const seconds = Number(process.argv[2] ?? 8);
const server = await serveDist();
const browser = await launch();
const { page, errors } = await openPage(browser, server.url);
await openFrameScenario(page);
await page.click('[data-testid=play]');
const after = async (ms) => {
  const t = await page.evaluate(() => performance.now());
  await page.waitForFunction((end) => performance.now() > end, t + ms, { timeout: ms + 30_000, polling: 250 });
};
await after(4000);
const cdp = await page.context().newCDPSession(page);
const events = [];
cdp.on('Tracing.dataCollected', (d) => {
  for (const e of d.value) if (e.ph === 'X' || e.ph === 'M') events.push(e);
});
const done = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
await cdp.send('Tracing.start', { categories: 'toplevel,devtools.timeline,cc', transferMode: 'ReportEvents' });
await after(seconds * 1000);
await cdp.send('Tracing.end');
await done;
await browser.close();
await server.close();

const threads = new Map();
for (const e of events) if (e.ph === 'M' && e.name === 'thread_name') threads.set(`${e.pid}:${e.tid}`, e.args.name);
const thread = (e) => threads.get(`${e.pid}:${e.tid}`) ?? '?';
const main = events.find((e) => e.name === 'FireAnimationFrame');
const isMain = (e) => main && e.pid === main.pid && e.tid === main.tid;
const frames = events.filter((e) => e.ph === 'X' && e.name === 'ProxyMain::BeginMainFrame' && isMain(e)).length;
if (!frames) throw new Error('no frames in the trace');
const cpu = new Map();
const stages = new Map();
const stageNames = ['FunctionCall', 'UpdateLayoutTree', 'Layout', 'PrePaint', 'Paint', 'Layerize'];
for (const e of events) {
  if (e.ph !== 'X') continue;
  const ms = (e.tdur ?? e.dur) / 1000;
  // Top-level tasks only, so nested events are not counted twice.
  if (e.name === 'ThreadControllerImpl::RunTask' || e.name === 'ThreadPool_RunTask') {
    const name = isMain(e) ? 'main' : thread(e);
    cpu.set(name, (cpu.get(name) ?? 0) + ms);
  }
  if (isMain(e) && stageNames.includes(e.name)) stages.set(e.name, (stages.get(e.name) ?? 0) + ms);
}
const label = { main: 'page main thread', ThreadPoolForegroundWorker: 'raster workers', Compositor: 'compositor', VizCompositorThread: 'display compositor' };
const per = (ms) => (ms / frames).toFixed(2);
console.log(`frames: ${frames} in ${seconds} s of trace`);
console.log(`CPU ms per frame: ${Object.keys(label).map((k) => `${label[k]} ${per(cpu.get(k) ?? 0)}`).join(', ')}`);
console.log(`main thread stages, ms per frame: ${stageNames.map((n) => `${n === 'FunctionCall' ? 'script' : n} ${per(stages.get(n) ?? 0)}`).join(', ')}`);
if (errors.length) console.log('page errors:', errors);

// Shared harness for the browser tests: serves dist/ on an ephemeral loopback port and opens
// pages in Debian's Chromium through playwright-core. No wall-clock sleeps: tests wait on the
// page's own state with explicit timeouts.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join, extname, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

// KPLAY_DIST serves another build (say, to compare two builds' frame times in one sitting).
const dist = process.env.KPLAY_DIST ? normalize(process.env.KPLAY_DIST + '/') : fileURLToPath(new URL('../../dist/', import.meta.url));
const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.png': 'image/png', '.svg': 'image/svg+xml', '.toml': 'text/plain' };

export async function serveDist() {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = normalize(join(dist, path === '/' ? 'index.html' : path));
    if (!file.startsWith(dist)) { res.writeHead(403).end(); return; }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(r)) };
}

export async function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
    ],
    // launch() always starts from a fresh, temporary profile of its own.
  });
}

/// A page that records console errors and uncaught exceptions, to assert there were none.
export async function openPage(browser, url, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const { page, errors } = await openTab(context, url);
  return { page, context, errors };
}

/// Another page in the same context: it shares the first one's localStorage, as a second tab
/// or a later visit in the same browser does.
export async function openTab(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  await page.goto(url);
  return { page, errors };
}

/// The frame-time benchmarks' cluster (frame-scenario.toml, which the native frame bench reads
/// too): 3 brokers, 3 topics x 12 partitions at replication factor 3, 5,000 records/s.
export function frameScenario() {
  return readFileSync(new URL('./frame-scenario.toml', import.meta.url), 'utf8');
}

/// Imports the frame scenario into an open page (paused), with KPLAY_CSS's style sheet if set:
/// a rendering idea tried without a rebuild.
export async function openFrameScenario(page) {
  await page.waitForSelector('[data-testid=app-ready]');
  await page.fill('[data-testid=scenario-text]', frameScenario());
  await page.click('[data-testid=import]');
  await page.waitForSelector('[data-testid=app-ready]');
  if (process.env.KPLAY_CSS) await page.addStyleTag({ content: process.env.KPLAY_CSS });
}

/// Waits for `n` of the page's animation frames: long enough for the frame loop to have moved
/// anything that was going to move, without a wall-clock sleep.
export function frames(page, n) {
  return page.evaluate((count) => new Promise((resolve) => {
    let left = count;
    const tick = () => (--left <= 0 ? resolve() : requestAnimationFrame(tick));
    requestAnimationFrame(tick);
  }), n);
}

/// Drags the timeline to `ms` (sets the range input and fires its input event), then waits
/// until the clock shows it; returns the milliseconds that took, as the page measured them.
export const seek = (page, ms) => page.evaluate((target) => new Promise((resolve, reject) => {
  const input = document.querySelector('[data-testid=timeline]');
  const start = performance.now();
  input.value = String(target);
  input.dispatchEvent(new Event('input', { bubbles: true }));
  let left = 600;
  const check = () => {
    const now = Number(document.querySelector('[data-testid=clock]').dataset.nowUs);
    if (now === target * 1000) resolve(performance.now() - start);
    else if (--left <= 0) reject(new Error(`clock ${now} never reached ${target} ms`));
    else requestAnimationFrame(check);
  };
  check();
}), ms);

/// The virtual time the page shows, in microseconds.
export const clock = (page) => page.$eval('[data-testid=clock]', (e) => Number(e.dataset.nowUs));

/// The scenario text saved in the browser (`STORAGE_KEY` in web/src/main.rs, JSON-encoded by
/// gloo), or null.
export const savedSession = (page) => page.evaluate(() => JSON.parse(localStorage.getItem('kplay.v1')));

/// The built app served and a browser launched for one test file, with its `before` and
/// `after` hooks (passed in, so the benchmarks can import this file without the test runner):
/// `app.server.url`, `app.browser`.
export function servedApp(before, after) {
  const app = {};
  before(async () => {
    app.server = await serveDist();
    app.browser = await launch();
  });
  after(async () => {
    await app.browser?.close();
    await app.server?.close();
  });
  return app;
}

/// The serious and critical accessibility violations axe-core finds on the page, as
/// "rule-id (impact, N nodes): first target" lines (empty when there are none).
export async function axeViolations(page) {
  const source = readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
  await page.addScriptTag({ content: source });
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}, ${v.nodes.length} nodes): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}

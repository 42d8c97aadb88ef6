// The playground's memory budget in headless Chromium (issue #11): what a record held costs the
// wasm heap, and a run that reaches the budget pauses with a notice instead of crashing the tab.
// The page's counting allocator measures (`data-live-bytes` on [data-testid=memory]).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { servedApp, openPage, frames, clock } from './harness.mjs';

const app = servedApp(before, after);

const MB = 1 << 20;

const memory = (page) => page.$eval('[data-testid=memory]', (e) => ({
  live: Number(e.dataset.liveBytes), wasm: Number(e.dataset.wasmBytes), budget: Number(e.dataset.budgetBytes),
}));

/// Records in the logs of every replica, from the rows (all current while paused).
const recordsHeld = (page) => page.$$eval('[data-testid^=topic-][data-replication-factor]', (topics) => {
  let inLogs = 0;
  let held = 0;
  for (const t of topics) {
    for (const row of t.querySelectorAll('[data-testid^=partition-]')) {
      const n = Number(row.dataset.leo) - Number(row.dataset.logStart);
      inLogs += n;
      held += n * Number(t.dataset.replicationFactor);
    }
  }
  return { inLogs, held };
});

/// Plays at the fastest speed the page offers.
async function playFastest(page) {
  const speeds = await page.$$eval('[data-testid=speed] option', (os) => os.map((o) => Number(o.value)));
  const fastest = Math.max(...speeds);
  assert.equal(fastest, 10_000, 'the fastest speed is 100x');
  await page.selectOption('[data-testid=speed]', String(fastest));
  await page.click('[data-testid=play]');
}

test('ten minutes at 100x of the welcome run stay under the memory budget; prints bytes per record held', async () => {
  // Goal: what ten minutes of play at 100x hold (60,000 s of virtual time, 1.2 M records of
  // the welcome run) stays under the budget, and the run never stops. Method: 100x with the
  // test-only time warp (each frame plays 16 times its wall time, at most 250 ms), so the ten
  // minutes take about a minute; the heap is sampled all along, judged by the page's own
  // clock; then the heap grown is divided by the records in every replica's log.
  const { page, context, errors } = await openPage(app.browser, `${app.server.url}?test_time_warp=16`);
  await page.waitForSelector('[data-testid=app-ready]');
  await page.click('[data-testid=step]'); // A render, so the gauge is current.
  const start = await memory(page);
  assert.equal(start.budget, 256 * MB, 'the default budget');
  await playFastest(page);
  const wallStart = await page.evaluate(() => performance.now());
  const tenMinutesAt100x = 600 * 100 * 1_000_000;
  let highest = start.live;
  let samples = 0;
  for (;;) {
    const now = await clock(page);
    const { live } = await memory(page);
    highest = Math.max(highest, live);
    samples += 1;
    assert.ok(live < start.budget, `live heap ${live} under the budget at ${now / 1e6} s`);
    assert.equal(await page.locator('[data-testid=error-banner]').count(), 0, `no notice at ${now / 1e6} s`);
    if (now >= tenMinutesAt100x) break;
    assert.ok((await page.evaluate(() => performance.now())) - wallStart < 400_000, `stuck at ${now / 1e6} s`);
    await frames(page, 30);
  }
  const wallSeconds = (await page.evaluate(() => performance.now()) - wallStart) / 1000;
  // Still running: the clock moves on, and the page was not paused by the budget.
  const playedUs = await clock(page);
  await frames(page, 10);
  assert.ok((await clock(page)) > playedUs, 'the clock still advances');
  await page.click('[data-testid=pause]');
  const end = await memory(page);
  const { inLogs, held } = await recordsHeld(page);
  const perRecord = Math.round((end.live - start.live) / held);
  const perLogged = Math.round((end.live - start.live) / inLogs);
  console.log(`wasm: ${perRecord} bytes per record held (${perLogged} per record produced, counting its `
    + `replicas, the ledger and the clients; live heap ${(end.live / MB).toFixed(1)} MB, highest `
    + `${(highest / MB).toFixed(1)} MB in ${samples} samples, from ${(start.live / MB).toFixed(1)} MB; `
    + `wasm memory ${(end.wasm / MB).toFixed(0)} MB; ${held} records held in replicas, ${inLogs} in `
    + `partition logs; ${((await clock(page)) / 1e6).toFixed(0)} s virtual in ${wallSeconds.toFixed(1)} s wall)`);
  assert.ok(inLogs >= 1_100_000, `ten minutes at 100x wrote the welcome run's 1.2 M records, got ${inLogs}`);
  assert.ok(end.live < end.budget, `live heap ${end.live} under the budget ${end.budget}`);
  assert.equal(await page.locator('[data-testid=error-banner]').count(), 0, 'no notice');
  assert.deepEqual(errors, []);
  await context.close();
});

test('a run that reaches the memory budget pauses with a notice; play does not resume it; reset does', async () => {
  // Goal: at the budget the page pauses instead of dying, and stays paused until the memory
  // comes back. Method: a budget a few MB above what the page holds at the start (the
  // `memory_budget_mb` address parameter), then 100x until it pauses.
  const probe = await openPage(app.browser, app.server.url);
  await probe.page.waitForSelector('[data-testid=app-ready]');
  await probe.page.click('[data-testid=step]');
  const budgetMb = Math.floor((await memory(probe.page)).live / MB) + 4;
  await probe.context.close();

  const { page, context, errors } = await openPage(app.browser, `${app.server.url}?memory_budget_mb=${budgetMb}`);
  await page.waitForSelector('[data-testid=app-ready]');
  assert.equal((await memory(page)).budget, budgetMb * MB);
  assert.match(await page.textContent('[data-testid=memory]'), new RegExp(`of ${budgetMb} MB`));
  await playFastest(page);
  await page.waitForSelector('[data-testid=error-banner]', { timeout: 30_000 });
  const notice = await page.textContent('[data-testid=error-banner]');
  assert.match(notice, new RegExp(`^Paused: this run holds \\d+ MB, and the playground's memory budget is ${budgetMb} MB`));
  assert.match(notice, /Reset/);
  assert.ok((await memory(page)).live >= budgetMb * MB);
  await page.waitForSelector('[data-testid=play]');
  const stopped = await clock(page);
  await frames(page, 20);
  assert.equal(await clock(page), stopped, 'the clock stops');

  // Play while still over the budget: paused again before a frame plays.
  await page.click('[data-testid=play]');
  await page.waitForSelector('[data-testid=play]');
  await frames(page, 20);
  assert.equal(await clock(page), stopped, 'play does not resume over the budget');
  assert.match(await page.textContent('[data-testid=error-banner]'), /memory budget/);

  // Reset gives the memory back, and the run plays again.
  await page.click('[data-testid=reset]');
  assert.equal(await clock(page), 0);
  // Well below it (a run the budget paused plays again under seven eighths of it).
  assert.ok((await memory(page)).live < budgetMb * MB * 7 / 8, 'reset frees the run');
  await page.click('[data-testid=play]');
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=clock]').dataset.nowUs) >= 1_000_000, null, { timeout: 30_000 });
  assert.deepEqual(errors, []);
  await context.close();
});

// Time travel and forks in the page (issue 14): the timeline (`data-testid=timeline`, a range
// input whose value is the virtual time in ms) lands anywhere the run has been, step back
// undoes one event, playing again from a moment gives the same run (determinism), and a fork
// runs side by side with the original. Also prints the time the page takes to land at random
// moments of a ten-minute welcome run (a figure for the report, not an assertion: machines are
// shared and noisy).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { servedApp, openPage, frames, clock, seek } from './harness.mjs';

const app = servedApp(before, after);

/// Every partition's log end and high watermark, as the rows show them.
const state = (page) => page.$$eval('[data-testid^=partition-orders-]', (rows) =>
  rows.map((r) => `${r.dataset.testid}:${r.dataset.leo}/${r.dataset.hw}`).join(' '));

async function playUntil(page, us) {
  await page.click('[data-testid=play]');
  await page.waitForFunction((t) => Number(document.querySelector('[data-testid=clock]').dataset.nowUs) >= t, us, { timeout: 60_000 });
  await page.click('[data-testid=pause]');
}

test('scrub back, step back, play again to the same state, and fork with a setting', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await page.waitForSelector('[data-testid=app-ready]');
  await page.selectOption('[data-testid=speed]', '1000');
  await playUntil(page, 4_000_000);
  // Where the pause landed (at least 4 s; later on a loaded machine): the crash is there.
  const crashedAt = await clock(page);
  await page.click('[data-testid=crash-1]');
  await playUntil(page, 8_000_000);
  const end = await clock(page);
  // The crash is a fault mark on the timeline, where it happened.
  const mark = page.locator('.travel-marks .mark.fault');
  assert.equal(await mark.count(), 1);
  const title = await mark.getAttribute('title');
  assert.match(title, /^\d+\.\d s broker 1 crashed$/);
  assert.ok(Math.abs(parseFloat(title) - crashedAt / 1e6) <= 0.1, `${title} against ${crashedAt} µs`);
  const endState = await state(page);
  assert.equal(await page.$eval('[data-testid=timeline]', (e) => Number(e.max)), end / 1000, 'the timeline ends where the run went');

  // Scrub back: the clock and the logs go back.
  await seek(page, 3000);
  assert.equal(await clock(page), 3_000_000);
  assert.equal(await page.$eval('[data-testid=timeline]', (e) => Number(e.value)), 3000);
  const leo0 = (s) => Number(s.split(' ')[0].split(':')[1].split('/')[0]);
  const at3 = await state(page);
  assert.ok(leo0(at3) < leo0(endState), `partition 0's log end went back: ${at3} vs ${endState}`);
  await page.waitForSelector('[data-testid=rewound-note]');

  // Step forward a few events, then back one: the state before the last step.
  for (let i = 0; i < 3; i++) await page.click('[data-testid=step]');
  const beforeLast = { clock: await clock(page), state: await state(page) };
  let moved = false;
  for (let i = 0; i < 50 && !moved; i++) {
    // Steps until one moves the clock or a log, so stepping back has something to undo.
    await page.click('[data-testid=step]');
    moved = (await clock(page)) !== beforeLast.clock || (await state(page)) !== beforeLast.state;
    if (!moved) { beforeLast.clock = await clock(page); beforeLast.state = await state(page); }
  }
  assert.ok(moved, 'a step moved the run');
  await page.click('[data-testid=step-back]');
  await page.waitForFunction((t) => Number(document.querySelector('[data-testid=clock]').dataset.nowUs) === t, beforeLast.clock, { timeout: 10_000 });
  assert.equal(await state(page), beforeLast.state, 'step back lands on the state before the step');

  // Land at the end again, and play on: the same run as before (determinism).
  await seek(page, end / 1000);
  assert.equal(await state(page), endState, 'the same state at the same time');
  await seek(page, 3000);
  await playUntil(page, end);
  await seek(page, end / 1000);
  assert.equal(await state(page), endState, 'played again from 3 s, the run is the same');

  // Fork with a setting: the producer at ten times its rate; both runs side by side.
  await page.click('[data-testid=fork]');
  await page.fill('[data-testid=fork-path]', 'producer.checkout.rate_per_sec');
  await page.fill('[data-testid=fork-value]', '200');
  await page.click('[data-testid=fork-apply]');
  await page.waitForSelector('[data-testid=fork-view]');
  await playUntil(page, end + 3_000_000);
  const produced = await page.$$eval('[data-testid=fork-view] tr[data-row=produced] td', (tds) => tds.map((td) => td.textContent));
  const [original, fork] = produced.map(Number);
  assert.ok(fork > original + 300, `the fork produced more: ${produced}`);
  assert.match(await page.textContent('[data-testid=fork-view]'), /producer\.checkout\.rate_per_sec = 200/);
  // A refused fork says why and keeps the fork shown.
  await page.fill('[data-testid=fork-path]', 'cluster.brokers');
  await page.fill('[data-testid=fork-value]', '5');
  await page.click('[data-testid=fork-apply]');
  assert.match(await page.textContent('[data-testid=error-banner]'), /keeps its brokers/);
  await page.click('[data-testid=fork-close]');
  assert.equal(await page.locator('[data-testid=fork-view]').count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test('landing anywhere in a ten-minute welcome run: prints the time the page takes', async () => {
  const { page, context, errors } = await openPage(app.browser, `${app.server.url}?test_time_warp=16`);
  await page.waitForSelector('[data-testid=app-ready]');
  await page.selectOption('[data-testid=speed]', '10000');
  await playUntil(page, 600_000_000);
  const end = (await clock(page)) / 1000;
  // A fixed sequence of moments (reproducible), each landed at from where the last left.
  let x = 12345;
  const times = [];
  for (let i = 0; i < 20; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const at = x % end;
    times.push(await seek(page, at));
    assert.equal(await clock(page), at * 1000);
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  console.log(`landing in a ${Math.round(end / 1000)} s welcome run: mean ${mean.toFixed(1)} ms, `
    + `median ${times[10].toFixed(1)} ms, worst ${times[times.length - 1].toFixed(1)} ms (20 moments, `
    + 'from input event to the clock showing it)');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the timeline fits at 390x844 and 1280x800: its labels are not clipped', async () => {
  for (const viewport of [{ width: 390, height: 844 }, { width: 1280, height: 800 }]) {
    const { page, context, errors } = await openPage(app.browser, app.server.url, viewport);
    await page.waitForSelector('[data-testid=app-ready]');
    await page.click('[data-testid=step]');
    await page.click('[data-testid=fork]');
    await frames(page, 2);
    for (const id of ['timeline', 'timeline-end', 'step-back', 'fork', 'fork-apply', 'fork-path']) {
      const box = await page.locator(`[data-testid=${id}]`).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= viewport.width + 0.5, `${id} within ${viewport.width}px: ${JSON.stringify(box)}`);
      const clipped = await page.$eval(`[data-testid=${id}]`, (e) => e.scrollWidth > e.clientWidth + 1 && e.tagName !== 'INPUT');
      assert.equal(clipped, false, `${id} is not clipped at ${viewport.width}px`);
    }
    assert.deepEqual(errors, []);
    await context.close();
  }
});

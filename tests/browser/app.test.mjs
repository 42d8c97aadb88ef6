// End-to-end tests of the playground in headless Chromium against the built dist/.
// They wait on the page's own state (data attributes), never on wall-clock sleeps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { servedApp, openPage } from './harness.mjs';

const app = servedApp(before, after);

const clock = (page) => page.$eval('[data-testid=clock]', (e) => Number(e.dataset.nowUs));
const leo = (page, topic, p) => page.$eval(`[data-testid=partition-${topic}-${p}]`, (e) => Number(e.dataset.leo));

/// Plays until virtual time passes `us` microseconds, then pauses.
async function playUntil(page, us) {
  await page.click('[data-testid=play]');
  await page.waitForFunction((t) => Number(document.querySelector('[data-testid=clock]').dataset.nowUs) >= t, us, { timeout: 30_000 });
  await page.click('[data-testid=pause]');
}

/// Where `kplay partition` says a key goes: the CLI built by the native tests.
function kplayPartition(key, partitions) {
  const bin = fileURLToPath(new URL('../../target/debug/kplay', import.meta.url));
  if (!existsSync(bin)) {
    const build = spawnSync('cargo', ['build', '-q', '-p', 'kplay-cli'], { stdio: 'inherit' });
    assert.equal(build.status, 0);
  }
  const out = spawnSync(bin, ['partition', '--partitions', String(partitions), '--json', key], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  return JSON.parse(out.stdout)[0].partition;
}

test('the page loads and the app starts without errors', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await page.waitForSelector('[data-testid=app-ready]', { timeout: 30_000 });
  assert.equal(await page.locator('[data-testid^=partition-orders-]').count(), 6);
  assert.deepEqual(errors, []);
  await context.close();
});

test('while playing, rows off screen wait and rows on screen keep up; paused, every row is current', async () => {
  // A short window: the Brokers panel fills most of it, so orders-5 is far below.
  const { page, context, errors } = await openPage(app.browser, app.server.url, { width: 1280, height: 400 });
  await page.waitForSelector('[data-testid=app-ready]');
  const untilClock = (us) => page.waitForFunction((t) => Number(document.querySelector('[data-testid=clock]').dataset.nowUs) >= t, us, { timeout: 30_000 });
  await page.click('[data-testid=play]');
  await page.evaluate(() => window.scrollTo(0, 0));
  await untilClock(2_000_000);
  const offScreen = await leo(page, 'orders', 5);
  await untilClock(5_000_000);
  assert.equal(await leo(page, 'orders', 5), offScreen, 'a row off screen is not refreshed while playing');
  await page.$eval('[data-testid=partition-orders-5]', (e) => e.scrollIntoView());
  // On screen, it catches up on its next turn (however many virtual seconds a slow frame takes).
  await page.waitForFunction((before) => Number(document.querySelector('[data-testid=partition-orders-5]').dataset.leo) > before, offScreen, { timeout: 30_000 });
  const onScreen = await leo(page, 'orders', 5);
  // Off screen again, it waits; paused, it is current all the same.
  await page.evaluate(() => window.scrollTo(0, 0));
  // The observer reports on the next frames; the row may refresh once more meanwhile.
  await untilClock((await clock(page)) + 500_000);
  const stale = await leo(page, 'orders', 5);
  await untilClock((await clock(page)) + 2_000_000);
  assert.equal(await leo(page, 'orders', 5), stale);
  await page.click('[data-testid=pause]');
  assert.ok((await leo(page, 'orders', 5)) > stale, 'paused, a row off screen is current');
  assert.deepEqual(errors, []);
  await context.close();
});

test('a selected record shows its details, and they go with its topic', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await page.waitForSelector('[data-testid=app-ready]');
  await playUntil(page, 2_000_000);
  await page.click('[data-testid=partition-orders-0] .cell:last-of-type');
  assert.match(await page.textContent('[data-testid=record-detail]'), /^orders-0 offset \d+/);
  await page.click('[data-testid=topic-orders] button:has-text("Delete")');
  await page.click('[data-testid=step]');
  await page.waitForSelector('[data-testid=topic-orders]', { state: 'detached' });
  assert.equal(await page.locator('[data-testid=record-detail]').count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a keyed record lands on the partition kplay partition predicts', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await page.waitForSelector('[data-testid=app-ready]');
  await playUntil(page, 1_000_000);
  // Stop the background producer so only our record moves a log end offset.
  await page.click('[data-testid=producer-checkout] button:has-text("Stop")');
  await playUntil(page, 2_500_000);
  const expected = kplayPartition('user-42', 6);
  const before = [];
  for (let p = 0; p < 6; p++) before.push(await leo(page, 'orders', p));
  await page.fill('[data-testid=produce-key]', 'user-42');
  assert.equal(await page.$eval('[data-testid=produce-explanation]', (e) => Number(e.dataset.partition)), expected);
  await page.click('[data-testid=produce-submit]');
  await playUntil(page, 3_500_000);
  for (let p = 0; p < 6; p++) {
    const grew = (await leo(page, 'orders', p)) - before[p];
    assert.equal(grew, p === expected ? 1 : 0, `partition ${p}`);
  }
  // A cell's title is written when the pointer reaches it.
  await page.hover(`[data-testid=partition-orders-${expected}] .cell:last-of-type`);
  const title = await page.$eval(`[data-testid=partition-orders-${expected}] .cell:last-of-type`, (e) => e.title);
  assert.match(title, /key "user-42"/);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the state survives a reload', async () => {
  const { page, context } = await openPage(app.browser, app.server.url);
  await page.waitForSelector('[data-testid=app-ready]');
  await playUntil(page, 2_000_000);
  const t = await clock(page);
  const leos = [];
  for (let p = 0; p < 6; p++) leos.push(await leo(page, 'orders', p));
  await page.reload();
  await page.waitForSelector('[data-testid=app-ready]');
  // Saved at a whole millisecond: the same run, the same place.
  assert.equal(Math.ceil((await clock(page)) / 1000), Math.ceil(t / 1000));
  for (let p = 0; p < 6; p++) assert.equal(await leo(page, 'orders', p), leos[p]);
  await context.close();
});

test('a share link reproduces the run in a new tab', async () => {
  const { page, context } = await openPage(app.browser, app.server.url);
  await page.waitForSelector('[data-testid=app-ready]');
  await playUntil(page, 1_500_000);
  await page.click('[data-testid=crash-1]');
  await playUntil(page, 3_000_000);
  await page.click('[data-testid=share]');
  const url = await page.$eval('[data-testid=share-link]', (e) => e.value);
  assert.match(url, /#v1\./);
  const leos = [];
  for (let p = 0; p < 6; p++) leos.push(await leo(page, 'orders', p));
  // A fresh browser context: nothing saved, only the link.
  const other = await openPage(app.browser, url);
  await other.page.waitForSelector('[data-testid=app-ready]');
  for (let p = 0; p < 6; p++) assert.equal(await leo(other.page, 'orders', p), leos[p], `partition ${p}`);
  assert.equal(await other.page.$eval('[data-testid=broker-1]', (e) => e.dataset.state), 'crashed');
  assert.equal(await other.page.locator('[data-testid=error-banner]').count(), 0);
  await other.context.close();
  await context.close();
});

test('a broken link shows an error banner and a clean playground', async () => {
  for (const fragment of ['#v1.%%%broken', '#v1.c2VlZCA9', '#garbage']) {
    const { page, context, errors } = await openPage(app.browser, app.server.url + fragment);
    await page.waitForSelector('[data-testid=error-banner]', { timeout: 30_000 });
    assert.match(await page.textContent('[data-testid=error-banner]'), /share link/);
    assert.equal(await clock(page), 0);
    assert.equal(await page.locator('[data-testid^=partition-orders-]').count(), 6);
    assert.deepEqual(errors.filter((e) => !e.includes('favicon')), []);
    await context.close();
  }
});

test('an invalid edit is refused with a message and changes nothing', async () => {
  const { page, context } = await openPage(app.browser, app.server.url);
  await page.waitForSelector('[data-testid=app-ready]');
  await page.fill('[data-testid=topic-name]', 'orders');
  await page.click('[data-testid=topic-add]');
  await page.waitForSelector('[data-testid=error-banner]');
  assert.match(await page.textContent('[data-testid=error-banner]'), /already exists/);
  await page.fill('[data-testid=topic-name]', 'audit');
  await page.fill('[data-testid=topic-rf]', '7');
  await page.click('[data-testid=topic-add]');
  assert.match(await page.textContent('[data-testid=error-banner]'), /replication_factor/);
  assert.equal(await page.locator('[data-testid^=topic-]:not([data-testid^=topic-name]):not([data-testid^=topic-add]):not([data-testid^=topic-rf]):not([data-testid^=topic-min]):not([data-testid^=topic-partitions])').count(), 1);
  await page.fill('[data-testid=topic-rf]', '3');
  await page.click('[data-testid=topic-add]');
  await page.waitForSelector('[data-testid=partition-audit-2]');
  await context.close();
});

test('the loss audit finds what acks=1 lost after an isolated leader', async () => {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(new URL('../../scenarios/acks1-isolated-leader.toml', import.meta.url), 'utf8');
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await page.waitForSelector('[data-testid=app-ready]');
  await page.fill('[data-testid=scenario-text]', text);
  await page.click('[data-testid=import]');
  await page.waitForSelector('[data-testid=partition-orders-2]');
  assert.equal(await clock(page), 40_000_000, 'an import replays the file to its end');
  await page.click('[data-testid=audit]');
  const lost = await page.$eval('[data-testid=audit-result]', (e) => Number(e.dataset.lost));
  // The same figure `kplay run` reports for this file.
  assert.equal(lost, 1585);
  assert.match(await page.textContent('[data-testid=audit-result]'), /shop record #\d+ → orders-\d offset \d+/);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a group rebalances when a member leaves, and the panel shows it', async () => {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(new URL('../../scenarios/group-rebalance-cooperative.toml', import.meta.url), 'utf8');
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await page.waitForSelector('[data-testid=app-ready]');
  await page.fill('[data-testid=scenario-text]', text);
  await page.click('[data-testid=import]');
  await page.waitForSelector('[data-testid=group-billing]');
  const group = () => page.$eval('[data-testid=group-billing]', (e) => ({
    state: e.dataset.state, generation: Number(e.dataset.generation), lag: Number(e.dataset.lag),
  }));
  // The same end state `kplay run` reports: stable after the second cooperative round.
  assert.deepEqual((await group()).state, 'Stable');
  assert.equal((await group()).generation, 3);
  assert.equal(await page.locator('[data-testid=group-billing] .members li').count(), 4);
  // Every partition shows its owner on the partition view.
  assert.equal(await page.locator('[data-testid^=partition-orders-] .owner').count(), 6);
  // c1 leaves gracefully: LeaveGroup, then a rebalance of the other three.
  await page.click('[data-testid=consumer-stop-c1]');
  const start = await clock(page);
  await playUntil(page, start + 6_000_000);
  const after = await group();
  assert.ok(after.generation > 3, `generation ${after.generation}`);
  assert.equal(await page.locator('[data-testid=group-billing] .members li').count(), 3);
  assert.match(await page.textContent('[data-testid=rebalance-timeline]'), /left the group/);
  assert.ok(Number(await page.$eval('[data-testid=consumer-c2]', (e) => e.dataset.lag)) >= 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a redeployed producer is listed once under its name, its closed instance apart', async () => {
  // The welcome scenario with the producer redeployed at 1 s with acks=1 (a client's configs
  // are fixed while it runs: the old instance closes, a new one takes the workload).
  const { readFile } = await import('node:fs/promises');
  const welcome = await readFile(new URL('../../crates/playground/src/welcome.toml', import.meta.url), 'utf8');
  const text = `${welcome.replace('duration_ms = 1', 'duration_ms = 3000')}
[[event]]
at_ms = 1000
action = "reconfigure_producer"
producer = "checkout"
config = { acks = "1" }
`;
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await page.waitForSelector('[data-testid=app-ready]');
  await page.fill('[data-testid=scenario-text]', text);
  await page.click('[data-testid=import]');
  await page.waitForSelector('[data-testid^=producer-checkout-instance-]');
  assert.equal(await page.locator('[data-testid=producer-checkout]').count(), 1);
  assert.match(await page.textContent('[data-testid=producer-checkout]'), /acks=1/);
  const old = page.locator('[data-testid^=producer-checkout-instance-]');
  assert.equal(await old.count(), 1);
  assert.match(await old.textContent(), /previous instance, clos(ed|ing) by a redeploy/);
  assert.equal(await old.locator('button').count(), 0, 'no controls on a closed instance');
  assert.deepEqual(errors, []);
  await context.close();
});

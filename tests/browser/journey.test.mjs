// A record's journey in the page: produced by key and followed from the produce form, or
// clicked in a partition row and shown beside it. Waits on the page's own state, never on
// wall-clock sleeps; prints how long a journey takes to trace at the welcome load.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { servedApp, openPage, clock } from './harness.mjs';

const app = servedApp(before, after);

/// Plays until virtual time passes `us` microseconds, then pauses.
async function playUntil(page, us) {
  await page.click('[data-testid=play]');
  await page.waitForFunction((t) => Number(document.querySelector('[data-testid=clock]').dataset.nowUs) >= t, us, { timeout: 60_000 });
  await page.click('[data-testid=pause]');
}

/// The journey's steps in `scope`: [{ kind, text }].
const steps = (page, scope) => page.$$eval(`${scope} [data-testid=journey-step]`,
  (rows) => rows.map((r) => ({ kind: r.dataset.kind, text: r.textContent })));

test('a record produced by key can be followed: its append offset and its acknowledgement', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await page.waitForSelector('[data-testid=app-ready]', { timeout: 30_000 });
  await playUntil(page, 1_000_000);
  await page.fill('[data-testid=produce-key]', 'user-42');
  const partition = Number(await page.$eval('[data-testid=produce-explanation]', (e) => e.dataset.partition));
  await page.click('[data-testid=produce-submit]');
  await playUntil(page, (await clock(page)) + 1_000_000);
  await page.click('[data-testid=follow-produced]');
  const journey = 'form.produce [data-testid=record-journey]';
  await page.waitForSelector(journey, { timeout: 30_000 });
  const all = await steps(page, 'form.produce');
  const kinds = all.map((s) => s.kind);
  for (const k of ['Send', 'BatchClosed', 'Request', 'Appended', 'Acknowledged']) {
    assert.ok(kinds.includes(k), `${k} missing from ${kinds}`);
  }
  const send = all.find((s) => s.kind === 'Send').text;
  assert.match(send, new RegExp(`send\\(\\): to orders-${partition};`), send);
  const offset = Number(await page.$eval(journey, (e) => e.dataset.offset));
  assert.ok(Number.isInteger(offset));
  assert.match(all.find((s) => s.kind === 'Appended').text, new RegExp(`appended it at offset ${offset}`));
  assert.match(all.find((s) => s.kind === 'Acknowledged').text,
    new RegExp(`acknowledged at offset ${offset} after \\d+\\.\\d ms \\(acks=all\\)`));
  assert.equal(await page.$eval(journey, (e) => e.dataset.end), 'acknowledged');
  assert.deepEqual(errors, []);
  await context.close();
});

test('a record clicked in a partition row shows its key and its journey beside it', async () => {
  // Twenty times real time: a minute of the welcome run in a few seconds.
  const { page, context, errors } = await openPage(app.browser, `${app.server.url}?test_time_warp=20`);
  await page.waitForSelector('[data-testid=app-ready]', { timeout: 30_000 });
  await playUntil(page, 60_000_000);
  const cell = '[data-testid=partition-orders-0] .cell:nth-last-of-type(4)';
  const box = await page.locator(cell).boundingBox();
  const offset = Number((await page.textContent(cell)).match(/^\d+/)[0]);
  const started = Date.now();
  await page.click(cell);
  const journey = '[data-testid=record-detail] [data-testid=record-journey]';
  await page.waitForSelector(journey, { timeout: 30_000 });
  console.log(`journey traced at ${(await clock(page)) / 1e6} s of the welcome run in ${Date.now() - started} ms (click to shown)`);
  assert.match(await page.textContent('[data-testid=record-detail] h3'), new RegExp(`^orders-0 offset ${offset}$`));
  assert.match(await page.textContent('[data-testid=record-murmur2]'), /murmur2 = -?\d+ → toPositive = \d+ → \d+ % 6 = partition 0|null key/);
  // Beside the record: just under its cell, not below the Topics panel.
  const detail = await page.locator('[data-testid=record-detail]').boundingBox();
  assert.ok(detail.y >= box.y + box.height && detail.y <= box.y + box.height + 20, `${JSON.stringify({ detail, box })}`);
  const all = await steps(page, '[data-testid=record-detail]');
  assert.match(all.find((s) => s.kind === 'Appended').text, new RegExp(`appended it at offset ${offset}`));
  assert.ok(all.some((s) => s.kind === 'HighWatermark'), all.map((s) => s.kind).join());
  // Clicking it again closes it.
  await page.click(cell);
  assert.equal(await page.locator('[data-testid=record-detail]').count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test('on a small screen the record is a sheet at the bottom of the window', async () => {
  const viewport = { width: 600, height: 800 };
  const { page, context, errors } = await openPage(app.browser, app.server.url, viewport);
  await page.waitForSelector('[data-testid=app-ready]', { timeout: 30_000 });
  await playUntil(page, 1_000_000);
  await page.click('[data-testid=partition-orders-0] .cell:last-of-type');
  await page.waitForSelector('[data-testid=record-detail] [data-testid=record-journey]', { timeout: 30_000 });
  const detail = await page.locator('[data-testid=record-detail]').boundingBox();
  assert.equal(Math.round(detail.y + detail.height), viewport.height);
  assert.equal(Math.round(detail.width), viewport.width);
  await page.click('[data-testid=record-detail-close]');
  assert.equal(await page.locator('[data-testid=record-detail]').count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a consumer far behind keeps its marker, and an empty partition has empty replica bars', async () => {
  const { page, context, errors } = await openPage(app.browser, `${app.server.url}?test_time_warp=20`);
  await page.waitForSelector('[data-testid=app-ready]', { timeout: 30_000 });
  await page.fill('[data-testid=topic-name]', 'quiet');
  await page.fill('[data-testid=topic-partitions]', '1');
  await page.fill('[data-testid=topic-rf]', '3');
  await page.click('[data-testid=topic-add]');
  await page.waitForSelector('[data-testid=partition-quiet-0]');
  // Ten times slower processing: billing falls further behind than the 16 records a row shows.
  await page.click('[data-testid=consumer-slow-billing]');
  await playUntil(page, 40_000_000);
  const behind = await page.$$eval('[data-testid=readers-behind]', (marks) => marks.map((m) => m.textContent));
  assert.ok(behind.length > 0, 'some row shows billing behind');
  for (const text of behind) {
    const n = Number(text.match(/billing: (\d+) behind/)[1]);
    assert.ok(n >= 10, text);
  }
  const widths = await page.$$eval('[data-testid=partition-quiet-0] .replica .fill', (fills) => fills.map((f) => f.style.width));
  assert.deepEqual(widths, ['0%', '0%', '0%']);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a topic of a hundred partitions is a heat map, and a square opens its row', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await page.waitForSelector('[data-testid=app-ready]', { timeout: 30_000 });
  const scenario = [
    'seed = 1', 'duration_ms = 1', '[cluster]', 'brokers = 3',
    '[[topic]]', 'name = "wide"', 'partitions = 100', 'replication_factor = 1',
    '[[producer]]', 'id = "p"', 'topic = "wide"', 'rate_per_sec = 500', 'keys = "unique"',
    '[[consumer]]', 'id = "slow"', 'topics = ["wide"]', 'processing_ms_per_record = 50',
    'config = { "auto.offset.reset" = "earliest" }',
  ].join('\n');
  await page.fill('[data-testid=scenario-text]', scenario);
  await page.click('[data-testid=import]');
  await page.waitForSelector('[data-testid=heatmap-wide] canvas');
  await playUntil(page, 3_000_000);
  assert.equal(await page.locator('[data-testid^=partition-wide-]').count(), 0, 'no rows until opened');
  // The cluster's column (brokers and topics) is what a hundred rows made 7,300 px long; the
  // other column's panels do not depend on the partition count.
  const height = await page.evaluate(() => [...document.querySelector('section.column.wide').children]
    .reduce((sum, panel) => sum + panel.getBoundingClientRect().height, 0));
  assert.ok(height < 2000, `the cluster column's panels are ${height} px long`);
  // Squares are 30 x 22 px, twenty to a line: partition 21 is the second of the second line.
  const canvas = page.locator('[data-testid=heatmap-wide] canvas');
  await canvas.click({ position: { x: 45, y: 33 } });
  await page.waitForSelector('[data-testid=partition-wide-21]');
  assert.equal(await page.locator('[data-testid^=partition-wide-]').count(), 1);
  assert.match(await canvas.getAttribute('aria-label'), /^100 partitions: \d+ with readers behind, 0 under-replicated$/);
  await canvas.click({ position: { x: 45, y: 33 } });
  await page.waitForSelector('[data-testid=partition-wide-21]', { state: 'detached' });
  assert.deepEqual(errors, []);
  await context.close();
});

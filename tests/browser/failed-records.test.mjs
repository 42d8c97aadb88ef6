// Failed records in the page (issue 15): retry and dead letter topics listed under their
// source topic in attempt order, the dead letter topic's count (`dlq-{source}`,
// `data-count`), what each group made of its failed records, and the producers that publish
// the copies. It waits on the page's own state, never on wall-clock sleeps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { servedApp, openPage } from './harness.mjs';

const app = servedApp(before, after);

test('retry and dead letter topics sit under their source topic, with their counts', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  const text = await readFile(new URL('../../scenarios/retry-and-dlq.toml', import.meta.url), 'utf8');
  await page.waitForSelector('[data-testid=app-ready]');
  await page.fill('[data-testid=scenario-text]', text);
  await page.click('[data-testid=import]');
  await page.waitForSelector('[data-testid=partition-orders-dlt-2]');
  const topics = await page.$$eval('.topic[data-testid^=topic-]', (els) => els.map((e) => e.dataset.testid));
  assert.deepEqual(topics, ['topic-orders', 'topic-orders-retry-0', 'topic-orders-retry-1', 'topic-orders-dlt']);
  // The dead letter topic's count is the records in it (both groups publish there).
  const held = await page.$$eval('[data-testid^=partition-orders-dlt-]',
    (rows) => rows.reduce((n, r) => n + Number(r.dataset.hw) - Number(r.dataset.logStart), 0));
  const count = Number(await page.$eval('[data-testid=dlq-orders]', (e) => e.dataset.count));
  assert.ok(count > 0, 'poison orders end in the dead letter topic');
  assert.equal(count, held);
  assert.match(await page.$eval('[data-testid=topic-orders-retry-1]', (e) => e.textContent), /attempt 3/);
  // Retry topics keep billing going and reorder; blocking retries keep ledger's order.
  const billing = await page.$eval('[data-testid=failed-billing]', (e) => ({ ...e.dataset }));
  const ledger = await page.$eval('[data-testid=failed-ledger]', (e) => ({ ...e.dataset }));
  assert.ok(Number(billing.reordered) > 0 && Number(billing.dlq) > 0, JSON.stringify(billing));
  assert.equal(Number(ledger.reordered), 0);
  assert.equal(Number(billing.dlq) + Number(ledger.dlq), count);
  // The copies' producers live in each consumer's process, named after it and the topic.
  await page.waitForSelector('[data-testid="producer-billing/orders-retry-0"]');
  await page.waitForSelector('[data-testid="producer-ledger/orders-dlt"]');
  assert.deepEqual(errors, []);
  await context.close();
});

// Transactions in the page (issue 15): the transactions panel shows each transactional id's
// coordinator state (`txn-{id}`, `data-state`), a partition row its last stable offset beside
// the high watermark (`data-lso`), markers as their own cells, and a fenced producer. It waits
// on the page's own state, never on wall-clock sleeps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { servedApp, openPage, seek } from './harness.mjs';

const app = servedApp(before, after);

async function importScenario(page, name, row) {
  const text = await readFile(new URL(`../../scenarios/${name}`, import.meta.url), 'utf8');
  await page.waitForSelector('[data-testid=app-ready]');
  await page.fill('[data-testid=scenario-text]', text);
  await page.click('[data-testid=import]');
  await page.waitForSelector(`[data-testid=${row}]`);
}

const lsoBehind = (page) => page.$$eval('[data-testid^=partition-payments-]',
  (rows) => rows.filter((r) => Number(r.dataset.lso) < Number(r.dataset.hw)).length);

test('a hanging transaction pins the LSO until its coordinator aborts it', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await importScenario(page, 'hanging-transaction.toml', 'partition-payments-1');
  // At the end (45 s) the coordinator has aborted it (transaction.timeout.ms = 15 s).
  const txn = '[data-testid=txn-payments-app-1]';
  assert.equal(await page.$eval(txn, (e) => e.dataset.state), 'CompleteAbort');
  assert.equal(await lsoBehind(page), 0, 'nothing open: the LSO is the HW');
  // At 20 s the producer is dead and its transaction open: the LSO is pinned below the HW.
  await seek(page, 20_000);
  assert.equal(await page.$eval(txn, (e) => e.dataset.state), 'Ongoing');
  assert.ok(await lsoBehind(page) > 0, 'an open transaction pins the LSO');
  // The open transaction may hold one partition only: look at every row.
  const rows = (await page.$$eval('[data-testid^=partition-payments-]', (els) => els.map((e) => e.textContent))).join('\n');
  assert.match(rows, /LSO \d+ · HW \d+/);
  assert.ok(await page.locator('[data-testid^=partition-payments-] .cell.open-txn').count() > 0,
    'records of the open transaction are marked');
  assert.deepEqual(errors, []);
  await context.close();
});

test('a zombie is fenced and markers are cells of their own', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await importScenario(page, 'zombie-fencing.toml', 'partition-ledger-2');
  const old = '[data-testid=producer-worker-old] [data-txn-state]';
  assert.equal(await page.$eval(old, (e) => e.dataset.txnState), 'fenced');
  assert.equal(await page.$eval('[data-testid=producer-worker-new] [data-txn-state]', (e) => e.dataset.txnState) !== 'fenced', true);
  assert.match(await page.$eval('[data-testid=txn-ledger-writer]', (e) => e.dataset.state), /^(Ongoing|CompleteCommit|PrepareCommit|Empty)$/);
  const markers = await page.locator('[data-testid^=partition-ledger-] .cell.marker').count();
  assert.ok(markers > 0, 'transaction markers are drawn as their own cells');
  assert.deepEqual(errors, []);
  await context.close();
});

test('an exactly-once processor runs in the page: its consumer, its producer, its transactions', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await importScenario(page, 'eos-pipeline.toml', 'partition-orders-enriched-2');
  // The processor shows as its two clients, both named after it; its consumer says how it
  // commits, and its transactional id (its name) has its own row in the transactions panel.
  assert.match(await page.$eval('[data-testid=consumer-enricher]', (e) => e.textContent),
    /processor, exactly-once/);
  await page.waitForSelector('[data-testid=producer-enricher]');
  assert.match(await page.$eval('[data-testid=txn-enricher]', (e) => e.dataset.state),
    /^(CompleteCommit|Ongoing|PrepareCommit)$/);
  // Its transactions end with markers in the output topic.
  const markers = await page.locator('[data-testid^=partition-orders-enriched-] .cell.marker').count();
  assert.ok(markers > 0, 'the output topic holds markers');
  assert.deepEqual(errors, []);
  await context.close();
});

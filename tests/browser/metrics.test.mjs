// Kafka's metrics and alerts in the page (issue 16): charts by Kafka's names with a line per
// scope and values on hover, a chart picked from the list, the latency percentiles, and alert
// rules firing and resolving on the timeline, in the event log and in the alerts list. It
// waits on the page's own state, never on wall-clock sleeps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { servedApp, openPage, seek } from './harness.mjs';

const app = servedApp(before, after);

async function importScenario(page, name) {
  const text = await readFile(new URL(`../../scenarios/${name}`, import.meta.url), 'utf8');
  await page.waitForSelector('[data-testid=app-ready]');
  await page.fill('[data-testid=scenario-text]', text);
  await page.click('[data-testid=import]');
  await page.waitForSelector('[data-testid=chart-MessagesInPerSec] polyline');
}

const ruleStates = (page) => page.$$eval('[data-testid=alert-rule]',
  (rules) => rules.map((r) => [r.querySelector('code').textContent, r.dataset.state]));

test('charts show Kafka metrics per scope, one more is picked, and hovering reads values', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await importScenario(page, 'alerts.toml');
  // Three brokers, one line each; the lag chart has the consumer's line.
  assert.equal(await page.locator('[data-testid=chart-MessagesInPerSec] polyline').count(), 3);
  assert.equal(await page.locator('[data-testid=chart-records-lag-max] polyline').count(), 1);
  assert.ok(await page.locator('[data-testid=chart-latency] polyline').count() >= 6,
    'produce and end-to-end p50, p99, p99.9');
  await page.selectOption('[data-testid=metric-picker]', 'record-send-rate');
  await page.waitForSelector('[data-testid=chart-record-send-rate] polyline', { state: 'attached' });
  const svg = page.locator('[data-testid=chart-MessagesInPerSec] svg');
  const box = await svg.boundingBox();
  await svg.hover({ position: { x: box.width * 0.25, y: box.height / 2 } });
  const readout = page.locator('[data-testid=readout-MessagesInPerSec]');
  await readout.waitFor();
  const text = await readout.textContent();
  assert.match(text, /^at \d+ s: /);
  for (const b of ['broker:0', 'broker:1', 'broker:2']) assert.ok(text.includes(b), text);
  await page.click('[aria-label="remove the chart of record-send-rate"]');
  assert.equal(await page.locator('[data-testid=chart-record-send-rate]').count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test('an alert fires and resolves on the timeline, in the event log and in its list', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await importScenario(page, 'alerts.toml');
  // At the end (60 s) every alert has resolved; the firing stays in the record of the run.
  assert.deepEqual(await ruleStates(page), [
    ['UnderReplicatedPartitions > 0', 'ok'],
    ['OfflinePartitionsCount > 0', 'ok'],
    ['records-lag-max > 1000 for 5 s', 'ok'],
  ]);
  const marks = await page.$$eval('.travel-marks .mark[data-kind=alert]', (m) => m.map((e) => e.title));
  assert.ok(marks.some((t) => /alert fired: UnderReplicatedPartitions > 0 \(broker:0/.test(t)), marks.join('\n'));
  assert.ok(marks.some((t) => /alert resolved: UnderReplicatedPartitions > 0/.test(t)), marks.join('\n'));
  const pinned = await page.textContent('[data-testid=pinned-events]');
  assert.match(pinned, /alert fired: records-lag-max > 1000 for 5 s \(consumer:billing is [\d.]+\)/);
  // Back at 20 s, broker 2 is down and out of the ISRs: the rule fires on brokers 0 and 1.
  await seek(page, 20_000);
  await page.waitForSelector('[data-testid=alert-rule][data-state=firing]');
  const firing = await page.textContent('[data-testid=alert-rule][data-state=firing]');
  assert.match(firing, /UnderReplicatedPartitions > 0\s*firing on broker:0, broker:1/);
  // A rule added from the page is checked over the whole run, which stays where it was.
  await page.fill('[data-testid=alert-input]', 'OfflinePartitionsCount >= 0');
  await page.click('[data-testid=alerts] button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=alert-rule]').length === 4);
  assert.deepEqual((await ruleStates(page))[3], ['OfflinePartitionsCount >= 0', 'firing']);
  assert.equal(await page.$eval('[data-testid=clock]', (e) => Number(e.dataset.nowUs)), 20_000_000);
  // A rule that is not one says why, and changes nothing.
  await page.fill('[data-testid=alert-input]', 'lag > 1000');
  await page.click('[data-testid=alerts] button[type=submit]');
  await page.waitForSelector('.banner.error, [role=alert]');
  const banner = await page.textContent('[role=alert]');
  assert.match(banner, /`alert`: unknown metric "lag"/);
  assert.equal(await page.locator('[data-testid=alert-rule]').count(), 4);
  await page.click('[aria-label="remove the alert OfflinePartitionsCount >= 0"]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=alert-rule]').length === 3);
  assert.deepEqual(errors, []);
  await context.close();
});

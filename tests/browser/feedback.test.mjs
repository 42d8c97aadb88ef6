// What a new user stumbled on (issue 14): feedback where the user is looking, a pending state
// for actions made while paused, undoable slowness, and a glossary reachable from its terms.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { servedApp, openPage, clock } from './harness.mjs';

const app = servedApp(before, after);

async function ready(viewport) {
  const opened = await openPage(app.browser, app.server.url, viewport);
  await opened.page.waitForSelector('[data-testid=app-ready]', { timeout: 30_000 });
  return opened;
}

test('an action made while paused says it waits for the clock, until Step runs it', async () => {
  const { page, context, errors } = await ready();
  assert.equal(await page.locator('[data-testid=pending]').count(), 0);
  await page.click('[data-testid=crash-1]');
  await page.waitForSelector('[data-testid=pending]');
  assert.match(await page.textContent('[data-testid=pending]'), /crash broker at 0\.001 s/);
  // Step runs one event at a time: the cluster's own events before 1 ms come first.
  let steps = 0;
  while (await page.locator('[data-testid=pending]').count() > 0 && steps < 500) {
    await page.click('[data-testid=step]');
    steps += 1;
  }
  assert.equal(await page.locator('[data-testid=pending]').count(), 0, `still pending after ${steps} steps`);
  assert.ok(await clock(page) >= 1000);
  assert.match(await page.textContent('[data-testid=broker-1]'), /crashed/i);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a refused value is explained beside its field, not only in the banner', async () => {
  const { page, context } = await ready({ width: 1024, height: 700 });
  const rate = page.locator('[data-testid=producer-checkout] input[type=number]');
  await rate.scrollIntoViewIfNeeded();
  await rate.fill('-10');
  await rate.dispatchEvent('change');
  const beside = page.locator('[data-testid=field-error]');
  await beside.waitFor();
  assert.match(await beside.textContent(), /rate_per_sec.*whole number.*"-10"/);
  assert.doesNotMatch(await beside.textContent(), /at most/);
  const [field, message] = [await rate.boundingBox(), await beside.boundingBox()];
  assert.ok(Math.abs(message.y - (field.y + field.height)) < 40, `message at ${message.y}, field bottom ${field.y + field.height}`);
  assert.ok(Math.abs(message.x - field.x) < 40);
  await context.close();
});

test('Slow can be undone by typing the processing time back', async () => {
  const { page, context, errors } = await ready();
  const consumer = page.locator('[data-testid^=consumer-processing-]').first();
  const before = await consumer.inputValue();
  const value = () => page.$eval('[data-testid^=consumer-processing-]', (e) => e.value);
  // Live actions run at the next millisecond: play a little for each to take effect.
  const playBriefly = async () => {
    const t = await clock(page);
    await page.click('[data-testid=play]');
    await page.waitForFunction((u) => Number(document.querySelector('[data-testid=clock]').dataset.nowUs) > u + 2000, t, { timeout: 10_000 });
    await page.click('[data-testid=pause]');
  };
  await page.locator('[data-testid^=consumer-slow-]').first().click();
  await playBriefly();
  assert.notEqual(await value(), before);
  await consumer.fill(before);
  await consumer.dispatchEvent('change');
  await playBriefly();
  assert.equal(await value(), before);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a term opens the glossary at its entry, on a phone too', async () => {
  const { page, context, errors } = await ready({ width: 390, height: 844 });
  const lag = page.locator('[data-testid=term-lag]').first();
  await lag.scrollIntoViewIfNeeded();
  await lag.click();
  assert.equal(await page.getAttribute('[data-testid=glossary]', 'open'), '');
  await page.waitForFunction(() => document.activeElement?.id === 'glossary-lag', null, { timeout: 5_000 });
  assert.match(await page.textContent('#glossary-lag + dd'), /HW minus/);
  assert.deepEqual(errors, []);
  await context.close();
});

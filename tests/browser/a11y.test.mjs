// Accessibility (issue 14): axe-core finds no serious or critical violation on the main page,
// paused and playing, at a desktop and a phone width (the lesson panel's check is in
// lessons.test.mjs); a partition is one tab stop with arrow keys between its records; important
// events reach a polite live region.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { servedApp, openPage, axeViolations, clock } from './harness.mjs';

const app = servedApp(before, after);

for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
  test(`axe finds no serious or critical violation at ${viewport.width} px, paused and playing`, async () => {
    const { page, context, errors } = await openPage(app.browser, app.server.url, viewport);
    await page.waitForSelector('[data-testid=app-ready]', { timeout: 30_000 });
    assert.deepEqual(await axeViolations(page), [], 'paused');
    await page.click('[data-testid=play]');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=clock]').dataset.nowUs) >= 3_000_000, null, { timeout: 30_000 });
    assert.deepEqual(await axeViolations(page), [], 'playing');
    await page.click('[data-testid=pause]');
    assert.ok(await clock(page) >= 3_000_000);
    assert.deepEqual(errors, []);
    await context.close();
  });
}

test('a partition is one tab stop, arrow keys move between its records, Enter opens one', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await page.waitForSelector('[data-testid=app-ready]', { timeout: 30_000 });
  await page.click('[data-testid=play]');
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=partition-orders-0]').dataset.leo) >= 3, null, { timeout: 30_000 });
  await page.click('[data-testid=pause]');
  const log = page.locator('[data-testid=partition-orders-0] .log');
  await log.focus();
  await page.keyboard.press('Home');
  const focused = () => page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? '');
  const first = await focused();
  assert.match(first, /^offset \d+, key /);
  await page.keyboard.press('ArrowRight');
  const second = await focused();
  assert.notEqual(second, first);
  assert.equal(Number(second.match(/offset (\d+)/)[1]), Number(first.match(/offset (\d+)/)[1]) + 1);
  // Tab leaves the partition: its records are not tab stops of their own.
  await page.keyboard.press('Tab');
  assert.doesNotMatch(await focused(), /^offset /);
  await log.focus();
  await page.keyboard.press('End');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=record-journey]', { timeout: 30_000 });
  assert.deepEqual(errors, []);
  await context.close();
});

test('a broker crash is announced in a polite live region', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await page.waitForSelector('[data-testid=app-ready]', { timeout: 30_000 });
  assert.equal(await page.getAttribute('[data-testid=announcer]', 'aria-live'), 'polite');
  await page.click('[data-testid=crash-1]');
  await page.click('[data-testid=play]');
  await page.waitForFunction(() => /broker 1/.test(document.querySelector('[data-testid=announcer]').textContent), null, { timeout: 30_000 });
  await page.click('[data-testid=pause]');
  assert.deepEqual(errors, []);
  await context.close();
});

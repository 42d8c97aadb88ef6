// A panic never kills the page silently (issue #11): the crash banner says what happened, the
// page stops cleanly (no cascade of errors on later clicks), the saved session is untouched,
// and Reload brings the app back with it. The panic is forced through the page address
// (`?test_panic_at_ms=N`: the frame loop panics once virtual time reaches N ms, while it holds
// the playground borrowed, as an engine panic would; `?test_oom_at_ms=N` exhausts the wasm
// memory instead).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { servedApp, openPage, openTab, frames, clock, savedSession } from './harness.mjs';

const app = servedApp(before, after);

test('a panic shows the crash banner, later clicks do nothing, and Reload restores the saved session', async () => {
  // A session saved in the browser: played to about a second, paused (pausing saves).
  const first = await openPage(app.browser, app.server.url);
  const { context } = first;
  await first.page.waitForSelector('[data-testid=app-ready]');
  await first.page.click('[data-testid=play]');
  await first.page.waitForFunction(() => Number(document.querySelector('[data-testid=clock]').dataset.nowUs) >= 1_000_000, null, { timeout: 30_000 });
  await first.page.click('[data-testid=pause]');
  const savedAt = await clock(first.page);
  const saved = await savedSession(first.page);
  assert.match(saved, new RegExp(`^duration_ms = ${savedAt / 1000}$`, 'm'));
  await first.page.close();

  // The same browser, with a panic 400 ms of virtual time later: at 1x that is about 25
  // frames, fewer than the 120 between saves while playing, so nothing is saved meanwhile.
  const panicAtMs = savedAt / 1000 + 400;
  const { page, errors } = await openTab(context, `${app.server.url}?test_panic_at_ms=${panicAtMs}`);
  await page.waitForSelector('[data-testid=app-ready]');
  assert.equal(await clock(page), savedAt, 'the saved session opened');
  await page.click('[data-testid=play]');
  await page.waitForSelector('[data-testid=crash-banner]', { timeout: 30_000 });
  assert.match(await page.textContent('[data-testid=crash-banner]'), /stopped after an internal error.*saved in this browser is kept/);
  assert.match(await page.textContent('[data-testid=crash-message]'), new RegExp(`^test_panic_at_ms: virtual time reached \\d+\\.\\d+s \\(at web/src/main.rs:\\d+\\)$`));
  // The panic itself: the hook's message and the wasm trap, nothing else.
  assert.equal(errors.filter((e) => e.startsWith('pageerror')).length, 1, errors.join('\n'));
  const afterPanic = [...errors];
  const stoppedAt = await clock(page);
  // The clock shows the last frame before the panic (a frame moves at most 250 ms at 1x).
  assert.ok(stoppedAt < panicAtMs * 1000 && stoppedAt >= (panicAtMs - 250) * 1000, `${stoppedAt}`);

  // Everything under the banner is inert, and no click, script-sent or forced, reaches the
  // app: before the hook, each one panicked again with "already borrowed".
  assert.equal(await page.getAttribute('header.top', 'inert'), '');
  for (const button of ['pause', 'step', 'reset', 'share']) {
    await page.locator(`[data-testid=${button}]`).dispatchEvent('click');
    await page.click(`[data-testid=${button}]`, { force: true });
  }
  await page.fill('[data-testid=seed]', '5', { force: true });
  await page.press('[data-testid=seed]', 'Enter');
  await page.locator('[data-testid=seed]').dispatchEvent('submit');
  await frames(page, 30);
  assert.deepEqual(errors, afterPanic, 'no error after the panic');
  assert.equal(await clock(page), stoppedAt, 'the frame loop stopped');
  assert.equal(new URL(page.url()).search, `?test_panic_at_ms=${panicAtMs}`, 'no form was submitted');
  assert.equal(await savedSession(page), saved, 'the saved session is untouched');

  // Reload: the app is back, paused, where the session was saved.
  await page.click('[data-testid=crash-reload]');
  await page.waitForSelector('[data-testid=app-ready]');
  await page.waitForSelector('[data-testid=play]');
  assert.equal(await page.locator('[data-testid=crash-banner]').count(), 0);
  assert.equal(await clock(page), savedAt);
  await page.click('[data-testid=step]');
  assert.ok((await clock(page)) >= savedAt);
  assert.deepEqual(errors, afterPanic, 'no error after the reload');
  await context.close();
});

test('running out of wasm memory shows the crash banner too, not a silent trap', async () => {
  // Without the counting allocator's panic, std aborts on a failed allocation without running
  // the panic hook: the tab stopped with no word, as in issue #11.
  const { page, context, errors } = await openPage(app.browser, `${app.server.url}?test_oom_at_ms=200`);
  await page.waitForSelector('[data-testid=app-ready]');
  await page.click('[data-testid=play]');
  await page.waitForSelector('[data-testid=crash-banner]', { timeout: 60_000 });
  assert.match(await page.textContent('[data-testid=crash-message]'), /^out of memory: \d+ more bytes could not be allocated \(the page holds \d+ MB, its wasm memory is \d+ MB\)/);
  const afterCrash = [...errors];
  assert.equal(afterCrash.filter((e) => e.startsWith('pageerror')).length, 1, afterCrash.join('\n'));
  await page.click('[data-testid=step]', { force: true });
  await frames(page, 10);
  assert.deepEqual(errors, afterCrash);
  await context.close();
});

// Lessons in the browser (issue 14): the list by level, a lesson's steps with the elements
// they name highlighted, "check my answer" on the learner's own run, "show me", and progress
// kept in this browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { servedApp, openPage, openTab, axeViolations } from './harness.mjs';

const app = servedApp(before, after);
const LESSON = 'acks-and-leader-crash';

async function openLesson(page, id) {
  await page.waitForSelector('[data-testid=app-ready]', { timeout: 30_000 });
  // A fresh page has no unsaved changes, so no confirmation is asked.
  await page.click(`[data-testid=lesson-${id}]`);
  await page.waitForSelector(`[data-testid=lesson-open][data-lesson="${id}"]`);
}

async function check(page) {
  await page.click('[data-testid=lesson-check]');
  await page.waitForSelector('[data-testid=lesson-check][data-passed]', { timeout: 30_000 });
  return page.getAttribute('[data-testid=lesson-check]', 'data-passed');
}

// The page fetches the lesson files beside it (Trunk copies lessons/ into dist/).
const FILES = readdirSync(new URL('../../lessons/', import.meta.url)).filter((f) => f.endsWith('.toml'));

test('every lesson file is in the list, grouped by level', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await page.waitForSelector(`[data-testid=lesson-${LESSON}]`, { timeout: 30_000 });
  const ids = await page.$$eval('[data-testid=lesson-list] button[data-testid^=lesson-]', (es) => es.map((e) => e.dataset.testid));
  assert.deepEqual(ids.sort(), FILES.map((f) => `lesson-${f.replace('.toml', '')}`).sort());
  assert.ok(await page.locator('.lesson-level h3:has-text("Level 2")').count() >= 1);
  assert.equal(await page.locator('[data-testid=lesson-load-error]').count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a lesson file that cannot be fetched is named; the others are listed', async () => {
  const context = await app.browser.newContext();
  const page = await context.newPage();
  await page.route('**/lessons/hot-key.toml', (route) => route.fulfill({ status: 404, body: 'not found' }));
  await page.goto(app.server.url);
  const error = page.locator('[data-testid=lesson-load-error]');
  await error.waitFor({ timeout: 30_000 });
  assert.match(await error.textContent(), /lessons\/hot-key\.toml: HTTP 404/);
  assert.equal(await page.locator('[data-testid=lesson-hot-key]').count(), 0);
  assert.equal(await page.locator(`[data-testid=lesson-${LESSON}]`).count(), 1);
  await context.close();
});

test('a lesson: steps highlight what they name, the setup fails the check, the learner fixes it', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await openLesson(page, LESSON);
  assert.equal(await page.getAttribute('[data-testid=lesson-step]', 'data-step'), '0');
  assert.equal(await page.getAttribute('[data-testid=lesson-check]', 'data-passed'), null);
  // The first step names the producer: it is outlined.
  const outline = () => page.$eval('[data-testid=producer-api]', (e) => getComputedStyle(e).outlineStyle);
  assert.equal(await outline(), 'solid');
  await page.click('[data-testid=lesson-next]');
  assert.equal(await page.getAttribute('[data-testid=lesson-step]', 'data-step'), '1');
  assert.equal(await outline(), 'none');
  assert.equal(await page.$eval('[data-testid=broker-0]', (e) => getComputedStyle(e).outlineStyle), 'solid');

  assert.equal(await check(page), 'false');
  const failed = await page.$$eval('[data-testid=lesson-result] li[data-passed=false]', (es) => es.map((e) => e.textContent));
  assert.ok(failed.some((t) => t.includes('lost_acked == 0')), failed.join('\n'));

  // The learner sets acks=all and min.insync.replicas=2 in the setup forms, and checks again.
  await page.selectOption('[data-testid=config-target]', { label: await page.$eval('[data-testid=config-target] option:nth-child(3)', (o) => o.textContent) });
  const set = async (target, key, value) => {
    const option = await page.$$eval('[data-testid=config-target] option', (os, t) => os.find((o) => o.value.endsWith(t))?.value, target);
    await page.selectOption('[data-testid=config-target]', option);
    await page.fill('[data-testid=config-key]', key);
    await page.fill('[data-testid=config-value]', value);
    await page.click('[data-testid=config-set]');
  };
  await set('api', 'acks', 'all');
  await set('payments', 'min.insync.replicas', '2');
  assert.equal(await page.getAttribute('[data-testid=lesson-check]', 'data-passed'), null, 'a change makes the old check stale');
  assert.equal(await check(page), 'true');
  assert.equal(await page.locator('[data-testid=lesson-outside]').count(), 0);
  await page.waitForSelector(`[data-testid=lesson-${LESSON}] .tick`, { state: 'attached' });

  // Progress is kept in this browser.
  const { page: later, errors: laterErrors } = await openTab(context, app.server.url);
  await later.waitForSelector(`[data-testid=lesson-${LESSON}] .tick`, { timeout: 30_000, state: 'attached' });
  assert.deepEqual([...errors, ...laterErrors], []);
  await context.close();
});

test('"show me" loads the solution, which passes; a passing solution is not the learner\'s progress', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await openLesson(page, LESSON);
  await page.click('[data-testid=lesson-solution]');
  assert.equal(await check(page), 'true');
  assert.match(await page.textContent('[data-testid=lesson-result]'), /reference solution passes/);
  assert.equal(await page.locator(`[data-testid=lesson-${LESSON}] .tick`).count(), 0);
  assert.deepEqual(await axeViolations(page), [], 'a lesson open');
  assert.deepEqual(errors, []);
  await context.close();
});

test('every lesson opens from the panel, its setup fails the check in the browser and its solution passes', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  // The list shows once the lesson files have been fetched.
  await page.waitForSelector(`[data-testid=lesson-${LESSON}]`, { timeout: 30_000 });
  const ids = await page.$$eval('[data-testid=lesson-list] button[data-testid^=lesson-]', (es) => es.map((e) => e.dataset.testid.slice('lesson-'.length)));
  assert.equal(ids.length, FILES.length, `${ids.length} lessons`);
  assert.ok(ids.length >= 15, `${ids.length} lessons`);
  // Opening a lesson over one that was changed asks first: accept.
  page.on('dialog', (d) => d.accept());
  for (const id of ids) {
    await page.click(`[data-testid=lesson-${id}]`, { force: true });
    await page.waitForSelector(`[data-testid=lesson-open][data-lesson="${id}"]`);
    assert.equal(await check(page), 'false', `${id}: the setup must fail`);
    await page.click('[data-testid=lesson-solution]');
    assert.equal(await check(page), 'true', `${id}: the solution must pass`);
    // The list is folded while a lesson is open: unfold it for the next one.
    await page.$eval('[data-testid=lesson-list]', (d) => { d.open = true; });
  }
  assert.deepEqual(errors, []);
  await context.close();
});

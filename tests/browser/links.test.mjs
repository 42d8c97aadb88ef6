// Nothing of the user's is lost to a link (issue #11, part 6): a broken share link leaves the
// session saved in the browser alone and offers it back, and a link pasted into a running tab
// opens there, asking first when it would replace unsaved changes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { servedApp, openPage, openTab, clock, savedSession } from './harness.mjs';

const app = servedApp(before, after);

const seed = (page) => page.inputValue('[data-testid=seed]');
const seedIs = (page, value) => page.waitForFunction((v) => document.querySelector('[data-testid=seed]').value === v, value, { timeout: 30_000 });

/// Restarts the page's playground with another seed, as a user does.
async function setSeed(page, value) {
  await page.fill('[data-testid=seed]', value);
  await page.press('[data-testid=seed]', 'Enter');
  await seedIs(page, value);
}

/// Plays until virtual time reaches `us`, then pauses (pausing saves).
async function playUntil(page, us) {
  await page.click('[data-testid=play]');
  await page.waitForFunction((t) => Number(document.querySelector('[data-testid=clock]').dataset.nowUs) >= t, us, { timeout: 30_000 });
  await page.click('[data-testid=pause]');
}

/// A share link's fragment for the welcome scenario with seed 7, played half a second, and
/// the virtual time it was shared at.
async function seedSevenLink() {
  const { page, context } = await openPage(app.browser, app.server.url);
  await page.waitForSelector('[data-testid=app-ready]');
  await setSeed(page, '7');
  await playUntil(page, 500_000);
  await page.click('[data-testid=share]');
  const url = await page.$eval('[data-testid=share-link]', (e) => e.value);
  const at = await clock(page);
  await context.close();
  return { link: new URL(url).hash, at };
}

/// Changes the page's address fragment as pasting a link into the address bar does: the page
/// is not loaded again, it gets a `hashchange`.
const pasteLink = (page, fragment) => page.evaluate((f) => { window.location.hash = f; }, fragment);

test('a broken link keeps the saved session: Step does not save over it, and it can be restored', async () => {
  const first = await openPage(app.browser, app.server.url);
  const { context } = first;
  await first.page.waitForSelector('[data-testid=app-ready]');
  await setSeed(first.page, '7');
  await playUntil(first.page, 1_000_000);
  const savedAt = await clock(first.page);
  const saved = await savedSession(first.page);
  assert.match(saved, /^seed = 7$/m);
  await first.page.close();

  const { page, errors } = await openTab(context, `${app.server.url}#v1.%%%broken`);
  await page.waitForSelector('[data-testid=error-banner]', { timeout: 30_000 });
  assert.match(await page.textContent('[data-testid=error-banner]'), /share link could not be opened.*saved session is kept/);
  assert.equal(await seed(page), '42', 'a fresh playground');
  // Working with the fresh playground does not save over the saved session.
  await page.click('[data-testid=step]');
  await page.click('[data-testid=step]');
  assert.ok((await clock(page)) > 0, 'the steps ran');
  assert.equal(await savedSession(page), saved);
  // The error is gone with the next action; the choice stays.
  assert.equal(await page.locator('[data-testid=error-banner]').count(), 0);
  await page.click('[data-testid=restore-saved]');
  await seedIs(page, '7');
  assert.equal(await clock(page), savedAt);
  assert.equal(await page.locator('[data-testid=restore-saved]').count(), 0);
  assert.equal(new URL(page.url()).hash, '', 'the broken link left the address');
  // So a reload opens the saved session too, with no banner.
  await page.reload();
  await page.waitForSelector('[data-testid=app-ready]');
  assert.equal(await seed(page), '7');
  assert.equal(await clock(page), savedAt);
  assert.equal(await page.locator('[data-testid=error-banner]').count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a share link pasted into a running tab opens there', async () => {
  const { link, at } = await seedSevenLink();
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  await page.waitForSelector('[data-testid=app-ready]');
  await playUntil(page, 300_000);
  assert.equal(await seed(page), '42');
  await pasteLink(page, link);
  await seedIs(page, '7');
  assert.deepEqual(dialogs, [], 'only played, nothing to lose: no question');
  assert.equal(await clock(page), at, 'where the link was shared');
  assert.match(await page.textContent('[data-testid=info-banner]'), /Opened the share link/);
  assert.match(await savedSession(page), /^seed = 7$/m, 'the opened link is the saved session now');
  assert.deepEqual(errors, []);
  await context.close();
});

test('with unsaved changes a pasted link asks first: dismissed, the session stays; accepted, it opens', async () => {
  const { link } = await seedSevenLink();
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  let answer = 'dismiss';
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d[answer](); });
  await page.waitForSelector('[data-testid=app-ready]');
  // An unsaved change: a topic of the user's own.
  await page.fill('[data-testid=topic-name]', 'audit');
  await page.click('[data-testid=topic-add]');
  await page.waitForSelector('[data-testid=partition-audit-0]');
  const saved = await savedSession(page);
  assert.match(saved, /name = "audit"/);

  await pasteLink(page, link);
  // Declined: the link leaves the address (a reload opens this session, not the link).
  await page.waitForFunction(() => window.location.hash === '', null, { timeout: 30_000 });
  assert.equal(dialogs.length, 1);
  assert.match(dialogs[0], /replaces this session, whose changes have not been shared or exported/);
  assert.equal(await seed(page), '42');
  assert.equal(await page.locator('[data-testid=partition-audit-0]').count(), 1);
  assert.equal(await savedSession(page), saved);

  answer = 'accept';
  await pasteLink(page, link);
  await seedIs(page, '7');
  assert.equal(dialogs.length, 2);
  assert.equal(await page.locator('[data-testid=partition-audit-0]').count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a broken link pasted into a running tab shows an error and keeps the session', async () => {
  const { page, context, errors } = await openPage(app.browser, app.server.url);
  await page.waitForSelector('[data-testid=app-ready]');
  await setSeed(page, '9');
  await playUntil(page, 400_000);
  const at = await clock(page);
  const saved = await savedSession(page);
  await pasteLink(page, '#v1.%%%broken');
  await page.waitForSelector('[data-testid=error-banner]', { timeout: 30_000 });
  assert.match(await page.textContent('[data-testid=error-banner]'), /share link could not be opened, so this session was kept/);
  assert.equal(await seed(page), '9');
  assert.equal(await clock(page), at);
  assert.equal(new URL(page.url()).hash, '');
  assert.equal(await savedSession(page), saved);
  assert.deepEqual(errors, []);
  await context.close();
});

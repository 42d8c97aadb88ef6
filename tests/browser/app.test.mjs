// End-to-end tests of the playground in headless Chromium against the built dist/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveDist, launch, openPage } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await serveDist();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('the page loads and the app starts without errors', async () => {
  const { page, context, errors } = await openPage(browser, server.url);
  await page.waitForSelector('[data-testid=app-ready]', { timeout: 30_000 });
  assert.deepEqual(errors, []);
  await context.close();
});

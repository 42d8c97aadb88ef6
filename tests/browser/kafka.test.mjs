// The playground teaches in Kafka's words (issue 14): a broker crash leaves its fencing,
// elections and ISR changes pinned with their reasons, "pause when an important event
// happens" pauses, the log filters by kind, topic and partition, and the describe views show
// what kafka-topics.sh and kafka-consumer-groups.sh would print, beside the kafka-topics.sh
// command of each topic. It waits on the page's own state, never on wall-clock sleeps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { servedApp, openPage } from './harness.mjs';

const app = servedApp(before, after);
const texts = (page, sel) => page.$$eval(sel, (els) => els.map((e) => e.textContent));

test('a crash is explained, pinned, filterable, and described as Kafka tools would', async () => {
  const { page, context, errors } = await openPage(app.browser, `${app.server.url}?test_time_warp=20`);
  await page.waitForSelector('[data-testid=app-ready]', { timeout: 30_000 });
  // The lesson list above the event log arrives by fetch after the page is ready and pushes
  // the log down: a click aimed before it lands can hit what moved under it (this test once
  // saw its checkbox "not change state").
  await page.waitForSelector('[data-testid=lesson-list] button[data-testid^=lesson-]');

  // Pause on important events, then crash broker 1 and play: the crash pauses the run.
  await page.check('[data-testid=pause-on-important]');
  await page.click('[data-testid=crash-1]');
  await page.click('[data-testid=play]');
  await page.waitForFunction(() => document.querySelector('[data-testid=pinned-events]')?.textContent.includes('broker 1 crashed'), null, { timeout: 30_000 });
  await page.waitForSelector('[data-testid=play]', { timeout: 30_000 });

  // Until the controller fences it, the crashed broker still counts: the Brokers panel says
  // when and why, and the rows it led say their leader is down.
  assert.match(await page.textContent('[data-testid=fence-countdown-1]'), /^fenced in \d+\.\d s: broker\.session\.timeout\.ms = 9000$/);
  const rows = (await texts(page, '[data-testid^=partition-orders-]')).join('\n');
  assert.match(rows, /leader 1 \(down, not fenced yet\) · epoch/);

  // Play on without pausing until the controller fences broker 1 (broker.session.timeout.ms).
  await page.uncheck('[data-testid=pause-on-important]');
  await page.click('[data-testid=play]');
  await page.waitForFunction(() => document.querySelector('[data-testid=pinned-events]')?.textContent.includes('controller fenced broker 1'), null, { timeout: 60_000 });
  await page.click('[data-testid=pause]');
  assert.equal(await page.locator('[data-testid=fence-countdown-1]').count(), 0, 'fenced: no countdown');
  const pinned = (await texts(page, '[data-testid=pinned-events] li')).join('\n');
  assert.match(pinned, /controller fenced broker 1: no heartbeat for broker\.session\.timeout\.ms = 9000/);
  assert.match(pinned, /orders-\d: broker \d elected leader, epoch \d+: leader 1 was fenced/);
  assert.match(pinned, /ISR of orders-\d shrank to \[\d, \d\]: broker 1 was fenced/);

  // The log filters by kind, topic and partition.
  await page.selectOption('[data-testid=event-filter-kind]', 'partition');
  await page.fill('[data-testid=event-filter-topic]', 'orders');
  await page.fill('[data-testid=event-filter-partition]', '2');
  const filtered = await texts(page, '[data-testid=event-log] li');
  assert.ok(filtered.length > 0, 'events of orders-2 remain');
  for (const line of filtered) assert.match(line, /orders-2\b/);
  await page.selectOption('[data-testid=event-filter-kind]', 'producer');
  for (const line of await texts(page, '[data-testid=event-log] li')) assert.match(line, /producer checkout/);

  // Kafka's tools: the describe views and the create command of the welcome topic.
  await page.click('[data-testid=describe-toggle]');
  const topics = await page.textContent('[data-testid=describe-topics]');
  assert.match(topics, /^Topic: orders\tPartitionCount: 6\tReplicationFactor: 3\tConfigs: min\.insync\.replicas=2\n/);
  assert.match(topics, /\tTopic: orders\tPartition: 0\tLeader: \d\tReplicas: \d,\d,\d\tIsr: /);
  assert.doesNotMatch(topics, /Isr: [^\t]*1/, 'broker 1 left every ISR once fenced');
  const groups = await page.textContent('[data-testid=describe-groups]');
  assert.equal(groups, '', 'the welcome consumer has no group.id: kafka-consumer-groups.sh has nothing to show');
  const commands = await texts(page, '[data-testid=kafka-command]');
  assert.deepEqual(commands, ['kafka-topics.sh --bootstrap-server localhost:9092 --create --topic orders --partitions 6 --replication-factor 3 --config min.insync.replicas=2']);
  // The setup and the live crash, as a Kafka user would do them.
  const scenario = await texts(page, '[data-testid=scenario-command]');
  assert.ok(scenario.some((c) => c.includes('bootstrap.servers=localhost:9092\nacks=all\nlinger.ms=5\n')), scenario.join('\n'));
  assert.match(scenario.at(-1), /^# at \d+ ms: crash_broker\nkill -9 <pid of broker 1>/);
  // A setting as a Kafka user would change it, before it is set.
  await page.selectOption('[data-testid=config-target]', 'topic:orders');
  await page.fill('[data-testid=config-key]', 'retention.ms');
  await page.fill('[data-testid=config-value]', '60000');
  assert.equal(await page.textContent('[data-testid=setting-command]'),
    'kafka-configs.sh --bootstrap-server localhost:9092 --alter --entity-type topics --entity-name orders --add-config retention.ms=60000');
  assert.deepEqual(errors, []);
  await context.close();
});

// The design issue #16 compares against, as the seed describes it (automation-queue.ts): a BullMQ queue
// with 3 attempts, exponential backoff from 2 s, jobId = idempotency key, removeOnComplete 100 and
// removeOnFail 50, and a worker with concurrency 5 writing one EventLog row per job (logAutomationRun)
// into PostgreSQL. Driven by bench/bullmq_runner.py (bench scenario 7).
//
//   node bench.mjs '<json config>'
//
// Protocol: prints {"ready": true} once connected, waits for a line on stdin ("go"), runs, prints one
// JSON line with what it measured and exits. The worker runs until a second line ("stop") or stdin
// closes. Times are process.hrtime (CLOCK_MONOTONIC on Linux: the same clock as Python's
// time.monotonic()), in seconds.
import { createInterface } from 'node:readline';
import { Queue, Worker } from 'bullmq';
import pg from 'pg';

const config = JSON.parse(process.argv[2]);
const JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: 100,
  removeOnFail: 50,
};
const WORKER_CONCURRENCY = 5;
const INSERT =
  'INSERT INTO event_log (job_id, idempotency_key, automation_type, recipient, booking_id, status, ' +
  'attempt, inputs, outputs, started_at, finished_at, duration_ms, kafka_topic, kafka_partition, ' +
  'kafka_offset) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, 0)';

const now = () => Number(process.hrtime.bigint()) / 1e9;
const sleep = (s) => new Promise((resolve) => setTimeout(resolve, s * 1000));
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const nextLine = async () => (await lines.next()).value;
// resolves once written: process.exit() must not cut a long line short
const emit = (value) => new Promise((resolve) => process.stdout.write(JSON.stringify(value) + '\n', resolve));

function connection(url) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    db: Number(u.pathname.slice(1) || 0),
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: null, // required by BullMQ workers
  };
}

// One job as the seed's form route enqueues it: jobId = `${type}:${recipient}:${booking id}`
function job(n) {
  const bookingId = `${config.bookingPrefix}-${n}`;
  const data = { ...config.template, booking: { ...config.template.booking, id: bookingId } };
  return { name: 'automation', data, opts: { ...JOB_OPTIONS, jobId: `oba:owner:${bookingId}` } };
}

function cpuSeconds(since) {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

async function addOneAtATime(queue) {
  // `concurrency` producers, each awaiting queue.add() before its next one (closed loop)
  const latencies = [];
  let errors = 0;
  const start = now();
  const end = start + config.durationS;
  const producer = async (p) => {
    for (let i = 0; now() < end; i++) {
      const { name, data, opts } = job(p * 10_000_000 + i);
      const sent = now();
      try {
        await queue.add(name, data, opts);
        latencies.push(now() - sent);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: config.concurrency }, (_, p) => producer(p)));
  return { accepted: latencies.length, errors, latencies, elapsed: now() - start };
}

async function addBulk(queue) {
  // `concurrency` callers, each sending addBulk(batchSize) back to back
  const latencies = [];
  let accepted = 0;
  let errors = 0;
  const start = now();
  const end = start + config.durationS;
  const caller = async (c) => {
    for (let first = c * 10_000_000; now() < end; first += config.batchSize) {
      const jobs = Array.from({ length: config.batchSize }, (_, i) => job(first + i));
      const sent = now();
      try {
        await queue.addBulk(jobs);
        latencies.push(now() - sent);
        accepted += jobs.length;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: config.concurrency }, (_, c) => caller(c)));
  return { accepted, errors, latencies, elapsed: now() - start };
}

async function fill(queue) {
  // `count` jobs as fast as possible (addBulk of 1,000), before a worker drains them
  const start = now();
  for (let first = 0; first < config.count; first += 1000) {
    const size = Math.min(1000, config.count - first);
    await queue.addBulk(Array.from({ length: size }, (_, i) => job(first + i)));
  }
  return { added: config.count, elapsed: now() - start };
}

async function paced(queue) {
  // Open loop: add n is due at start + n / rate whatever earlier adds are doing
  const sends = [];
  let errors = 0;
  const start = now();
  const pending = [];
  const total = Math.floor(config.rate * config.durationS);
  for (let n = 0; n < total; n++) {
    const scheduled = start + n / config.rate;
    const delay = scheduled - now();
    if (delay > 0) await sleep(delay);
    const { name, data, opts } = job(n);
    const sent = now();
    pending.push(
      queue.add(name, data, opts).then(
        (added) => sends.push([added.id, scheduled, sent, now()]),
        () => errors++,
      ),
    );
  }
  await Promise.all(pending);
  return { sends, errors, elapsed: now() - start };
}

async function runQueueMode(run) {
  const queue = new Queue(config.queue, { connection: connection(config.redisUrl), prefix: config.prefix });
  await queue.waitUntilReady();
  await emit({ ready: true });
  await nextLine();
  const cpu0 = process.cpuUsage();
  const result = await run(queue);
  result.cpu_s = cpuSeconds(cpu0);
  await queue.close();
  await emit(result);
}

async function obliterate() {
  // Removes every key of each queue (the bench never flushes Redis)
  await emit({ ready: true });
  await nextLine();
  for (const name of config.queues) {
    const queue = new Queue(name, { connection: connection(config.redisUrl), prefix: config.prefix });
    await queue.obliterate({ force: true });
    await queue.close();
  }
  await emit({ obliterated: config.queues });
}

async function worker() {
  const pool = new pg.Pool({ connectionString: config.pgUrl, max: WORKER_CONCURRENCY });
  let processed = 0;
  let failed = 0;
  // logAutomationRun: one EventLog row per run; the "send" is a null channel (nothing delivered)
  const processor = async (job) => {
    const startedAt = new Date();
    const { booking } = job.data;
    const text = `New booking: ${booking.client.first_name}, ${booking.service_name} at ${booking.start_at}`;
    const finishedAt = new Date();
    await pool.query(INSERT, [
      job.id,
      job.id,
      'owner_new_booking_alert',
      'owner',
      booking.id,
      'succeeded',
      job.attemptsMade + 1,
      JSON.stringify(job.data),
      JSON.stringify({ channel: 'null', chars: text.length }),
      startedAt,
      finishedAt,
      finishedAt - startedAt,
      `bullmq:${config.queue}`,
    ]);
    return { channel: 'null' };
  };
  const w = new Worker(config.queue, processor, {
    connection: connection(config.redisUrl),
    prefix: config.prefix,
    concurrency: WORKER_CONCURRENCY,
    autorun: false,
  });
  w.on('completed', () => processed++);
  w.on('failed', () => failed++);
  w.on('error', (err) => process.stderr.write(`worker error: ${err}\n`));
  await w.waitUntilReady();
  await pool.query('SELECT 1');
  await emit({ ready: true });
  await nextLine();
  const cpu0 = process.cpuUsage();
  const running = w.run();
  await nextLine(); // "stop", or undefined when stdin closes
  await w.close();
  await running;
  await pool.end();
  await emit({ processed, failed, cpu_s: cpuSeconds(cpu0) });
}

const MODES = {
  add: () => runQueueMode(addOneAtATime),
  bulk: () => runQueueMode(addBulk),
  fill: () => runQueueMode(fill),
  paced: () => runQueueMode(paced),
  worker,
  obliterate,
};

MODES[config.mode]()
  .then(() => process.exit(0))
  .catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });

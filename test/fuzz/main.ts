/**
 * `npm run fuzz -- [--minutes N | --hours N] [--seed S] [--only inproc|listeners] [--targets a,b]`
 * runs the in-process parser targets (in turns, in a worker thread) and the listener campaign
 * (a real agent process attacked over its sockets) side by side for the given time, then prints
 * a summary per target and exits non-zero on any failure not listed in test/fuzz/known.ts.
 *
 * `npm run fuzz -- --reproduce TARGET --seed S --iteration I` (or `--input FILE`) replays one
 * input in this process and prints the outcome with its stack. `--list` names the targets.
 * docs/FUZZING.md explains the targets, checks and artifacts.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { installAllocGuard } from './lib/allocGuard.ts';
import { DEFAULT_LIMITS, execute, inputFor, runRngFor } from './lib/execute.ts';
import { FailureLog } from './lib/failures.ts';
import { runInProcess, type TargetSummary } from './lib/inproc.ts';
import { TARGETS, targetNamed } from './targets/index.ts';
import { runListenerCampaign, type ListenerReport } from './listeners/campaign.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    hours: { type: 'string' },
    seed: { type: 'string' },
    only: { type: 'string' },
    targets: { type: 'string' },
    'slice-seconds': { type: 'string' },
    'slow-ms': { type: 'string', default: String(DEFAULT_LIMITS.slowMs) },
    'hang-ms': { type: 'string', default: '10000' },
    'heap-mb': { type: 'string', default: '512' },
    'rss-max-mb': { type: 'string', default: '512' },
    out: { type: 'string', default: 'test-artifacts/fuzz' },
    'keep-data': { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '3' },
    list: { type: 'boolean', default: false },
    reproduce: { type: 'string' },
    iteration: { type: 'string' },
    input: { type: 'string' },
  },
  allowPositionals: false,
});

const log = (line: string): void => console.log(line);

if (values.list) {
  for (const t of TARGETS) console.log(`${t.name}\n  ${t.about}\n`);
  console.log(
    'listeners\n  A real agent process (bin/edge-agent.js) with HL7 analyzer and orders listeners, ASTM over TCP, a DICOM SCP, the LAN MQTT broker and HTTP ingest/API, attacked over its sockets while real devices send valid traffic (test/fuzz/listeners/).',
  );
  process.exit(0);
}

if (values.reproduce) {
  const target = targetNamed(values.reproduce);
  const seed = values.seed ?? 'repro';
  const iteration = Number(values.iteration ?? 0);
  const input = values.input ? readFileSync(values.input) : inputFor(target, target.seeds(), seed, iteration);
  installAllocGuard();
  console.log(`target ${target.name}, seed ${seed}, iteration ${iteration}, ${input.length} bytes${values.input ? ` from ${values.input}` : ''}`);
  console.log(`input (hex, first 512 bytes): ${input.subarray(0, 512).toString('hex')}`);
  console.log(`input (latin1, first 300 bytes): ${JSON.stringify(input.subarray(0, 300).toString('latin1'))}`);
  const outcome = await execute(target, input, () => runRngFor(target, seed, iteration));
  console.log(`outcome: ${outcome.kind} in ${outcome.ms.toFixed(1)} ms (${outcome.cpuMs} ms of CPU), largest allocation ${outcome.largestAlloc} bytes`);
  if (outcome.message) console.log(`${outcome.errorName}: ${outcome.message}`);
  if (outcome.stack) console.log(outcome.stack);
  process.exit(outcome.kind === 'ok' || outcome.kind === 'expected' ? 0 : 1);
}

const minutes = values.hours !== undefined ? Number(values.hours) * 60 : Number(values.minutes ?? process.env.EDGE_FUZZ_MINUTES ?? 60);
if (!Number.isFinite(minutes) || minutes < 0) throw new Error(`--minutes/--hours must be a number, got ${values.minutes ?? values.hours}`);
if (minutes === 0) {
  console.log('fuzz: 0 minutes asked, nothing to do');
  process.exit(0);
}
const seed = values.seed ?? `s${Date.now().toString(36)}`;
const out = values.out!;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const targets = values.targets ? values.targets.split(',').map((n) => targetNamed(n.trim())) : TARGETS;
const runInproc = values.only !== 'listeners';
const runListeners = values.only !== 'inproc' && !values.targets;
const startedAt = Date.now();
const until = startedAt + minutes * 60_000;
const failures = new FailureLog(join(out, 'failures'));
log(
  `[fuzz] seed ${seed}, ${minutes} min, ${runInproc ? `${targets.length} in-process target(s)` : 'no in-process targets'}${runListeners ? ' and the listener campaign' : ''}; artifacts in ${out}/`,
);

const sliceMs = values['slice-seconds']
  ? Number(values['slice-seconds']) * 1000
  : Math.max(10_000, Math.min(60_000, (minutes * 60_000) / Math.max(1, targets.length)));
const [inproc, listeners] = await Promise.all([
  runInproc
    ? runInProcess({
        seed,
        until,
        targets,
        sliceMs,
        slowMs: Number(values['slow-ms']),
        hangMs: Number(values['hang-ms']),
        heapMb: Number(values['heap-mb']),
        failures,
        log,
      })
    : Promise.resolve([] as TargetSummary[]),
  runListeners
    ? runListenerCampaign({
        seed,
        until,
        dir: join(out, 'listeners'),
        rssMaxBytes: Number(values['rss-max-mb']) * 1024 * 1024,
        log,
        keepData: values['keep-data'],
        concurrency: Number(values.concurrency),
      })
    : Promise.resolve(null as ListenerReport | null),
]);

// ------------------------------------------------------------------ summary
const mb = (n: number): string => (n / 1024 / 1024).toFixed(0);
const lines: string[] = [];
lines.push('', `fuzz summary (seed ${seed}, ${((Date.now() - startedAt) / 60_000).toFixed(1)} min)`);
if (inproc.length) {
  lines.push('', 'target              inputs    inputs/s  expected%       failures  slowest CPU ms  largest alloc  heap MB  RSS MB');
  for (const s of inproc) {
    const f = failures.forTarget(s.target);
    const unknown = f.filter((x) => !x.known).length;
    const known = f.length - unknown;
    lines.push(
      `${s.target.padEnd(18)} ${String(s.inputs).padStart(8)} ${String(Math.round(s.inputs / Math.max(0.001, s.seconds))).padStart(10)} ${((100 * s.expected) / Math.max(1, s.inputs)).toFixed(0).padStart(9)}% ${`${unknown}${known ? ` (+${known} known)` : ''}`.padStart(14)} ${s.slowestMs.toFixed(0).padStart(15)} ${String(s.largestAlloc).padStart(14)} ${mb(s.heapMaxBytes).padStart(8)} ${mb(s.rssMaxBytes).padStart(7)}`,
    );
  }
}
if (listeners) lines.push('', ...listeners.summary);
const all = [...failures.failures.values()];
if (all.length) {
  lines.push('', 'failures (each once; input and details in the artifact):');
  for (const f of all)
    lines.push(
      `  ${f.known ? `known (${f.known.bug}; ${f.known.regression})` : 'NEW'} ${f.target} ${f.kind} ×${f.occurrences}: ${f.errorName} ${f.message.slice(0, 200)}\n    at ${f.where || '?'}\n    ${f.reproduce}\n    ${f.artifact}`,
    );
}
const listenerFailures = listeners?.failures ?? [];
if (listenerFailures.length) lines.push('', 'listener campaign failures:', ...listenerFailures.map((f) => `  ${f}`));
const failed = failures.unknown.length + listenerFailures.length;
lines.push('', failed === 0 ? `fuzz: no new failure${all.length ? ` (${all.length} known)` : ''}` : `fuzz: ${failed} failure(s)`);
console.log(lines.join('\n'));
writeFileSync(
  join(out, 'summary.json'),
  JSON.stringify({ seed, minutes, startedAt: new Date(startedAt).toISOString(), inproc, listeners, failures: all.map(({ stack: _s, ...f }) => f) }, null, 2) +
    '\n',
);
writeFileSync(join(out, 'summary.txt'), lines.join('\n') + '\n');
process.exit(failed === 0 ? 0 : 1);

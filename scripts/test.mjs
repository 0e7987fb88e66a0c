#!/usr/bin/env node
// `npm test`: installs the Debian peers the integration tests talk to (when run as root),
// then runs the unit, integration and browser suites, and ends with one "N passed, N failed" line.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';

/** Debian packages of the real peers, by what they play in the tests. */
const PEERS = {
  mosquitto: 'the province broker',
  'mosquitto-clients': "mosquitto_sub/mosquitto_pub, the LAN broker's screens and devices",
  socat: 'serial pseudo-terminal pairs for analyzers',
  dcmtk: 'DICOM modality and PACS (storescu, echoscu, findscu, storescp)',
  orthanc: 'a PACS',
  'orthanc-dicomweb': "Orthanc's DICOMweb (STOW-RS)",
  pcscd: 'the PC/SC daemon for the card reader',
  'libpcsclite-dev': 'winscard.h, to build the optional pcsclite binding',
  'vsmartcard-vpcd': 'the virtual card reader the card simulator plugs into',
  'python3-hl7': 'mllp_send, an HL7 sender nobody here wrote',
  'python3-pydicom': 'DICOM test files',
  chromium: 'the kiosk, counter and call screen browser',
  'espeak-ng': 'Vietnamese voice clips for the call screen',
  sox: 'audio clip checks',
  'fonts-dejavu-core': 'a Vietnamese-capable font for ticket rasters',
  systemd: 'systemd-analyze verify of the unit files',
  debootstrap: 'a fresh Debian root to install the package into',
};

function missingPackages() {
  // dpkg-query's own ${Status} format, not a template.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: see above
  const status = '-f=${Status}';
  return Object.keys(PEERS).filter(
    (pkg) => spawnSync('dpkg-query', ['-W', status, pkg], { encoding: 'utf8' }).stdout?.includes('install ok installed') !== true,
  );
}

function installPeers() {
  const missing = missingPackages();
  if (missing.length === 0) return;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !existsSync('/usr/bin/apt-get')) {
    console.warn(
      `\nThese Debian packages are missing; tests that need them will fail and say so:\n${missing.map((p) => `  ${p} — ${PEERS[p]}`).join('\n')}\nInstall them with:\n  sudo apt-get install -y --no-install-recommends ${missing.join(' ')}\n`,
    );
    return;
  }
  console.log(`installing Debian peers: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
  const r = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  if (r.status !== 0) console.warn('apt-get install failed; tests needing those peers will fail with a message naming the package');
}

function runSuite(project) {
  mkdirSync('test-artifacts', { recursive: true });
  const report = `test-artifacts/vitest-${project}.json`;
  // A suite that hangs (a native binding that freezes its worker) must fail, not stall CI.
  const r = spawnSync(
    'npx',
    ['vitest', 'run', '--project', project, '--passWithNoTests', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`],
    { stdio: 'inherit', timeout: 15 * 60_000, killSignal: 'SIGKILL' },
  );
  if (r.error) console.error(`the ${project} suite did not finish: ${r.error.message}`);
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failures = [];
  if (existsSync(report) && !r.error) {
    const json = JSON.parse(readFileSync(report, 'utf8'));
    passed = json.numPassedTests ?? 0;
    failed = (json.numFailedTests ?? 0) + (json.numRuntimeErrorTestSuites ?? 0);
    skipped = (json.numPendingTests ?? 0) + (json.numTodoTests ?? 0);
    for (const file of json.testResults ?? []) {
      const name = file.name.replace(`${process.cwd()}/`, '');
      const tests = (file.assertionResults ?? []).filter((a) => a.status === 'failed');
      for (const t of tests) failures.push(`${project}: ${name} › ${t.fullName}\n    ${(t.failureMessages?.[0] ?? '').split('\n')[0]}`);
      if (tests.length === 0 && file.status === 'failed') failures.push(`${project}: ${name}\n    ${(file.message ?? '').split('\n')[0]}`);
    }
  }
  if (r.status !== 0 && failed === 0) {
    failed = 1; // the runner itself failed
    failures.push(`${project}: the suite did not finish (exit ${r.status ?? r.signal})`);
  }
  return { passed, failed, skipped, failures };
}

/**
 * pcsclite is an optional dependency: `npm ci` drops it on a machine without winscard.h so that
 * `npm start` works anywhere. The card tests need it, so build it once the headers are there.
 */
function ensurePcsclite() {
  const loads = () => spawnSync(process.execPath, ['-e', "require('pcsclite')"], { stdio: 'ignore' }).status === 0;
  if (loads()) return;
  const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
  const version = lock.packages?.['node_modules/pcsclite']?.version;
  console.log(`building the optional pcsclite ${version} binding for the card tests`);
  spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', `pcsclite@${version}`], { stdio: 'inherit' });
  if (!loads()) console.warn('pcsclite could not be built (is libpcsclite-dev installed?); the card tests will fail and say so');
}

/** `npm run fuzz` for `minutes` under nice -n 19, output to test-artifacts/fuzz.log; resolves with its outcome. */
function startFuzz(minutes) {
  mkdirSync('test-artifacts', { recursive: true });
  const log = openSync('test-artifacts/fuzz.log', 'w');
  console.log(`fuzzing for ${minutes} min in the background (nice -n 19, test-artifacts/fuzz.log)`);
  // Idle I/O class too where the disk scheduler honours it: the agent under attack writes a lot.
  const niced = ['nice', '-n', '19', process.execPath, 'scripts/fuzz.mjs', '--minutes', String(minutes)];
  const [cmd, ...args] = existsSync('/usr/bin/ionice') ? ['ionice', '-c', '3', ...niced] : niced;
  const child = spawn(cmd, args, { stdio: ['ignore', log, log] });
  const killAfter = setTimeout(() => child.kill('SIGTERM'), (minutes + 10) * 60_000); // the fuzzer stops its agent on SIGTERM
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      clearTimeout(killAfter);
      const text = existsSync('test-artifacts/fuzz.log') ? readFileSync('test-artifacts/fuzz.log', 'utf8') : '';
      const summary = text.slice(text.lastIndexOf('fuzz summary'));
      console.log(`\n${summary.trim() || text.split('\n').slice(-30).join('\n')}`);
      resolve({ failed: code !== 0, reason: code === 0 ? '' : ([...text.matchAll(/^fuzz: .*$/gm)].at(-1)?.[0] ?? `exit ${code ?? signal}`) });
    }),
  );
}

installPeers();
ensurePcsclite();
// The type check and Biome's lint and format check (biome.json: the project's rules) come first.
const checks = [
  ['type check', ['tsc', '--noEmit', '-p', 'tsconfig.json']],
  ['lint and format (npx biome check --write . fixes most)', ['biome', 'check', '--max-diagnostics=50', '.']],
];
const totals = { passed: 0, failed: 0, skipped: 0 };
const failures = [];
for (const [name, args] of checks) {
  const r = spawnSync('npx', args, { stdio: 'inherit' });
  if (r.status === 0) continue;
  totals.failed++;
  failures.push(`${name} failed`);
  console.error(`${name} failed`);
}
// `npm test -- unit` (or integration, browser) runs only those suites.
const projects = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'integration', 'browser', 'package'];
// The CI-sized fuzz run (docs/FUZZING.md) goes in the background under nice while the integration
// and browser suites run; EDGE_FUZZ_MINUTES=0 skips it.
const fuzzMinutes = Number(process.env.EDGE_FUZZ_MINUTES ?? 10);
let fuzz = null;
for (const project of projects) {
  if (project === 'integration' && fuzzMinutes > 0) fuzz = startFuzz(fuzzMinutes);
  const t = runSuite(project);
  totals.passed += t.passed;
  totals.failed += t.failed;
  totals.skipped += t.skipped;
  failures.push(...t.failures);
}
if (fuzz) {
  const f = await fuzz;
  totals.passed += f.failed ? 0 : 1;
  totals.failed += f.failed ? 1 : 0;
  if (f.failed) failures.push(`fuzz (${fuzzMinutes} min, test-artifacts/fuzz.log): ${f.reason}`);
}
// Named again at the very end: a CI log cut to its last lines still says what failed.
if (failures.length > 0) console.log(`\nFailed:\n${failures.map((f) => `  ${f}`).join('\n')}`);
console.log(`\n${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);
process.exit(totals.failed === 0 && totals.passed > 0 ? 0 : 1);

// The IT console: plain JavaScript modules over the agent's local API (no framework, no build step).
import { $, $$, api as boxApi, login, logout } from '/lib/page.js';
import { boxClock, boxTime, setBoxZone, zoneLabel } from './boxTime.js';
import { drawChart } from './charts.js';
import { lineEditor } from './editor.js';
import { parseProblem, viProblemMessage, viState, viText } from './serverText.js';
import { EN, VI } from './texts.js';

let lang = localStorage.getItem('console-lang') === 'en' ? 'en' : 'vi';
/** A text of the page, with {name} placeholders filled from `values`. */
const t = (key, values) => {
  const text = (lang === 'en' ? EN : VI)[key] ?? key;
  return values ? text.replace(/\{(\w+)\}/g, (_m, k) => String(values[k] ?? '')) : text;
};
const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};

function applyLanguage() {
  document.documentElement.lang = lang;
  for (const e of $$('[data-t]')) e.textContent = t(e.dataset.t);
  $('lang').textContent = lang === 'en' ? 'Tiếng Việt' : 'English';
}

/**
 * A sentence the API wrote in English: in Vietnamese when the page knows its shape, the
 * original in the tooltip (what the logs and support say). In English, as sent.
 */
function serverText(text, className = '') {
  const original = text ?? '';
  const shown = lang === 'en' ? original : viText(original);
  const span = el('span', { textContent: shown, className });
  if (shown !== original) span.title = original;
  return span;
}
const stateName = (state) => (lang === 'en' ? state : viState(state));
const localTime = (iso) => boxTime(iso, lang);

/** True while the page refreshes itself: those requests do not keep an idle login alive. */
let background = false;

/** The box's API (a refusal carries `status` and the server's `body`); a login that ended (401) brings the login form back. */
async function api(path, options = {}) {
  try {
    return await boxApi(path, { ...options, headers: background ? { 'x-edge-background': '1' } : {} });
  } catch (err) {
    if (err.status !== 401) throw err;
    showLogin(t('sessionEnded'));
    throw new Error('login required');
  }
}

function row(cells, onClick) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    if (c instanceof Node) td.append(c);
    else td.textContent = c ?? '';
    tr.append(td);
  }
  if (onClick) {
    tr.className = 'clickable';
    tr.tabIndex = 0;
    tr.addEventListener('click', onClick);
    tr.addEventListener('keydown', (e) => e.key === 'Enter' && onClick());
  }
  return tr;
}

function stateCell(state) {
  const span = el('span', { textContent: stateName(state), className: state === 'running' ? 'ok' : 'bad' });
  span.dataset.state = state;
  return span;
}

function button(label, action) {
  const b = el('button', { type: 'button', textContent: label });
  b.addEventListener('click', async (e) => {
    e.stopPropagation();
    await action();
    await refresh();
  });
  return b;
}

/**
 * A detail panel (journal entry, study) shown in a row right under the row it belongs to, and
 * scrolled into view: not below a table of a hundred rows. It stays there across refreshes.
 * Each panel has a home (its tab) where it waits, in the document, while its table is redrawn.
 */
const panels = { entry: { panel: $('entry'), home: $('tab-journal') }, study: { panel: $('study'), home: $('tab-studies') } };

function showBeneath({ panel }, tbody, key) {
  panel.hidden = false;
  panel.dataset.key = String(key);
  const tr = tbody.querySelector(`tr[data-key="${CSS.escape(String(key))}"]`);
  if (!tr) return;
  let holder = panel.closest('tr.detail-row');
  if (!holder) holder = el('tr', { className: 'detail-row' }, el('td'));
  holder.firstChild.colSpan = tr.children.length;
  holder.firstChild.append(panel);
  tr.after(holder);
}
/** Redraws a table whose rows may have the panel open under one of them. */
function redraw(p, tbody, rows) {
  const holder = p.panel.closest('tr.detail-row');
  if (holder) p.home.append(p.panel);
  tbody.replaceChildren(...rows);
  if (!p.panel.hidden && p.panel.dataset.key) showBeneath(p, tbody, p.panel.dataset.key);
}
function closePanel(p) {
  p.panel.hidden = true;
  delete p.panel.dataset.key;
  const holder = p.panel.closest('tr.detail-row');
  p.home.append(p.panel);
  holder?.remove();
}
const keyed = (tr, key) => ((tr.dataset.key = String(key)), tr);

async function loadBox() {
  const b = await api('/api/box');
  setBoxZone(b.timezone, b.utcOffsetMinutes);
  $('zone').textContent = zoneLabel();
}

async function loadDevices() {
  const d = await api('/api/devices');
  $('box').textContent = `${d.box.facility} / ${d.box.id}`;
  $('devices').replaceChildren(
    ...d.devices.map((x) => row([x.id, x.type, stateCell(x.status.state), detailCell(x), x.restarts, button(t('testButton'), () => testDevice(x.id))])),
  );
  $('destinations').replaceChildren(
    ...d.destinations.map((x) => row([x.id, x.type, stateCell(x.status.state), x.stats.delivered, serverText(x.stats.lastError ?? '')])),
  );
}

/** The device's status detail, with its active alarms (clock skew…) first. */
function detailCell(device) {
  const cell = document.createElement('span');
  for (const a of device.alarms ?? []) {
    const text = a.name === 'clock-skew' ? `${t('clockSkew')}: ${a.skewSeconds > 0 ? '+' : ''}${a.skewSeconds} s (> ${a.thresholdSeconds} s)` : a.name;
    cell.append(el('div', { className: 'bad', textContent: `⚠ ${text}` }));
  }
  cell.append(serverText(device.status.detail ?? device.status.lastError ?? ''));
  if (device.status.detail && device.status.lastError) cell.append(el('div', { className: 'bad' }, serverText(device.status.lastError)));
  return cell;
}

/** The device's own test (listening check, test ticket, card read); the answer stays on screen. */
async function testDevice(id) {
  const out = $('device-test');
  out.className = '';
  out.textContent = `${id}: ${t('testing')}`;
  try {
    const r = await api(`/api/devices/${encodeURIComponent(id)}/test`, { method: 'POST', body: {} });
    out.replaceChildren(`${id}: ${r.ok ? '✓' : '✗'} `, serverText(r.detail));
    out.className = r.ok ? 'ok' : 'bad';
  } catch (err) {
    out.replaceChildren(`${id}: ✗ `, serverText(err.message));
    out.className = 'bad';
  }
}

async function loadJournal() {
  const form = new FormData($('journal-filter'));
  const q = new URLSearchParams();
  for (const [k, v] of form) if (v) q.set(k, v);
  const j = await api(`/api/journal?${q}`);
  redraw(
    panels.entry,
    $('journal'),
    j.entries.map((e) =>
      keyed(
        row([e.id, localTime(e.receivedAt), e.source, e.stream, e.kind, e.idempotencyKey], () => showEntry(e.id)),
        e.id,
      ),
    ),
  );
}

async function showEntry(id) {
  const [e, { targets }] = await Promise.all([api(`/api/journal/${id}`), api(`/api/journal/${id}/targets`)]);
  $('entry-id').textContent = `#${e.id} ${e.source} ${e.kind}`;
  $('entry-raw').textContent = e.scrubbed ? t('scrubbed') : (e.raw?.text ?? (e.blob ? t('blob', { hash: e.blob.hash, size: e.blob.size }) : ''));
  $('entry-parsed').textContent = JSON.stringify(e.parsed, null, 2);
  $('entry-resend').replaceChildren(
    ...(targets.length
      ? targets.map(({ destination: d }) =>
          button(`${t('sendAgain')} ${d}`, async () => {
            const r = await api(`/api/journal/${e.id}/resend`, { method: 'POST', body: { destination: d } });
            $('entry-resend-result').replaceChildren(`${d}: `, serverText(r.outcome));
            await showEntry(e.id);
          }),
        )
      : [el('span', { className: 'muted', textContent: t('noTargets', { stream: e.stream }) })]),
  );
  $('entry-outbox').replaceChildren(
    ...(e.outbox.length ? [] : [t('none')]),
    ...e.outbox.map((o) =>
      el(
        'div',
        {},
        `${o.destination}: ${stateText(o.state)} (${o.attempts} ${t('attempts')})`,
        ...(o.lastError || o.deadLetterReason ? [' — ', serverText(o.deadLetterReason ?? o.lastError)] : []),
      ),
    ),
  );
  showBeneath(panels.entry, $('journal'), e.id);
  $('entry').scrollIntoView({ block: 'nearest' });
}

async function loadOutbox() {
  const o = await api('/api/outbox');
  $('outbox').replaceChildren(
    ...o.destinations.map((d) =>
      row([
        d.destination,
        d.pending,
        d.parked,
        d.delivered,
        d.oldestPendingMs ? `${Math.round(d.oldestPendingMs / 1000)} s` : '',
        serverText(d.lastError ?? ''),
        button(t('retryNow'), () => api(`/api/outbox/${encodeURIComponent(d.destination)}/retry`, { method: 'POST', body: {} })),
      ]),
    ),
  );
  const parked = [];
  for (const d of o.destinations.filter((x) => x.parked > 0)) {
    const items = await api(`/api/outbox/${encodeURIComponent(d.destination)}/items?state=parked`);
    parked.push(...items.items);
  }
  $('parked').replaceChildren(
    ...parked.map((p) =>
      row([
        p.outboxId,
        p.destination,
        p.idempotencyKey,
        serverText(p.deadLetterReason ?? ''),
        button(t('requeue'), () => api(`/api/outbox/items/${p.outboxId}/requeue`, { method: 'POST', body: {} })),
      ]),
    ),
  );
}

const STATE_TEXT = { pending: 'pending', parked: 'parked', delivered: 'delivered', done: 'delivered', none: 'none' };
const stateText = (state) => t(STATE_TEXT[state] ?? state);
/** DICOM person names separate their parts with ^ (family^given^middle). */
const personName = (pn) => (pn ?? '').replace(/\^+/g, ' ').trim();
const dicomDate = (d) => (d && /^\d{8}$/.test(d) ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}` : (d ?? ''));
const dicomTime = (tm) => (tm && /^\d{4}/.test(tm) ? `${tm.slice(0, 2)}:${tm.slice(2, 4)}` : '');

async function loadStudies() {
  const form = new FormData($('studies-filter'));
  const q = new URLSearchParams({ limit: '100' });
  for (const [k, v] of form) if (v) q.set(k, v);
  const r = await api(`/api/studies?${q}`);
  redraw(
    panels.study,
    $('studies'),
    r.studies.map((s) => {
      const f = s.forwarding;
      const state = el('span', {
        textContent: `${stateText(s.state)} (${f.done}/${f.pending + f.done + f.parked})`,
        className: s.state === 'parked' ? 'bad' : s.state === 'delivered' ? 'ok' : '',
      });
      const date = [dicomDate(s.studyDate), dicomTime(s.studyTime)].filter(Boolean).join(' ');
      return keyed(
        row(
          [
            date,
            s.patientId,
            personName(s.patientName),
            s.accessionNumber,
            s.modalities.join(' '),
            `${s.instanceCount}${s.conflicts ? ` ⚠ ${s.conflicts}` : ''}`,
            state,
          ],
          () => showStudy(s.studyUid),
        ),
        s.studyUid,
      );
    }),
  );
}

/** The order cache as analyzers' host queries and the modality worklist see it. */
async function loadOrders() {
  const q = new URLSearchParams({ limit: '100' });
  const text = new FormData($('orders-filter')).get('q');
  if (text) q.set('q', text);
  const r = await api(`/api/orders?${q}`);
  $('orders-total').textContent = `${r.orders.length} ${t('ofTotal')} ${r.total}`;
  $('orders').replaceChildren(
    ...r.orders.map(({ order: o, updatedAt }) => {
      const items = (o.items ?? o.tests.map((code) => ({ code })))
        .map((i) => `${i.code}${i.name ? ` ${i.name}` : ''}${i.modality ? ` (${i.modality})` : ''}`)
        .join('\n');
      const s = o.scheduled ?? {};
      const when = [s.at ? localTime(s.at) : '', s.stationAeTitle, s.stationName, s.location].filter(Boolean).join(' · ');
      const itemCell = el('span', { textContent: items, className: 'pre-line' });
      // Withdrawn by a cancel (HL7 or the HIS): still listed, no longer offered to analyzers or the worklist.
      const c = o.cancelled;
      const cancelled = c
        ? el('span', {
            className: 'pre-line bad',
            textContent: `${o.tests.length === 0 ? t(c.unknownOrder ? 'orderCancelUnknown' : 'orderCancelledAll') : t('orderCancelledItems')} ${localTime(c.at)}\n${c.items.map((i) => i.code).join(', ')}`,
          })
        : null;
      const itemsCol = cancelled ? el('span', {}, itemCell, cancelled) : itemCell;
      return row([localTime(updatedAt), o.specimenId, o.patientId ?? '', personName(o.patientName), itemsCol, when]);
    }),
  );
}

/** Lab results as the analyzer sent them: value text, flags and comments as sent, and where each went. */
async function loadResults() {
  const q = new URLSearchParams({ limit: '200' });
  for (const [k, v] of new FormData($('results-filter'))) if (v) q.set(k, v);
  const r = await api(`/api/results?${q}`);
  const lines = (texts) => el('span', { textContent: texts.join('\n'), className: 'pre-line' });
  $('results').replaceChildren(
    ...r.results.map(({ result: x, receivedAt, device, destinations }) => {
      const value = `${x.valueText ?? ''}${x.units ? ` ${x.units}` : ''}${x.notMeasured ? ` (${t('notMeasured')})` : ''}`;
      const test = [x.testName, x.deviceTestCode !== x.testName ? x.deviceTestCode : '', x.subId ? `#${x.subId}` : ''].filter(Boolean).join(' ');
      const fwd = lines(destinations.length ? destinations.map(destinationText) : [t('none')]);
      return row([
        localTime(receivedAt),
        device,
        x.specimenId,
        test,
        value,
        (x.flags ?? []).join(' '),
        x.referenceRange ?? '',
        x.status ?? '',
        lines(x.comments ?? []),
        fwd,
      ]);
    }),
  );
}

/** One line per destination: its outbox state, and the PACS's storage commitment when requested. */
function destinationText(d) {
  const c = d.commitment
    ? ` · ${t({ committed: 'committed', pending: 'commitPending', failed: 'commitFailed' }[d.commitment.state])}${d.commitment.reason ? ` (${d.commitment.reason})` : ''}`
    : '';
  const why = d.deadLetterReason ?? d.lastError;
  return `${d.destination}: ${stateText(d.state)}${d.attempts ? ` ×${d.attempts}` : ''}${why ? ` — ${lang === 'en' ? why : viText(why)}` : ''}${c}`;
}

async function showStudy(uid) {
  const v = await api(`/api/studies/${encodeURIComponent(uid)}`);
  $('study-title').textContent = [
    `${personName(v.study.patientName)} ${v.study.patientId ?? ''}`.trim(),
    dicomDate(v.study.studyDate),
    v.study.description,
    uid,
  ]
    .filter(Boolean)
    .join(' · ');
  const rows = [];
  for (const se of v.series) {
    for (const i of se.instances) {
      const fwd = el('span', { textContent: i.destinations.length ? i.destinations.map(destinationText).join('\n') : t('none'), className: 'pre-line' });
      const number = `${i.instanceNumber ?? ''}${i.conflict ? ` ⚠ ${t('conflict')}` : ''}`;
      rows.push(
        row([
          `${se.modality ?? ''} ${se.seriesNumber ?? ''} ${se.description ?? ''}`.trim(),
          number,
          `${Math.round(i.size / 1024)} KB`,
          i.sourceAe,
          localTime(i.receivedAt),
          fwd,
        ]),
      );
    }
  }
  $('study-instances').replaceChildren(...rows);
  showBeneath(panels.study, $('studies'), uid);
  $('study').scrollIntoView({ block: 'nearest' });
}

/** Who logged in, changed the configuration, restarted, resent or requeued: from where and when. */
async function loadAudit() {
  const r = await api('/api/audit?limit=200');
  const pairs = (o) =>
    Object.entries(o ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
  $('audit').replaceChildren(
    ...r.entries.map((e) => {
      const outcome = el('span', { textContent: `${t(`out_${e.outcome}`)}${e.status ? ` (${e.status})` : ''}`, className: e.outcome === 'ok' ? 'ok' : 'bad' });
      const action = el(
        'span',
        { textContent: e.action, title: t(`act_${e.action}`) },
        el('span', { className: 'muted', textContent: ` · ${t(`act_${e.action}`)}` }),
      );
      return row([
        localTime(e.at),
        `${e.actor}${e.role ? ` (${e.role})` : ''}`,
        e.ip,
        action,
        [pairs(e.target), pairs(e.detail)].filter(Boolean).join(' · '),
        outcome,
      ]);
    }),
  );
}

/** The last log lines (GET /api/logs), filtered; the origin list follows what the box has logged. */
async function loadLogs(auto = false) {
  const form = new FormData($('logs-filter'));
  if (auto && !form.get('auto')) return;
  const q = new URLSearchParams();
  for (const k of ['level', 'origin', 'q', 'limit']) if (form.get(k)) q.set(k, form.get(k));
  const r = await api(`/api/logs?${q}`);
  const select = $('logs-filter').elements.origin;
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '', textContent: t('anyOrigin') }), ...r.origins.map((o) => el('option', { value: o, textContent: o })));
  select.value = r.origins.includes(chosen) ? chosen : '';
  $('logs-held').textContent = t('logsHeld', { shown: r.lines.length, capacity: r.capacity, held: r.held });
  $('logs').replaceChildren(
    ...r.lines.map((l) => {
      const tr = row([
        localTime(l.time),
        el('span', { className: `lvl lvl-${l.level}`, textContent: t(`lvl_${l.level}`) }),
        l.origin ?? '',
        l.msg,
        el('span', { className: 'fields', textContent: Object.keys(l.fields).length ? JSON.stringify(l.fields) : '' }),
      ]);
      tr.className = `lvl-row-${l.level}`;
      return tr;
    }),
  );
}

/** Messages per device, outbox depth per destination (the last day) and today's queue waiting times. */
async function loadCharts() {
  const bucketMinutes = $('charts-filter').elements.bucketMinutes.value;
  const [received, outbox] = await Promise.all([
    api(`/api/charts/received?hours=24&bucketMinutes=${bucketMinutes}`),
    api(`/api/charts/outbox?hours=24&bucketMinutes=${bucketMinutes}`),
  ]);
  const timeLabels = (c) => c.series[0]?.values.map((_v, i) => boxClock(c.fromMs + i * c.bucketMinutes * 60_000, lang)) ?? [];
  drawChart($('chart-received'), { labels: timeLabels(received), series: received.series, kind: 'bar', title: t('receivedChart'), emptyText: t('noData') });
  drawChart($('chart-outbox'), { labels: timeLabels(outbox), series: outbox.series, kind: 'line', title: t('outboxChart'), emptyText: t('noData') });
  let stats = null;
  try {
    stats = await api('/api/queue/stats');
  } catch (err) {
    if (err.status !== 404) throw err;
  }
  if (!stats) {
    $('chart-queue').replaceChildren(el('p', { className: 'muted', textContent: t('noQueue') }));
    $('queue-stats').replaceChildren();
    return;
  }
  const hours = stats.rows.filter((r) => r.dimension === 'hour');
  drawChart($('chart-queue'), {
    labels: hours.map((r) => `${r.key}:00`),
    series: [
      { name: t('avgWait'), values: hours.map((r) => r.avgWaitMin) },
      { name: t('p90Wait'), values: hours.map((r) => r.p90WaitMin) },
    ],
    kind: 'bar',
    valueText: (v) => `${Math.round(v * 10) / 10}`,
    title: t('queueChart'),
    emptyText: t('noData'),
  });
  const num = (v) => (v === null || v === undefined ? '–' : String(Math.round(v * 10) / 10));
  $('queue-stats').replaceChildren(
    ...stats.rows
      .filter((r) => r.dimension === 'service' || r.dimension === 'all')
      .map((r) =>
        row([
          r.dimension === 'all' ? t('allLevels') : r.key,
          r.issued,
          r.called,
          r.served,
          r.noShows,
          `${Math.round(r.noShowRate * 100)} %`,
          num(r.avgWaitMin),
          num(r.p90WaitMin),
        ]),
      ),
  );
}

let editor = null;
async function loadConfig() {
  const c = await api('/api/config');
  $('config-file').textContent = c.file;
  if (!$('config-text').dataset.dirty) $('config-text').value = c.text;
  editor.refresh();
}

/** Problems as "line, column · field: message" in the page's language; a click goes to the line. */
function showProblems(problems, okText) {
  const parsed = problems.map((p) => ({ text: p, at: parseProblem(p) }));
  editor.mark(parsed.filter((p) => p.at).map((p) => p.at.line));
  $('config-summary').textContent = problems.length ? t('problems', { n: problems.length }) : '';
  $('config-problems').replaceChildren(
    ...(problems.length
      ? parsed.map(({ text, at }) => {
          if (!at) return el('li', { className: 'bad' }, serverText(text));
          const message = lang === 'en' ? at.message : viProblemMessage(at.message);
          const link = el(
            'button',
            { type: 'button', className: 'problem', title: text },
            el('strong', { textContent: t('problemAt', at) }),
            ` · ${at.field ? `${at.field}: ` : ''}${message}`,
          );
          link.addEventListener('click', () => editor.goTo(at.line, at.column));
          return el('li', { className: 'bad' }, link);
        })
      : [el('li', { className: 'ok', textContent: okText })]),
  );
}

let tab = 'devices';
const loaders = {
  devices: loadDevices,
  journal: loadJournal,
  outbox: loadOutbox,
  results: loadResults,
  studies: loadStudies,
  orders: loadOrders,
  logs: loadLogs,
  charts: loadCharts,
  audit: loadAudit,
  config: loadConfig,
};
async function refresh(auto = false) {
  background = auto;
  try {
    await loaders[tab](auto);
  } catch (err) {
    if (err.status === 403) showLogin(err.message);
    else if (err.message !== 'login required') console.error(err);
  } finally {
    background = false;
  }
}

function selectTab(name) {
  tab = name;
  for (const b of $$('[role=tab]')) b.setAttribute('aria-selected', String(b.dataset.tab === name));
  for (const s of $$('[role=tabpanel]')) s.hidden = s.id !== `tab-${name}`;
  refresh();
}

function showLogin(message = '') {
  $('login').hidden = false;
  $('app').hidden = true;
  $('logout').hidden = true;
  $('login-error').textContent = message;
}

async function showApp() {
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  $('staff-only').hidden = true;
  try {
    await loadBox();
  } catch (err) {
    if (err.message !== 'login required') console.error(err);
  }
  selectTab(tab);
}

/** A staff account is refused by every console route: say so instead of failing tab by tab. */
function showStaffOnly() {
  showLogin();
  $('staff-only').hidden = false;
}

/** HTTPS or not, and the box CA's fingerprint for staff PCs to check before they trust it. */
async function showTransport() {
  try {
    const r = await boxApi('/api/tls');
    $('transport').hidden = false;
    $('transport-text').textContent = r.https ? t('caFingerprint') : t('plainHttp');
    $('ca-fingerprint').textContent = r.caFingerprint ?? '';
    $('ca-fingerprint').hidden = !r.caFingerprint;
  } catch {
    $('transport').hidden = true;
  }
}

login($('login'), {
  error: $('login-error'),
  wrongText: () => t('wrongLogin'),
  onSubmit: () => ($('staff-only').hidden = true),
  onLogin: (who) => (who.role === 'admin' ? showApp() : showStaffOnly()),
});
$('logout').addEventListener('click', async () => {
  await logout();
  showLogin();
});
$('lang').addEventListener('click', () => {
  lang = lang === 'en' ? 'vi' : 'en';
  localStorage.setItem('console-lang', lang);
  applyLanguage();
  showTransport();
  if (!$('app').hidden && tab !== 'config') refresh();
});
for (const b of $$('[role=tab]')) b.addEventListener('click', () => selectTab(b.dataset.tab));
for (const [form, load] of [
  ['journal-filter', loadJournal],
  ['studies-filter', loadStudies],
  ['results-filter', loadResults],
  ['orders-filter', loadOrders],
  ['logs-filter', loadLogs],
]) {
  $(form).addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
}
$('logs-filter').addEventListener('change', (e) => e.target.name !== 'q' && e.target.name !== 'auto' && loadLogs());
$('charts-filter').addEventListener('change', () => loadCharts());
$('entry-close').addEventListener('click', () => closePanel(panels.entry));
$('study-close').addEventListener('click', () => closePanel(panels.study));
editor = lineEditor($('config-text'));
$('config-text').addEventListener('input', (e) => (e.target.dataset.dirty = '1'));
$('config-validate').addEventListener('click', async () => {
  const r = await api('/api/config/validate', { method: 'POST', body: { text: $('config-text').value } });
  showProblems(r.problems, t('valid'));
});
$('config-save').addEventListener('click', async () => {
  try {
    await api('/api/config', { method: 'PUT', body: { text: $('config-text').value } });
    delete $('config-text').dataset.dirty;
    showProblems([], t('saved'));
  } catch (err) {
    showProblems(err.body?.problems ?? [err.message], '');
  }
});
$('restart').addEventListener('click', async () => {
  await api('/api/restart', { method: 'POST', body: {} });
  showProblems([], t('restarting'));
});

applyLanguage();
showTransport();
// Charts change slowly: once a minute; the other tabs every 5 s (the configuration never: it is being edited).
let ticks = 0;
setInterval(() => {
  ticks++;
  if ($('app').hidden || tab === 'config' || (tab === 'charts' && ticks % 12 !== 0)) return;
  refresh(true);
}, 5000);
// Start on the login form unless the session cookie is still valid (and an admin's).
boxApi('/api/devices', { headers: { 'x-edge-background': '1' } }).then(
  () => showApp(),
  (err) => (err.status === 403 ? showStaffOnly() : showLogin()),
);

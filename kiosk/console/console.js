// The IT console: plain JavaScript over the agent's local API (no framework, no build step).
'use strict';

const EN = {
  title: 'Console', logout: 'Log out', login: 'Log in', user: 'User name', password: 'Password', signin: 'Log in',
  devices: 'Devices', journal: 'Journal', outbox: 'Outbox', config: 'Configuration', type: 'Type', state: 'State',
  detail: 'Detail', restarts: 'Restarts', destinations: 'Destinations', delivered: 'Delivered', lastError: 'Last error',
  diagnostics: 'Download a diagnostics bundle (no personal data)', source: 'Device', stream: 'Stream', search: 'Search',
  time: 'Time', kind: 'Kind', key: 'Key', entry: 'Entry', raw: 'Raw bytes', parsed: 'Parsed', forwarding: 'Forwarding',
  destination: 'Destination', pending: 'Pending', parked: 'Dead letter', oldest: 'Oldest waiting', parkedItems: 'Dead letter (refused)',
  reason: 'Reason', validate: 'Validate', save: 'Save', restart: 'Restart the agent', retryNow: 'Retry now', requeue: 'Requeue',
  valid: 'The configuration is valid.', saved: 'Saved (previous file kept as .bak). Restart the agent to apply it.',
  wrongLogin: 'Wrong user name or password.', restarting: 'Restarting…',
  test: 'Test', testing: 'Testing… (a card reader waits up to 25 s for a card)', sendAgain: 'Send again to',
  studies: 'Studies (DICOM)', patientId: 'Patient ID', patientName: 'Name', studyDate: 'Study date', accession: 'Accession no.',
  modality: 'Modality', instances: 'Images', series: 'Series', size: 'Size', conflict: 'same UID, different bytes',
  committed: 'committed', commitPending: 'commitment awaited', commitFailed: 'commitment failed', none: 'not routed',
  clockSkew: 'device clock differs from the box',
  orders: 'Orders', orderSearch: 'Specimen, accession or patient ID starts with', received: 'Received',
  specimen: 'Specimen / accession no.', items: 'Ordered items', scheduled: 'Scheduled (station)', ofTotal: 'shown of',
  results: 'Lab results', resultSearch: 'Specimen (barcode)', test: 'Test', value: 'Value', flags: 'Flags', range: 'Reference range',
  status: 'Status', comments: 'Comments', notMeasured: 'not measured',
  audit: 'Audit', who: 'Who', from: 'From', action: 'Action', target: 'On', outcome: 'Outcome',
  staffOnly: 'This account is a staff account: it may use the counter page only, not the console.', openCounter: 'Open the counter page',
  caFingerprint: 'Box CA fingerprint (SHA-256) — compare it with the one IT gave you before trusting the certificate:',
  plainHttp: 'This connection is not encrypted (HTTP).', sessionEnded: 'Your login has ended; log in again.',
};
const VI = {
  title: 'Bảng điều khiển', logout: 'Đăng xuất', login: 'Đăng nhập', user: 'Tên đăng nhập', password: 'Mật khẩu', signin: 'Đăng nhập',
  devices: 'Thiết bị', journal: 'Nhật ký', outbox: 'Hàng đợi gửi', config: 'Cấu hình', type: 'Loại', state: 'Trạng thái',
  detail: 'Chi tiết', restarts: 'Khởi động lại', destinations: 'Đích gửi', delivered: 'Đã gửi', lastError: 'Lỗi gần nhất',
  diagnostics: 'Tải gói chẩn đoán (không có dữ liệu cá nhân)', source: 'Thiết bị', stream: 'Luồng', search: 'Tìm',
  time: 'Thời gian', kind: 'Loại', key: 'Khoá', entry: 'Bản ghi', raw: 'Dữ liệu gốc', parsed: 'Đã phân tích', forwarding: 'Chuyển tiếp',
  destination: 'Đích', pending: 'Chờ gửi', parked: 'Thư chết', oldest: 'Chờ lâu nhất', parkedItems: 'Thư chết (bị từ chối)',
  reason: 'Lý do', validate: 'Kiểm tra', save: 'Lưu', restart: 'Khởi động lại agent', retryNow: 'Gửi lại ngay', requeue: 'Đưa lại vào hàng đợi',
  valid: 'Cấu hình hợp lệ.', saved: 'Đã lưu (bản cũ giữ ở .bak). Khởi động lại agent để áp dụng.',
  wrongLogin: 'Sai tên đăng nhập hoặc mật khẩu.', restarting: 'Đang khởi động lại…',
  test: 'Kiểm tra', testing: 'Đang kiểm tra… (đầu đọc thẻ chờ tối đa 25 giây để đặt thẻ)', sendAgain: 'Gửi lại tới',
  studies: 'Ca chụp (DICOM)', patientId: 'Mã bệnh nhân', patientName: 'Họ tên', studyDate: 'Ngày chụp', accession: 'Số phiếu chỉ định',
  modality: 'Máy', instances: 'Ảnh', series: 'Loạt', size: 'Kích thước', conflict: 'trùng UID, khác nội dung',
  committed: 'PACS đã cam kết lưu', commitPending: 'chờ PACS cam kết', commitFailed: 'PACS không cam kết', none: 'không chuyển',
  clockSkew: 'đồng hồ máy lệch so với hộp',
  orders: 'Chỉ định', orderSearch: 'Mã mẫu, số phiếu hoặc mã bệnh nhân bắt đầu bằng', received: 'Nhận lúc',
  specimen: 'Mã mẫu / số phiếu', items: 'Dịch vụ chỉ định', scheduled: 'Lịch chụp (máy)', ofTotal: 'đang hiện trên tổng số',
  results: 'Kết quả xét nghiệm', resultSearch: 'Mã mẫu (mã vạch)', test: 'Xét nghiệm', value: 'Kết quả', flags: 'Cờ', range: 'Khoảng tham chiếu',
  status: 'Trạng thái KQ', comments: 'Ghi chú của máy', notMeasured: 'không đo được',
  audit: 'Nhật ký truy cập', who: 'Ai', from: 'Từ máy', action: 'Thao tác', target: 'Đối tượng', outcome: 'Kết quả',
  staffOnly: 'Tài khoản này là tài khoản nhân viên: chỉ dùng được trang quầy, không dùng được bảng điều khiển.', openCounter: 'Mở trang quầy',
  caFingerprint: 'Dấu vân tay CA của hộp (SHA-256) — so sánh với dấu do bộ phận CNTT cung cấp trước khi tin cậy chứng chỉ:',
  plainHttp: 'Kết nối này không được mã hoá (HTTP).', sessionEnded: 'Phiên đăng nhập đã hết; vui lòng đăng nhập lại.',
};
let lang = localStorage.getItem('console-lang') === 'en' ? 'en' : 'vi';
const t = (key) => (lang === 'en' ? EN : VI)[key] ?? key;
const $ = (id) => document.getElementById(id);

function applyLanguage() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  $('lang').textContent = lang === 'en' ? 'Tiếng Việt' : 'English';
}

/** True while the page refreshes itself: those requests do not keep an idle login alive. */
let background = false;

async function api(path, options = {}) {
  const res = await fetch(path, { ...options, headers: { 'content-type': 'application/json', ...(background ? { 'x-edge-background': '1' } : {}), ...(options.headers ?? {}) } });
  if (res.status === 401) {
    showLogin(t('sessionEnded'));
    throw new Error('login required');
  }
  const body = res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text();
  if (!res.ok) throw Object.assign(new Error(body.error ?? String(res.status)), { body, status: res.status });
  return body;
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
  const span = document.createElement('span');
  span.textContent = state;
  span.className = state === 'running' ? 'ok' : 'bad';
  return span;
}

function button(label, action) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.addEventListener('click', async (e) => {
    e.stopPropagation();
    await action();
    await refresh();
  });
  return b;
}

async function loadDevices() {
  const d = await api('/api/devices');
  $('box').textContent = `${d.box.facility} / ${d.box.id}`;
  $('devices').replaceChildren(...d.devices.map((x) => row([x.id, x.type, stateCell(x.status.state), detailCell(x), x.restarts, button(t('test'), () => testDevice(x.id))])));
  destinationIds = d.destinations.map((x) => x.id);
  $('destinations').replaceChildren(...d.destinations.map((x) => row([x.id, x.type, stateCell(x.status.state), x.stats.delivered, x.stats.lastError])));
}

let destinationIds = [];

/** The device's status detail, with its active alarms (clock skew…) first. */
function detailCell(device) {
  const cell = document.createElement('span');
  for (const a of device.alarms ?? []) {
    const text = a.name === 'clock-skew' ? `${t('clockSkew')}: ${a.skewSeconds > 0 ? '+' : ''}${a.skewSeconds} s (> ${a.thresholdSeconds} s)` : a.name;
    cell.append(Object.assign(document.createElement('div'), { className: 'bad', textContent: `⚠ ${text}` }));
  }
  cell.append(device.status.detail ?? device.status.lastError ?? '');
  return cell;
}

/** The device's own test (listening check, test ticket, card read); the answer stays on screen. */
async function testDevice(id) {
  const out = $('device-test');
  out.className = '';
  out.textContent = `${id}: ${t('testing')}`;
  try {
    const r = await api(`/api/devices/${encodeURIComponent(id)}/test`, { method: 'POST', body: '{}' });
    out.textContent = `${id}: ${r.ok ? '✓' : '✗'} ${r.detail}`;
    out.className = r.ok ? 'ok' : 'bad';
  } catch (err) {
    out.textContent = `${id}: ✗ ${err.message}`;
    out.className = 'bad';
  }
}

async function loadJournal() {
  const form = new FormData($('journal-filter'));
  const q = new URLSearchParams();
  for (const [k, v] of form) if (v) q.set(k, v);
  const j = await api(`/api/journal?${q}`);
  $('journal').replaceChildren(...j.entries.map((e) => row([e.id, e.receivedAt, e.source, e.stream, e.kind, e.idempotencyKey], () => showEntry(e.id))));
}

async function showEntry(id) {
  const e = await api(`/api/journal/${id}`);
  $('entry').hidden = false;
  $('entry-id').textContent = `#${e.id} ${e.source} ${e.kind}`;
  $('entry-raw').textContent = e.scrubbed ? '(scrubbed after the personal-data retention)' : e.raw?.text ?? (e.blob ? `blob ${e.blob.hash} (${e.blob.size} bytes)` : '');
  $('entry-parsed').textContent = JSON.stringify(e.parsed, null, 2);
  $('entry-resend').replaceChildren(
    ...destinationIds.map((d) =>
      button(`${t('sendAgain')} ${d}`, async () => {
        const r = await api(`/api/journal/${e.id}/resend`, { method: 'POST', body: JSON.stringify({ destination: d }) });
        $('entry-resend-result').textContent = `${d}: ${r.outcome}`;
        await showEntry(e.id);
      }),
    ),
  );
  $('entry-outbox').textContent = e.outbox.map((o) => `${o.destination}: ${o.state} (${o.attempts} attempts)${o.lastError ? ` — ${o.lastError}` : ''}${o.deadLetterReason ? ` — ${o.deadLetterReason}` : ''}`).join('\n');
}

async function loadOutbox() {
  const o = await api('/api/outbox');
  $('outbox').replaceChildren(
    ...o.destinations.map((d) =>
      row([d.destination, d.pending, d.parked, d.delivered, d.oldestPendingMs ? `${Math.round(d.oldestPendingMs / 1000)} s` : '', d.lastError, button(t('retryNow'), () => api(`/api/outbox/${encodeURIComponent(d.destination)}/retry`, { method: 'POST', body: '{}' }))]),
    ),
  );
  const parked = [];
  for (const d of o.destinations.filter((x) => x.parked > 0)) {
    const items = await api(`/api/outbox/${encodeURIComponent(d.destination)}/items?state=parked`);
    parked.push(...items.items);
  }
  $('parked').replaceChildren(...parked.map((p) => row([p.outboxId, p.destination, p.idempotencyKey, p.deadLetterReason, button(t('requeue'), () => api(`/api/outbox/items/${p.outboxId}/requeue`, { method: 'POST', body: '{}' }))])));
}

const STATE_TEXT = { pending: 'pending', parked: 'parked', delivered: 'delivered', done: 'delivered', none: 'none' };
const stateText = (state) => t(STATE_TEXT[state] ?? state);
/** DICOM person names separate their parts with ^ (family^given^middle). */
const personName = (pn) => (pn ?? '').replace(/\^+/g, ' ').trim();
const localTime = (iso) => (iso ? new Date(iso).toLocaleString(lang === 'en' ? 'en-GB' : 'vi-VN') : '');
const dicomDate = (d) => (d && /^\d{8}$/.test(d) ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}` : d ?? '');

async function loadStudies() {
  const form = new FormData($('studies-filter'));
  const q = new URLSearchParams({ limit: '100' });
  for (const [k, v] of form) if (v) q.set(k, v);
  const r = await api(`/api/studies?${q}`);
  $('studies').replaceChildren(
    ...r.studies.map((s) => {
      const f = s.forwarding;
      const state = Object.assign(document.createElement('span'), { textContent: `${stateText(s.state)} (${f.done}/${f.pending + f.done + f.parked})`, className: s.state === 'parked' ? 'bad' : s.state === 'delivered' ? 'ok' : '' });
      return row([dicomDate(s.studyDate), s.patientId, personName(s.patientName), s.accessionNumber, s.modalities.join(' '), `${s.instanceCount}${s.conflicts ? ` ⚠ ${s.conflicts}` : ''}`, state], () => showStudy(s.studyUid));
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
      const items = (o.items ?? o.tests.map((code) => ({ code }))).map((i) => `${i.code}${i.name ? ` ${i.name}` : ''}${i.modality ? ` (${i.modality})` : ''}`).join('\n');
      const s = o.scheduled ?? {};
      const when = [s.at ? localTime(s.at) : '', s.stationAeTitle, s.stationName, s.location].filter(Boolean).join(' · ');
      const itemCell = Object.assign(document.createElement('span'), { textContent: items, className: 'pre-line' });
      return row([localTime(updatedAt), o.specimenId, o.patientId ?? '', personName(o.patientName), itemCell, when]);
    }),
  );
}

/** Lab results as the analyzer sent them: value text, flags and comments as sent, and where each went. */
async function loadResults() {
  const q = new URLSearchParams({ limit: '200' });
  for (const [k, v] of new FormData($('results-filter'))) if (v) q.set(k, v);
  const r = await api(`/api/results?${q}`);
  const lines = (texts) => Object.assign(document.createElement('span'), { textContent: texts.join('\n'), className: 'pre-line' });
  $('results').replaceChildren(
    ...r.results.map(({ result: x, receivedAt, device, destinations }) => {
      const value = `${x.valueText ?? ''}${x.units ? ` ${x.units}` : ''}${x.notMeasured ? ` (${t('notMeasured')})` : ''}`;
      const test = [x.testName, x.deviceTestCode !== x.testName ? x.deviceTestCode : '', x.subId ? `#${x.subId}` : ''].filter(Boolean).join(' ');
      const fwd = lines(destinations.length ? destinations.map(destinationText) : [t('none')]);
      return row([localTime(receivedAt), device, x.specimenId, test, value, (x.flags ?? []).join(' '), x.referenceRange ?? '', x.status ?? '', lines(x.comments ?? []), fwd]);
    }),
  );
}

/** One line per destination: its outbox state, and the PACS's storage commitment when requested. */
function destinationText(d) {
  const c = d.commitment ? ` · ${t({ committed: 'committed', pending: 'commitPending', failed: 'commitFailed' }[d.commitment.state])}${d.commitment.reason ? ` (${d.commitment.reason})` : ''}` : '';
  const why = d.deadLetterReason ?? d.lastError;
  return `${d.destination}: ${stateText(d.state)}${d.attempts ? ` ×${d.attempts}` : ''}${why ? ` — ${why}` : ''}${c}`;
}

async function showStudy(uid) {
  const v = await api(`/api/studies/${encodeURIComponent(uid)}`);
  $('study').hidden = false;
  $('study-title').textContent = `${personName(v.study.patientName)} ${v.study.patientId ?? ''} · ${dicomDate(v.study.studyDate)} · ${v.study.description ?? ''} · ${uid}`;
  const rows = [];
  for (const se of v.series) {
    for (const i of se.instances) {
      const fwd = Object.assign(document.createElement('span'), { textContent: i.destinations.length ? i.destinations.map(destinationText).join('\n') : t('none'), className: 'pre-line' });
      const number = `${i.instanceNumber ?? ''}${i.conflict ? ` ⚠ ${t('conflict')}` : ''}`;
      rows.push(row([`${se.modality ?? ''} ${se.seriesNumber ?? ''} ${se.description ?? ''}`.trim(), number, `${Math.round(i.size / 1024)} KB`, i.sourceAe, localTime(i.receivedAt), fwd]));
    }
  }
  $('study-instances').replaceChildren(...rows);
}

/** Who logged in, changed the configuration, restarted, resent or requeued: from where and when. */
async function loadAudit() {
  const r = await api('/api/audit?limit=200');
  const pairs = (o) => Object.entries(o ?? {}).map(([k, v]) => `${k}=${v}`).join(' ');
  $('audit').replaceChildren(
    ...r.entries.map((e) => {
      const outcome = Object.assign(document.createElement('span'), { textContent: `${e.outcome}${e.status ? ` (${e.status})` : ''}`, className: e.outcome === 'ok' ? 'ok' : 'bad' });
      return row([localTime(e.at), `${e.actor}${e.role ? ` (${e.role})` : ''}`, e.ip, e.action, [pairs(e.target), pairs(e.detail)].filter(Boolean).join(' · '), outcome]);
    }),
  );
}

async function loadConfig() {
  const c = await api('/api/config');
  $('config-file').textContent = c.file;
  if (!$('config-text').dataset.dirty) $('config-text').value = c.text;
}

function showProblems(problems, okText) {
  const list = $('config-problems');
  list.replaceChildren(...(problems.length ? problems : [okText]).map((p) => Object.assign(document.createElement('li'), { textContent: p, className: problems.length ? 'bad' : 'ok' })));
}

let tab = 'devices';
const loaders = { devices: loadDevices, journal: loadJournal, outbox: loadOutbox, results: loadResults, studies: loadStudies, orders: loadOrders, audit: loadAudit, config: loadConfig };
async function refresh(auto = false) {
  background = auto;
  try {
    await loaders[tab]();
  } catch (err) {
    if (err.status === 403) showLogin(err.message);
    else if (err.message !== 'login required') console.error(err);
  } finally {
    background = false;
  }
}

function selectTab(name) {
  tab = name;
  for (const b of document.querySelectorAll('[role=tab]')) b.setAttribute('aria-selected', String(b.dataset.tab === name));
  for (const s of document.querySelectorAll('[role=tabpanel]')) s.hidden = s.id !== `tab-${name}`;
  refresh();
}

function showLogin(message = '') {
  $('login').hidden = false;
  $('app').hidden = true;
  $('logout').hidden = true;
  $('login-error').textContent = message;
}

function showApp() {
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  $('staff-only').hidden = true;
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
    const r = await (await fetch('/api/tls')).json();
    $('transport').hidden = false;
    $('transport-text').textContent = r.https ? t('caFingerprint') : t('plainHttp');
    $('ca-fingerprint').textContent = r.caFingerprint ?? '';
    $('ca-fingerprint').hidden = !r.caFingerprint;
  } catch {
    $('transport').hidden = true;
  }
}

$('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  $('staff-only').hidden = true;
  const res = await fetch('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: form.get('user'), password: form.get('password') }) });
  if (res.ok) {
    const who = await res.json();
    $('login-error').textContent = '';
    if (who.role === 'admin') showApp();
    else showStaffOnly();
  } else {
    $('login-error').textContent = res.status === 401 ? t('wrongLogin') : (await res.json()).error;
  }
});
$('logout').addEventListener('click', async () => {
  await fetch('/api/logout', { method: 'POST' });
  showLogin();
});
$('lang').addEventListener('click', () => {
  lang = lang === 'en' ? 'vi' : 'en';
  localStorage.setItem('console-lang', lang);
  applyLanguage();
  showTransport();
});
for (const b of document.querySelectorAll('[role=tab]')) b.addEventListener('click', () => selectTab(b.dataset.tab));
$('journal-filter').addEventListener('submit', (e) => {
  e.preventDefault();
  loadJournal();
});
$('studies-filter').addEventListener('submit', (e) => {
  e.preventDefault();
  loadStudies();
});
$('results-filter').addEventListener('submit', (e) => {
  e.preventDefault();
  loadResults();
});
$('orders-filter').addEventListener('submit', (e) => {
  e.preventDefault();
  loadOrders();
});
$('config-text').addEventListener('input', (e) => (e.target.dataset.dirty = '1'));
$('config-validate').addEventListener('click', async () => {
  const r = await api('/api/config/validate', { method: 'POST', body: JSON.stringify({ text: $('config-text').value }) });
  showProblems(r.problems, t('valid'));
});
$('config-save').addEventListener('click', async () => {
  try {
    await api('/api/config', { method: 'PUT', body: JSON.stringify({ text: $('config-text').value }) });
    delete $('config-text').dataset.dirty;
    showProblems([], t('saved'));
  } catch (err) {
    showProblems(err.body?.problems ?? [err.message], '');
  }
});
$('restart').addEventListener('click', async () => {
  await api('/api/restart', { method: 'POST', body: '{}' });
  showProblems([], t('restarting'));
});

applyLanguage();
showTransport();
setInterval(() => !$('app').hidden && tab !== 'config' && refresh(true), 5000);
// Start on the login form unless the session cookie is still valid (and an admin's).
fetch('/api/devices', { headers: { 'x-edge-background': '1' } }).then((r) => (r.ok ? showApp() : r.status === 403 ? showStaffOnly() : showLogin()), () => showLogin());

// Counter page for staff: pick the counter, call next, recall, serve, skip, finish, transfer,
// confirm a priority claim, reprint. The page has its own login (a staff account, limited to its
// counters); every action is recorded under that account. Live numbers come over the open
// WebSocket; the current ticket in full (priority class, who confirmed it) from a staff route.
import { $, api, liveSocket, login, logout } from '/lib/page.js';

const PRIORITY_VI = {
  emergency: 'Cấp cứu',
  under6: 'Trẻ dưới 6 tuổi',
  pregnant: 'Phụ nữ có thai',
  disability: 'Người khuyết tật nặng',
  age75: 'Người từ 75 tuổi',
  merit: 'Người có công với cách mạng',
};
let config = null;
let snapshot = null;
/** The logged-in account: { user, role, counters }. */
let me = null;
/** The current ticket of the chosen counter in full, from GET /api/queue/counters/:id. */
let detail = null;

function counterId() {
  return $('counter').value;
}
function say(text, kind = 'ok') {
  const m = $('message');
  m.textContent = text;
  m.className = kind;
  clearTimeout(say.t);
  say.t = setTimeout(() => ((m.className = ''), (m.textContent = '')), 5000);
}

class LoginRequired extends Error {}

/** The box's API; without a session (401) the login form comes back. */
async function call(path, init) {
  try {
    return await api(path, init);
  } catch (err) {
    if (err.status !== 401) throw err;
    showLogin();
    throw new LoginRequired('Cần đăng nhập');
  }
}

const post = (path, body = {}) => call(path, { method: 'POST', body });

function showLogin() {
  me = null;
  $('app').hidden = true;
  $('logout').hidden = true;
  $('whoami').textContent = '';
  $('login').hidden = false;
  $('login').elements.user.focus();
}

/** Who is logged in, and the counters the select offers (only the account's own). */
async function whoAmI() {
  me = await call('/api/queue/me');
  $('whoami').textContent = `Nhân viên: ${me.user}`;
  $('logout').hidden = false;
  const counters = config.counters.filter((c) => me.counters.includes(c.id));
  fillSelect(
    $('counter'),
    counters.map((c) => [c.id, c.name || `Quầy ${c.number}`]),
    localStorage.getItem('counter'),
  );
  $('login').hidden = true;
  $('app').hidden = false;
  await refreshDetail();
  await refreshPrinting();
}

login($('login'), {
  error: $('login-error'),
  wrongText: () => 'Sai tài khoản hoặc mật khẩu',
  onLogin: async () => {
    $('login').reset();
    await whoAmI().catch((err) => say(err.message, 'error'));
  },
});

$('logout').onclick = async () => {
  await logout();
  showLogin();
};

async function act(fn, okText) {
  try {
    const r = await fn();
    if (okText) say(typeof okText === 'function' ? okText(r) : okText);
    return r;
  } catch (err) {
    say(err.message, 'error');
    return null;
  }
}

function current() {
  return snapshot?.counters.find((c) => c.id === counterId())?.current ?? null;
}

/** The chosen counter's current ticket in full (the open feed carries numbers only). */
async function refreshDetail() {
  if (!me || !counterId()) return;
  const id = counterId();
  try {
    const r = await call(`/api/queue/counters/${encodeURIComponent(id)}`);
    if (id === counterId()) detail = r.current;
  } catch (err) {
    detail = null;
    if (!(err instanceof LoginRequired)) say(err.message, 'error');
  }
  render();
}

function render() {
  if (!snapshot || !config) return;
  const counter = config.counters.find((c) => c.id === counterId());
  const cur = current();
  const full = cur && detail?.id === cur.id ? detail : null;
  const svcName = (id) => config.services.find((s) => s.id === id)?.name ?? id;
  $('number').textContent = cur ? cur.number : '—';
  $('service').textContent = cur ? svcName(cur.service) : '';
  $('priority').textContent =
    full?.priority && full.priorityStatus !== 'rejected'
      ? `Ưu tiên: ${PRIORITY_VI[full.priority]}${full.priorityStatus === 'claimed' ? ' (chưa xác nhận)' : full.priorityConfirmedBy ? ` — xác nhận: ${full.priorityConfirmedBy}` : ''}`
      : '';
  $('claim').hidden = !(full && full.priorityStatus === 'claimed');
  for (const id of ['recall', 'skip', 'finish', 'reprint', 'transfer-go']) $(id).disabled = !cur;
  $('serve').disabled = cur?.state !== 'called';
  const mine = new Set(counter?.services ?? []);
  $('waiting').replaceChildren(
    ...snapshot.services
      .filter((s) => mine.has(s.service))
      .map((s) => {
        const li = document.createElement('li');
        li.textContent = `${s.name}: ${s.waiting} chờ (${s.waitingPriority} ưu tiên)`;
        return li;
      }),
  );
  $('recallable').replaceChildren(
    ...snapshot.recallable
      .filter((r) => mine.has(r.service))
      .map((r) => {
        const li = document.createElement('li');
        li.textContent = `${r.number} — ${svcName(r.service)}`;
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = 'Gọi lại';
        b.dataset.ticket = r.id;
        b.onclick = () =>
          act(
            () => post(`/api/queue/counters/${counterId()}/recall`, { ticket: r.id }),
            (x) => `Đã gọi lại số ${x.ticket.number}`,
          );
        li.append(b);
        return li;
      }),
  );
}

function fillSelect(sel, items, keep) {
  sel.replaceChildren(...items.map(([value, label]) => Object.assign(document.createElement('option'), { value, textContent: label })));
  if (keep && items.some(([v]) => v === keep)) sel.value = keep;
}

async function load() {
  const body = await api('/api/queue/state');
  config = body.config;
  snapshot = body.snapshot;
  fillSelect(
    $('t-service'),
    config.services.map((s) => [s.id, s.name]),
  );
  fillSelect($('t-counter'), [['', 'Bất kỳ'], ...config.counters.map((c) => [c.id, c.name || `Quầy ${c.number}`])]);
  render();
}

$('counter').onchange = () => {
  localStorage.setItem('counter', counterId());
  detail = null;
  render();
  void refreshDetail();
};
const counterAction = (action, okText) => () => act(() => post(`/api/queue/counters/${counterId()}/${action}`), okText).then(refreshDetail);
$('next').onclick = counterAction('next', (r) => `Mời số ${r.ticket.number}`);
$('recall').onclick = counterAction('recall', (r) => `Đã gọi lại số ${r.ticket.number}`);
$('serve').onclick = counterAction('serve', 'Bắt đầu phục vụ');
$('skip').onclick = counterAction('skip', (r) => `Số ${r.ticket.number} vắng mặt`);
$('finish').onclick = counterAction('finish', (r) => `Xong số ${r.ticket.number}`);
const reprint = (id) =>
  act(
    () => post(`/api/queue/tickets/${id}/reprint`, { counter: counterId() }),
    (r) => (r.print?.ok ? `Đã in lại phiếu ${r.print.ticketId}` : `Máy in lỗi: ${r.print?.error ?? ''}`),
  );
$('reprint').onclick = () => {
  const cur = current();
  if (cur) void reprint(cur.id);
};

// ---- printers and failed prints (a failed print never loses the ticket: reprint it here) ----
const PAPER = (p) => (p.status?.paperOut ? 'hết giấy' : p.status?.coverOpen ? 'nắp mở' : p.lastError ? `lỗi: ${p.lastError}` : 'sẵn sàng');
async function refreshPrinting() {
  if (!me) return;
  try {
    const [{ printers }, { prints }] = await Promise.all([call('/api/queue/printers'), call('/api/queue/prints?failed=true')]);
    $('printers').replaceChildren(
      ...printers.map((p) => {
        const li = document.createElement('li');
        li.dataset.printer = p.id;
        const state = PAPER(p);
        if (state !== 'sẵn sàng') li.className = 'bad';
        li.textContent = `${p.id}: ${state} — đã in ${p.printed}, lỗi ${p.failed}`;
        return li;
      }),
    );
    if (printers.length === 0) $('printers').replaceChildren(Object.assign(document.createElement('li'), { textContent: 'Chưa cấu hình máy in' }));
    $('failed-prints').replaceChildren(
      ...prints.map((p) => {
        const li = document.createElement('li');
        li.dataset.ticket = p.ticketId;
        li.textContent = `${p.number} — ${config?.services.find((s) => s.id === p.service)?.name ?? p.service} (${p.error ?? 'lỗi'})`;
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = 'In lại';
        b.onclick = () => reprint(p.ticketId);
        li.append(b);
        return li;
      }),
    );
  } catch (err) {
    if (!(err instanceof LoginRequired)) say(err.message, 'error');
  }
}
$('transfer-go').onclick = () => {
  const cur = current();
  if (!cur) return;
  const body = { service: $('t-service').value, position: $('t-position').value };
  if ($('t-counter').value) body.counter = $('t-counter').value;
  act(
    () => post(`/api/queue/tickets/${cur.id}/transfer`, body),
    (r) => `Đã chuyển số ${r.ticket.number}`,
  ).then(refreshDetail);
};
const claim = (accept) => {
  const cur = current();
  if (!cur) return;
  act(() => post(`/api/queue/tickets/${cur.id}/priority`, { accept }), accept ? 'Đã xác nhận ưu tiên' : 'Đã bỏ ưu tiên').then(refreshDetail);
};
$('confirm').onclick = () => claim(true);
$('reject').onclick = () => claim(false);

function onLive(msg) {
  if (msg.snapshot) {
    const before = current();
    snapshot = msg.snapshot;
    render();
    const after = current();
    // The number on the counter changed (or its state, or a claim was decided): fetch it in full.
    if (after && (after.id !== before?.id || after.state !== before?.state || msg.event?.type?.startsWith('priority'))) void refreshDetail();
  }
  if (msg.type === 'print') {
    if (!msg.result.ok) say(`Máy in lỗi, phiếu ${msg.record?.number ?? msg.result.ticketId}: ${msg.result.error}`, 'error');
    void refreshPrinting();
  }
}
// The page reloads itself if the socket stays down a minute (also when the box did not answer the first load).
let live = { downSince: Date.now() };
setInterval(() => {
  if (live.downSince && Date.now() - live.downSince > 60_000) location.reload();
}, 5000);
await load();
live = liveSocket('/api/queue/live', {
  onOpen: () => ($('link').className = 'up'),
  onClose: () => void ($('link').className = 'down'),
  onMessage: onLive,
});
// The page asks who is logged in; without a session it shows the staff login.
await whoAmI().catch((err) => {
  if (!(err instanceof LoginRequired)) say(err.message, 'error');
});
setInterval(() => {
  if (!$('app').hidden) void refreshPrinting();
}, 15_000);

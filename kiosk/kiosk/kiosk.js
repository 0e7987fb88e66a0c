// The patient kiosk: one decision per screen, touch only, Vietnamese. The identity stays on the
// box: the page holds an opaque reference to it (identityRef), the name it greets with and the
// look-up's verdict, in `session` and the DOM until the idle reset wipes them (and the box's copy).
// No framework, no build step.
import { $, $$, ApiError, api, liveSocket } from '/lib/page.js';

// The kiosk unit's credential: its browser is started with /kiosk/?token=…; the token is kept in
// sessionStorage (the page reloads itself when the agent restarts) and taken out of the address
// bar so it is not shown, bookmarked or sent as a referrer. A kiosk on the box itself has none.
const params = new URLSearchParams(location.search);
const TOKEN_KEY = 'kiosk-token';
const TOKEN = params.get('token') || sessionStorage.getItem(TOKEN_KEY) || '';
if (params.has('token')) {
  params.delete('token');
  history.replaceState(null, '', `${location.pathname}${params.size ? `?${params}` : ''}${location.hash}`);
}
const keepToken = () => TOKEN && sessionStorage.setItem(TOKEN_KEY, TOKEN);
keepToken();
const authHeaders = TOKEN ? { 'x-kiosk-token': TOKEN } : {};

// 75 s without a touch wipes the session (?idle=N shortens it for tests and demos).
const IDLE_SECONDS = Number(params.get('idle')) || 75;
// The attract prompt is spoken when the screen resets and every 2 minutes while nobody is there
// (?voice=0 silences it). Clips come from kiosk/audio (espeak-ng, or recordings).
const VOICE = params.get('voice') !== '0';
const PROMPT_EVERY_MS = 120_000;
const COUNTDOWN_SECONDS = Math.min(10, Math.floor(IDLE_SECONDS / 2));
let session = {};
// The session as the page's global `session`, as it was while this was a classic script (tests
// and support staff read it in the devtools console); read-only from there.
Object.defineProperty(globalThis, 'session', { get: () => session });
let idleTimer = null;
let countdownTimer = null;

function show(screen) {
  for (const s of $$('.screen')) s.hidden = s.id !== screen;
  session.screen = screen;
  // "Về màn hình đầu" in the footer: not on the start screen itself, nor where the screen has its own.
  $('home').hidden = screen === 'attract' || (screen === 'message' && !$('message-home').hidden);
  armIdle();
  armPrompt();
}

const voice = new Audio();
/** Plays one clip; a missing clip or a blocked autoplay leaves the screen's text to speak. */
function say(clip) {
  if (!VOICE) return;
  voice.src = `/audio/clips/${clip}.wav`;
  voice.play().catch(() => undefined);
}
let promptTimer = null;
function armPrompt() {
  clearInterval(promptTimer);
  if (session.screen !== 'attract') return;
  say('kiosk-attract');
  promptTimer = setInterval(() => say('kiosk-attract'), PROMPT_EVERY_MS);
}

function armIdle() {
  clearTimeout(idleTimer);
  clearInterval(countdownTimer);
  $('countdown').textContent = '';
  if (session.screen === 'attract') return;
  idleTimer = setTimeout(
    () => {
      let left = COUNTDOWN_SECONDS;
      $('countdown').textContent = `Tự quay về đầu sau ${left} giây`;
      countdownTimer = setInterval(() => {
        left -= 1;
        $('countdown').textContent = `Tự quay về đầu sau ${left} giây`;
        if (left <= 0) reset();
      }, 1000);
    },
    (IDLE_SECONDS - COUNTDOWN_SECONDS) * 1000,
  );
}

/** Back to the attract screen with every personal datum gone from memory, the page and the box. */
function reset() {
  session = {};
  for (const id of [
    'ticket-print',
    'greeting-name',
    'insurance',
    'insurance-next',
    'appointment-text',
    'ticket-number',
    'ticket-service',
    'ticket-ahead',
    'ticket-priority',
    'typed-digits',
    'typed-error',
    'message-text',
    'message-next',
  ])
    $(id).textContent = '';
  $('service-list').replaceChildren();
  $('appointment-box').hidden = true;
  typed = '';
  wedge.value = '';
  scan = '';
  sessionStorage.clear();
  keepToken();
  // The box forgets every identity this kiosk read (it also drops them after a few minutes).
  post('/api/kiosk/reset', {}).catch(() => undefined);
  show('attract');
}

// Every call carries the unit's token. A refusal is an ApiError; its `code` is the box's refusal
// kind (identify: QR_UNREADABLE, CCCD_NUMBER_INVALID): its `error` is then a Vietnamese sentence
// for the patient; any other error text may be English and is not shown.
const request = (path) => api(path, { headers: authHeaders });
const post = (path, body) => api(path, { method: 'POST', body, headers: authHeaders });

/** A sentence and what to do next. `done`: nothing to retry (the feedback thank-you), only "Về màn hình đầu". */
function message(text, next, { done = false } = {}) {
  $('message-text').textContent = text;
  $('message-next').textContent = next ?? '';
  $('message-retry').hidden = done;
  $('message-typed').hidden = done;
  $('message-home').hidden = !done;
  show('message');
}

// The identify refusals whose `error` is written for the patient (modules/kiosk/kioskRoutes.ts).
const PATIENT_ERROR_CODES = new Set(['QR_UNREADABLE', 'CCCD_NUMBER_INVALID']);
const patientText = (err, fallback) => (err instanceof ApiError && PATIENT_ERROR_CODES.has(err.code) ? err.message : fallback);
const QR_UNREADABLE = 'Không đọc được mã QR trên thẻ CCCD.';
const QR_NEXT = 'Xin quét lại mã QR, hoặc nhập số CCCD.';

/** `person`: the box's greeting view (identityRef, name or the number's last three digits, source). */
async function greet(person) {
  const ref = person.identityRef;
  session.identityRef = ref;
  session.appointment = null;
  // A name read from the chip or the QR: "ông/bà" and the name, as a hospital addresses its
  // patients; a typed number has none, and a number is never a salutation.
  $('greeting-name').textContent = person.name ? `Xin chào ông/bà ${person.name}` : 'Xin chào quý khách';
  $('insurance').textContent = 'Đang kiểm tra thẻ bảo hiểm y tế…';
  $('insurance').className = 'big';
  $('insurance-next').textContent = '';
  $('appointment-box').hidden = true;
  show('greeting');
  try {
    const info = await post('/api/kiosk/lookup', { identityRef: ref });
    if (session.identityRef !== ref) return; // reset or another card meanwhile
    if (info.insurance) {
      $('insurance').textContent = info.insurance.patientMessage;
      $('insurance').className = `big ${info.insurance.verdict === 'valid' ? 'ok' : 'warn'}`;
      $('insurance-next').textContent = info.insurance.nextStep;
    } else {
      $('insurance').textContent = info.message ?? '';
      $('insurance-next').textContent = info.nextStep ?? '';
    }
    if (info.appointment) {
      session.appointment = info.appointment;
      $('appointment-text').textContent = `Bạn có lịch hẹn: ${info.appointment.serviceName ?? info.appointment.serviceCode} lúc ${info.appointment.time}`;
      $('appointment-box').hidden = false;
    }
  } catch (err) {
    if (session.identityRef !== ref) return;
    // Too many look-ups (429) or the card read expired (410): the box's own plain words.
    $('insurance').textContent = err.status === 429 || err.status === 410 ? err.message : 'Chưa kiểm tra được thẻ bảo hiểm; bạn vẫn lấy số bình thường.';
    $('insurance').className = 'big warn';
  }
}

async function chooseService() {
  session.tookAppointment = false;
  const { services } = await request('/api/kiosk/services');
  $('service-list').replaceChildren(
    ...services.map((s) => {
      const b = document.createElement('button');
      b.textContent = s.name;
      b.dataset.service = s.id;
      b.addEventListener('click', () => {
        session.service = s.id;
        show('priority');
      });
      return b;
    }),
  );
  show('services');
}

async function issue(claim) {
  show('reading');
  $('reading-text').textContent = 'Đang lấy số…';
  try {
    // The box takes the identity (and the birth date that gives a priority class) from what it
    // read itself: the page sends only the reference.
    const r = await post('/api/kiosk/checkin', {
      service: session.service,
      ...(session.identityRef ? { identityRef: session.identityRef } : {}),
      ...(claim ? { claim } : {}),
      ...(session.tookAppointment ? { appointment: true } : {}),
    });
    session.identityRef = null;
    session.ticketId = r.ticket.id;
    const label = PRIORITY_VI[r.ticket.priority];
    $('ticket-priority').textContent = !label
      ? ''
      : r.ticket.priorityStatus === 'claimed'
        ? `Ưu tiên: ${label} (nhân viên quầy sẽ xác nhận)`
        : `Số ưu tiên: ${label}`;
    $('ticket-print').textContent = r.print === 'none' ? 'Xin nhớ số của bạn.' : 'Đang in phiếu…';
    $('ticket-print').className = 'hint';
    $('ticket-number').textContent = r.ticket.number;
    $('ticket-service').textContent = r.serviceName;
    $('ticket-ahead').textContent = r.ahead > 0 ? `Trước bạn còn ${r.ahead} người` : 'Bạn là người tiếp theo';
    show('ticket');
  } catch (err) {
    // Only the box's own Vietnamese sentences (too many tickets, card read expired) are shown as they are.
    message('Chưa lấy được số.', `${err.status === 429 || err.status === 410 ? `${err.message} ` : ''}Xin mời đến quầy tiếp đón.`);
  }
}

const PRIORITY_VI = {
  emergency: 'Cấp cứu',
  under6: 'Trẻ dưới 6 tuổi',
  pregnant: 'Phụ nữ có thai',
  disability: 'Người khuyết tật nặng',
  age75: 'Người từ 75 tuổi',
  merit: 'Người có công với cách mạng',
};

// Typed 12-digit number on an on-screen keypad.
let typed = '';
function renderTyped() {
  $('typed-digits').textContent = typed.padEnd(12, '·');
}
for (const key of ['1', '2', '3', '4', '5', '6', '7', '8', '9', '⌫', '0', 'OK']) {
  const b = document.createElement('button');
  b.textContent = key;
  b.setAttribute('aria-label', key === '⌫' ? 'Xoá' : key);
  b.addEventListener('click', async () => {
    armIdle();
    $('typed-error').textContent = '';
    if (key === '⌫') typed = typed.slice(0, -1);
    else if (key === 'OK') {
      if (typed.length !== 12) {
        $('typed-error').textContent = 'Số CCCD có đúng 12 chữ số.';
        return;
      }
      try {
        const person = await post('/api/kiosk/identify', { digits: typed });
        typed = '';
        await greet(person);
      } catch (err) {
        $('typed-error').textContent = patientText(err, 'Chưa nhận được số CCCD. Xin thử lại, hoặc mời đến quầy tiếp đón.');
      }
      return;
    } else if (typed.length < 12) typed += key;
    renderTyped();
  });
  $('keypad').append(b);
}

// Keyboard-wedge QR scanners type the QR text (~100 characters, a few ms apart) and Enter,
// wherever the focus is. Every key is taken at window level in the capture phase, before any
// button sees it: a scan's Space or Enter must never press the button the patient just touched
// (that reset the screen and cut the code). Printable keys go to the scan buffer; letters a
// scanner enters as text rather than key presses (Vietnamese letters, by insertText/IME) land in
// the hidden #wedge input, which therefore keeps the focus: buttons never keep it (inputmode=none:
// no on-screen keyboard). Manual entry is the on-screen keypad, not a text field; a real text
// field, should a screen ever have one, gets its keys as usual.
const wedge = $('wedge');
const SCAN_GAP_MS = 500; // a pause longer than this starts a new code (a cut scan is not glued to the next)
let scan = '';
let scanAt = 0;
const isTextField = (el) =>
  el !== wedge &&
  el instanceof HTMLElement &&
  (el.isContentEditable ||
    el instanceof HTMLTextAreaElement ||
    (el instanceof HTMLInputElement && !['button', 'submit', 'checkbox', 'radio'].includes(el.type)));
const keepWedgeFocus = () => {
  if (document.activeElement !== wedge && !isTextField(document.activeElement)) wedge.focus({ preventScroll: true });
};
function scanned(text) {
  const now = Date.now();
  if (now - scanAt > SCAN_GAP_MS) scan = '';
  scanAt = now;
  scan += text;
}
async function submitScan() {
  const text = scan;
  scan = '';
  if (text.length < 20) return; // a stray key, not a code
  try {
    await greet(await post('/api/kiosk/identify', { qr: text }));
  } catch (err) {
    message(patientText(err, QR_UNREADABLE), QR_NEXT);
  }
}
// Focus that lands on a button (a tap, a click, Tab) goes back to the wedge at once.
document.addEventListener(
  'focusin',
  (e) => {
    if (e.target !== wedge && !isTextField(e.target)) keepWedgeFocus();
  },
  true,
);
// A button that disappears with its screen takes the focus to <body>: back to the wedge.
document.addEventListener('focusout', () => setTimeout(keepWedgeFocus, 0), true);
for (const type of ['pointerup', 'click', 'touchend']) document.addEventListener(type, () => setTimeout(keepWedgeFocus, 0), true);
window.addEventListener(
  'keydown',
  (e) => {
    if (isTextField(document.activeElement)) return;
    if (e.ctrlKey || e.altKey || e.metaKey) return; // a scanner's Unicode entry (Ctrl+Shift+U…) is the input method's
    if (e.key === 'Enter' || e.key === 'Tab') {
      // Enter ends a code (Tab too, for a scanner set to that suffix); neither may reach a button.
      e.preventDefault();
      e.stopPropagation();
      void submitScan();
    } else if (e.key.length === 1) {
      // Taken here, so neither a focused button (Space) nor the wedge gets it twice.
      e.preventDefault();
      e.stopPropagation();
      scanned(e.key);
    }
    keepWedgeFocus(); // the next characters, if entered as text, must reach the wedge
  },
  true,
);
// Space presses a button on key-up: never during a scan.
window.addEventListener(
  'keyup',
  (e) => {
    if (!isTextField(document.activeElement) && (e.key === ' ' || e.key === 'Enter')) e.preventDefault();
  },
  true,
);
wedge.addEventListener('input', () => {
  if (wedge.value) scanned(wedge.value);
  wedge.value = '';
});

// Card events from the chip reader.
function onCardEvent(e) {
  if (e.type === 'card/status') {
    if (e.body.state === 'reading') {
      $('reading-text').textContent = 'Đang đọc thẻ, xin giữ nguyên thẻ…';
      show('reading');
    } else if (e.body.state === 'error' || e.body.state === 'need-key') {
      // The box sends the Vietnamese sentence only; need-key already says what to do.
      message(e.body.message, e.body.state === 'need-key' ? '' : 'Bạn có thể thử lại, quét mã QR hoặc nhập số CCCD.');
    }
  } else if (e.type === 'card/identity') {
    // The box sends only new reads: a new person, or the chip read after a typed number or QR
    // (its name replaces what was typed; `replaces` names the earlier reference). The same chip
    // again, or the reader's echo of a QR this page sent, never comes.
    if (e.body.identityRef && e.body.identityRef !== session.identityRef) greet(e.body);
  } else if (e.type === 'ticket/print' && e.body.ticketId === session.ticketId) {
    $('ticket-print').textContent = e.body.ok
      ? 'Đã in phiếu. Mời bạn nhận phiếu.'
      : e.body.none
        ? 'Xin nhớ số của bạn.'
        : 'Máy in chưa in được phiếu; nhân viên quầy sẽ in lại cho bạn.';
    $('ticket-print').className = e.body.ok ? 'hint' : 'hint warn';
    if (e.body.ok) say('kiosk-take-ticket');
  }
}

$('go-typed').addEventListener('click', () => {
  typed = '';
  renderTyped();
  show('typed');
});
$('message-typed').addEventListener('click', () => $('go-typed').click());
$('message-home').addEventListener('click', reset);
$('attract-feedback').addEventListener('click', () => show('feedback'));
$('go-noid').addEventListener('click', () => chooseService());
$('choose-service').addEventListener('click', () => chooseService());
$('take-appointment').addEventListener('click', async () => {
  // The HIS names services its own way: match the booked one to a queue service by code or name.
  const { services } = await request('/api/kiosk/services');
  const a = session.appointment;
  const match = services.find((s) => s.id.toLowerCase() === a.serviceCode.toLowerCase() || s.name === a.serviceName);
  if (!match) return chooseService();
  session.service = match.id;
  session.tookAppointment = true;
  show('priority');
});
for (const b of $$('[data-claim]')) b.addEventListener('click', () => issue(b.dataset.claim));
for (const b of $$('[data-rating]')) {
  b.addEventListener('click', async () => {
    await post('/api/kiosk/feedback', { rating: Number(b.dataset.rating) }).catch(() => undefined);
    // Nothing to retry and no number to type here: only the way back (and back by itself soon).
    message('Cảm ơn bạn đã góp ý!', '', { done: true });
    setTimeout(() => session.screen === 'message' && !$('message-home').hidden && reset(), 5000);
  });
}
$('go-feedback').addEventListener('click', () => show('feedback'));
$('done').addEventListener('click', reset);
$('home').addEventListener('click', reset);
$('message-retry').addEventListener('click', reset);
document.addEventListener('pointerdown', armIdle);

reset();
keepWedgeFocus();
// Browsers cannot set headers on a WebSocket: the token goes in the query.
let socketDownSince = null;
liveSocket(`/api/kiosk/live${TOKEN ? `?token=${encodeURIComponent(TOKEN)}` : ''}`, {
  onOpen: () => (socketDownSince = null),
  onMessage: onCardEvent,
  onClose: () => {
    socketDownSince ??= Date.now();
    // The agent restarted or the page is stale: reload once the socket stays down (until then, again every 2 s).
    if (Date.now() - socketDownSince <= 30_000) return;
    location.reload();
    return false;
  },
});

// The patient kiosk: one decision per screen, touch only, Vietnamese. Personal data lives in
// `session` and the DOM until the idle reset wipes both. No framework, no build step.
'use strict';

// 75 s without a touch wipes the session (?idle=N shortens it for tests and demos).
const params = new URLSearchParams(location.search);
const IDLE_SECONDS = Number(params.get('idle')) || 75;
// The attract prompt is spoken when the screen resets and every 2 minutes while nobody is there
// (?voice=0 silences it). Clips come from kiosk/audio (espeak-ng, or recordings).
const VOICE = params.get('voice') !== '0';
const PROMPT_EVERY_MS = 120_000;
const COUNTDOWN_SECONDS = Math.min(10, Math.floor(IDLE_SECONDS / 2));
const $ = (id) => document.getElementById(id);
let session = {};
let idleTimer = null;
let countdownTimer = null;

function show(screen) {
  for (const s of document.querySelectorAll('.screen')) s.hidden = s.id !== screen;
  session.screen = screen;
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
  idleTimer = setTimeout(() => {
    let left = COUNTDOWN_SECONDS;
    $('countdown').textContent = `Tự quay về đầu sau ${left} giây`;
    countdownTimer = setInterval(() => {
      left -= 1;
      $('countdown').textContent = `Tự quay về đầu sau ${left} giây`;
      if (left <= 0) reset();
    }, 1000);
  }, (IDLE_SECONDS - COUNTDOWN_SECONDS) * 1000);
}

/** Back to the attract screen with every personal datum gone from memory and the page. */
function reset() {
  session = {};
  for (const id of ['ticket-print', 'greeting-name', 'insurance', 'insurance-next', 'appointment-text', 'ticket-number', 'ticket-service', 'ticket-ahead', 'typed-digits', 'typed-error', 'message-text', 'message-next']) $(id).textContent = '';
  $('service-list').replaceChildren();
  $('appointment-box').hidden = true;
  typed = '';
  wedge.value = '';
  sessionStorage.clear();
  show('attract');
}

async function post(path, body) {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error ?? `HTTP ${res.status}`);
  return data;
}

function message(text, next) {
  $('message-text').textContent = text;
  $('message-next').textContent = next ?? '';
  show('message');
}

async function greet(identity) {
  session.identity = identity;
  const name = identity.fullName ? identity.fullName : `số CCCD …${identity.idNumber.slice(-3)}`;
  $('greeting-name').textContent = `Xin chào ${name}`;
  $('insurance').textContent = 'Đang kiểm tra thẻ bảo hiểm y tế…';
  $('insurance').className = 'big';
  $('insurance-next').textContent = '';
  show('greeting');
  try {
    const info = await post('/api/kiosk/lookup', { identity });
    if (session.identity !== identity) return; // reset or another card meanwhile
    if (info.insurance) {
      $('insurance').textContent = info.insurance.patientMessage;
      $('insurance').className = `big ${info.insurance.verdict === 'valid' ? 'ok' : 'warn'}`;
      $('insurance-next').textContent = info.insurance.nextStep;
      session.insuranceCode = info.insurance.code;
    } else {
      $('insurance').textContent = info.message ?? '';
      $('insurance-next').textContent = info.nextStep ?? '';
    }
    const appointment = info.appointments?.[0];
    if (appointment) {
      session.appointment = appointment;
      // "2026-11-22T08:30:00+07:00" → "08:30" (the HIS gives local times).
      const time = /T(\d{2}:\d{2})/.exec(appointment.time)?.[1] ?? appointment.time;
      $('appointment-text').textContent = `Bạn có lịch hẹn: ${appointment.serviceName ?? appointment.serviceCode} lúc ${time}`;
      $('appointment-box').hidden = false;
    }
  } catch {
    $('insurance').textContent = 'Chưa kiểm tra được thẻ bảo hiểm; bạn vẫn lấy số bình thường.';
  }
}

async function chooseService() {
  const { services } = await fetch('/api/kiosk/services').then((r) => r.json());
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
    const r = await post('/api/kiosk/checkin', {
      service: session.service,
      ...(session.identity ? { identity: session.identity } : {}),
      ...(claim ? { claim } : {}),
      ...(session.appointment?.id ? { appointmentId: session.appointment.id } : {}),
      ...(session.insuranceCode ? { insuranceCode: session.insuranceCode } : {}),
    });
    session.ticketId = r.ticket.id;
    $('ticket-print').textContent = r.print === 'none' ? 'Xin nhớ số của bạn.' : 'Đang in phiếu…';
    $('ticket-print').className = 'hint';
    $('ticket-number').textContent = r.ticket.number;
    $('ticket-service').textContent = r.serviceName;
    $('ticket-ahead').textContent = r.ahead > 0 ? `Trước bạn còn ${r.ahead} người` : 'Bạn là người tiếp theo';
    show('ticket');
  } catch (err) {
    message('Chưa lấy được số.', `${err.message}. Xin mời đến quầy tiếp đón.`);
  }
}

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
        const { identity } = await post('/api/kiosk/identify', { digits: typed });
        typed = '';
        await greet(identity);
      } catch (err) {
        $('typed-error').textContent = err.message;
      }
      return;
    } else if (typed.length < 12) typed += key;
    renderTyped();
  });
  $('keypad').append(b);
}

// Keyboard-wedge QR scanners type the QR text and Enter. They land in a hidden input that keeps
// the focus (inputmode=none: no on-screen keyboard), so characters a scanner enters as text
// rather than key presses (Vietnamese letters in the name) are kept too.
const wedge = $('wedge');
const keepWedgeFocus = () => {
  if (document.activeElement !== wedge) wedge.focus({ preventScroll: true });
};
document.addEventListener('pointerup', () => setTimeout(keepWedgeFocus, 0));
document.addEventListener('keydown', async (e) => {
  if (e.key === 'Enter') {
    e.preventDefault();
    const text = wedge.value;
    wedge.value = '';
    if (text.length >= 20) {
      try {
        const { identity } = await post('/api/kiosk/identify', { qr: text });
        await greet(identity);
      } catch (err) {
        message('Không đọc được mã QR.', `${err.message}. Xin quét lại hoặc nhập số CCCD.`);
      }
    }
  } else if (e.key.length === 1) wedge += e.key;
});

// Card events from the chip reader.
let socketDownSince = null;
function connect() {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/kiosk/live`);
  ws.onopen = () => (socketDownSince = null);
  ws.onmessage = (m) => {
    const e = JSON.parse(m.data);
    if (e.type === 'card/status') {
      if (e.body.state === 'reading') {
        $('reading-text').textContent = 'Đang đọc thẻ, xin giữ nguyên thẻ…';
        show('reading');
      } else if (e.body.state === 'error' || e.body.state === 'need-key') {
        message(e.body.message, 'Bạn có thể thử lại, quét mã QR hoặc nhập số CCCD.');
      }
    } else if (e.type === 'card/identity') {
      const id = e.body.identity;
      // A new person, or the chip read after a typed number or QR: the chip's data (name, date of
      // birth) replaces what was typed. The same chip again changes nothing.
      const fromChip = (i) => String(i?.source ?? '').startsWith('chip');
      if (id?.idNumber !== session.identity?.idNumber || (fromChip(id) && !fromChip(session.identity))) greet(id);
    } else if (e.type === 'ticket/print' && e.body.ticketId === session.ticketId) {
      $('ticket-print').textContent = e.body.ok ? 'Đã in phiếu. Mời bạn nhận phiếu.' : e.body.none ? 'Xin nhớ số của bạn.' : 'Máy in chưa in được phiếu; nhân viên quầy sẽ in lại cho bạn.';
      $('ticket-print').className = e.body.ok ? 'hint' : 'hint warn';
      if (e.body.ok) say('kiosk-take-ticket');
    }
  };
  ws.onclose = () => {
    socketDownSince ??= Date.now();
    // The agent restarted or the page is stale: reload once the socket stays down.
    if (Date.now() - socketDownSince > 30_000) location.reload();
    else setTimeout(connect, 2000);
  };
}

$('go-typed').addEventListener('click', () => {
  typed = '';
  renderTyped();
  show('typed');
});
$('message-typed').addEventListener('click', () => $('go-typed').click());
$('go-noid').addEventListener('click', () => chooseService());
$('choose-service').addEventListener('click', () => chooseService());
$('take-appointment').addEventListener('click', async () => {
  // The HIS names services its own way: match the booked one to a queue service by code or name.
  const { services } = await fetch('/api/kiosk/services').then((r) => r.json());
  const a = session.appointment;
  const match = services.find((s) => s.id.toLowerCase() === a.serviceCode.toLowerCase() || s.name === a.serviceName);
  if (!match) return chooseService();
  session.service = match.id;
  show('priority');
});
for (const b of document.querySelectorAll('[data-claim]')) b.addEventListener('click', () => issue(b.dataset.claim));
for (const b of document.querySelectorAll('[data-rating]')) {
  b.addEventListener('click', async () => {
    await post('/api/kiosk/feedback', { rating: Number(b.dataset.rating) }).catch(() => undefined);
    message('Cảm ơn bạn đã góp ý!', '');
    setTimeout(reset, 3000);
  });
}
$('go-feedback').addEventListener('click', () => show('feedback'));
$('done').addEventListener('click', reset);
$('home').addEventListener('click', reset);
$('message-retry').addEventListener('click', reset);
document.addEventListener('pointerdown', armIdle);

reset();
keepWedgeFocus();
connect();

// TV call screen: now serving per counter, recent calls, waiting counts. A new call flashes and
// is spoken from clips through ONE audio queue, so two calls never talk over each other.
// No personal data is ever shown: the queue only knows numbers.
import { $, liveSocket } from '/lib/page.js';
import { phraseClips } from './phrase.js';

const voice = $('voice');
const state = { snapshot: null, flashUntil: new Map() };
// Observable by tests and by support staff in the devtools console.
const log = { calls: [], played: [], ended: 0 };
window.__callScreen = log;

// ---- audio queue ----
const queue = [];
let speaking = false;

function enqueueCall(call) {
  const clips = phraseClips(call.number, call.counterNumber, call.priority);
  queue.push({ call, clips });
  log.calls.push({ number: call.number, service: call.serviceName, counter: call.counterNumber, clips, queuedAt: performance.now() });
  if (!speaking) void speakNext();
}

function playClip(id) {
  return new Promise((resolve) => {
    const started = performance.now();
    const done = (ok) => {
      voice.onended = voice.onerror = null;
      log.played.push({ id, ok, started, ended: performance.now(), playedRanges: voice.played.length });
      if (ok) log.ended++;
      resolve();
    };
    voice.onended = () => done(true);
    voice.onerror = () => done(false);
    voice.src = `/api/queue/audio/${id}.wav`;
    voice.play().catch(() => done(false));
  });
}

async function speakNext() {
  speaking = true;
  while (queue.length) {
    const { clips } = queue.shift();
    for (const id of clips) await playClip(id);
    await new Promise((r) => setTimeout(r, 400));
  }
  speaking = false;
}

// ---- rendering ----
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function render() {
  const s = state.snapshot;
  if (!s) return;
  $('facility').textContent = s.facility;
  const services = new Map(s.services.map((x) => [x.service, x]));
  const tiles = $('counters');
  tiles.replaceChildren(
    ...s.counters.map((c) => {
      const tile = el('div', 'counter');
      tile.dataset.counter = c.id;
      tile.append(el('div', 'label', c.name || `Quầy ${c.number}`));
      const cur = c.current;
      tile.append(el('div', 'number', cur ? cur.number : '—'));
      tile.append(el('div', 'service', cur ? (services.get(cur.service)?.name ?? '') : ''));
      if (!cur) tile.classList.add('idle');
      const serving = cur && services.get(cur.service)?.serving.find((x) => x.counter === c.id);
      if (serving?.priority) tile.classList.add('prio');
      if ((state.flashUntil.get(c.id) ?? 0) > Date.now()) tile.classList.add('flash');
      return tile;
    }),
  );
  $('recent').replaceChildren(
    ...s.recentCalls.slice(0, 8).map((r) => {
      const li = el('li');
      // The service with the number: two services may both call 0001 at one counter.
      li.append(el('span', 'n', r.number + (r.priority ? ' ƯT' : '')), el('span', 's', r.serviceName), el('span', 'c', `Quầy ${r.counterNumber}`));
      return li;
    }),
  );
  $('waiting').replaceChildren(...s.services.map((x) => el('li', '', `${x.name}: ${x.waiting} đang chờ`)));
}

// ---- live feed ----
const live = liveSocket('/api/queue/live', {
  onOpen: () => ($('link').className = 'up'),
  onClose: () => void ($('link').className = 'down'),
  onMessage: (msg) => {
    if (msg.snapshot) state.snapshot = msg.snapshot;
    if (msg.type === 'change' && msg.call) {
      state.flashUntil.set(msg.call.counter, Date.now() + 4000);
      setTimeout(render, 4100);
      enqueueCall(msg.call);
    }
    render();
  },
});
// The page reloads itself if the socket stays down (systemd restarts the browser if it dies).
setInterval(() => {
  if (live.downSince && Date.now() - live.downSince > 60_000) location.reload();
  $('clock').textContent = new Date().toLocaleTimeString('vi-VN', { hour: '2-digit', minute: '2-digit', timeZone: 'Asia/Ho_Chi_Minh' });
}, 1000);

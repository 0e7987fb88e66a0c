// The status page at /: component states from /readyz (no login, no personal data).
import { $ } from '/lib/page.js';

// No personal data here: /readyz carries only component states. Its 503 (not ready) carries
// them too, so the answer is read whatever its status (not through api(), which throws).
const cell = (text, cls) => {
  const td = document.createElement('td');
  td.textContent = text ?? '';
  if (cls) td.className = cls;
  return td;
};
async function refresh() {
  try {
    const res = await fetch('/readyz');
    const r = await res.json();
    $('summary').textContent =
      `${r.ready ? 'Sẵn sàng / ready' : 'Chưa sẵn sàng / not ready'} — disk ${r.store.disk.usedPercent}% of budget, store ${r.store.writable ? 'writable' : 'NOT writable'}`;
    $('summary').className = r.ready ? 'ok' : 'bad';
    for (const [id, rows] of [
      ['devices', r.devices],
      ['destinations', r.destinations],
    ]) {
      $(id).replaceChildren(
        ...rows.map((c) => {
          const tr = document.createElement('tr');
          tr.append(cell(c.id), cell(c.type), cell(c.state, c.state === 'running' ? 'ok' : 'bad'), cell(c.detail ?? c.lastError));
          return tr;
        }),
      );
    }
  } catch {
    $('summary').textContent = 'Agent không trả lời / agent not answering';
    $('summary').className = 'bad';
  }
}
refresh();
setInterval(refresh, 5000);

// The status page at /: component states from /readyz (no login, no personal data).

// No personal data here: /readyz carries only component states.
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
    document.getElementById('summary').textContent =
      `${r.ready ? 'Sẵn sàng / ready' : 'Chưa sẵn sàng / not ready'} — disk ${r.store.disk.usedPercent}% of budget, store ${r.store.writable ? 'writable' : 'NOT writable'}`;
    document.getElementById('summary').className = r.ready ? 'ok' : 'bad';
    for (const [id, rows] of [
      ['devices', r.devices],
      ['destinations', r.destinations],
    ]) {
      const body = document.getElementById(id);
      body.replaceChildren(
        ...rows.map((c) => {
          const tr = document.createElement('tr');
          tr.append(cell(c.id), cell(c.type), cell(c.state, c.state === 'running' ? 'ok' : 'bad'), cell(c.detail ?? c.lastError));
          return tr;
        }),
      );
    }
  } catch {
    document.getElementById('summary').textContent = 'Agent không trả lời / agent not answering';
    document.getElementById('summary').className = 'bad';
  }
}
refresh();
setInterval(refresh, 5000);

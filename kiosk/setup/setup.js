// The first-run page: one-time code, then the answers a department box needs; the agent builds
// the configuration from them and checks it with the same rules as any other.
import { $, $$, api } from '/lib/page.js';
import { parseProblem, viProblemMessage } from './serverText.js';

let code = '';
let choices = null;

/** A POST with the one-time code: { ok, json } whatever the answer; a refusal's json has its `error` text. */
async function call(path, body) {
  try {
    return { ok: true, json: await api(path, { method: 'POST', body: body ?? {}, headers: { 'x-setup-code': code } }) };
  } catch (err) {
    if (err.status === undefined) throw err; // no answer at all
    return { ok: false, status: err.status, json: { ...(typeof err.body === 'object' ? err.body : {}), error: err.message } };
  }
}

const KINDS = {
  'lab-astm': {
    label: 'Máy xét nghiệm ASTM',
    fields: [
      { name: 'profile', label: 'Loại máy', select: () => choices.profiles.filter((p) => p.protocol === 'astm').map((p) => [p.id, p.name]) },
      {
        name: 'transport',
        label: 'Kết nối',
        select: () => [
          ['serial', 'Cáp RS-232 (cổng nối tiếp)'],
          ['tcp-server', 'Mạng: máy xét nghiệm gọi tới máy này'],
          ['tcp-client', 'Mạng: máy này gọi tới máy xét nghiệm'],
        ],
      },
      { name: 'path', label: 'Cổng nối tiếp', placeholder: '/dev/serial/by-id/…', when: (d) => d.transport === 'serial' },
      { name: 'baudRate', label: 'Tốc độ (baud)', value: '9600', when: (d) => d.transport === 'serial' },
      { name: 'port', label: 'Cổng TCP', placeholder: '4010', when: (d) => d.transport !== 'serial' },
      { name: 'analyzer', label: 'Địa chỉ IP của máy xét nghiệm', when: (d) => d.transport === 'tcp-server' },
      { name: 'host', label: 'Địa chỉ IP của máy xét nghiệm', when: (d) => d.transport === 'tcp-client' },
    ],
  },
  'lab-hl7': {
    label: 'Máy xét nghiệm HL7',
    fields: [
      { name: 'profile', label: 'Loại máy', select: () => choices.profiles.filter((p) => p.protocol === 'hl7').map((p) => [p.id, p.name]) },
      { name: 'port', label: 'Cổng TCP (MLLP)', value: '2575' },
      { name: 'analyzer', label: 'Địa chỉ IP của máy xét nghiệm' },
    ],
  },
  modality: {
    label: 'Máy chụp (DICOM)',
    fields: [
      { name: 'aeTitle', label: 'AE title của máy này', value: 'EDGE' },
      { name: 'port', label: 'Cổng DICOM', value: '11112' },
      { name: 'callerAe', label: 'AE title của máy chụp', placeholder: 'CT01' },
      { name: 'callerAddress', label: 'Địa chỉ IP của máy chụp' },
    ],
  },
  printer: {
    label: 'Máy in phiếu',
    fields: [
      {
        name: 'transport',
        label: 'Kết nối',
        select: () => [
          ['tcp', 'Mạng (cổng 9100)'],
          ['device', 'USB'],
        ],
      },
      { name: 'host', label: 'Địa chỉ IP của máy in', when: (d) => d.transport === 'tcp' },
      { name: 'port', label: 'Cổng', value: '9100', when: (d) => d.transport === 'tcp' },
      { name: 'path', label: 'Thiết bị USB', value: '/dev/usb/lp0', when: (d) => d.transport === 'device' },
    ],
  },
  'card-reader': {
    label: 'Đầu đọc thẻ CCCD',
    fields: [{ name: 'readerName', label: 'Tên đầu đọc (để trống: đầu đọc nào cũng được)', placeholder: 'ACR1252|PICC' }],
  },
};

const DEFAULT_IDS = { 'lab-astm': 'may-xn', 'lab-hl7': 'may-xn-hl7', modality: 'may-chup', printer: 'may-in', 'card-reader': 'dau-doc-the' };

function deviceValues(section) {
  const d = { kind: section.dataset.kind };
  for (const el of $$('[data-field]', section)) if (!el.closest('label').hidden) d[el.dataset.field] = el.value.trim();
  return d;
}

function refreshVisibility(section) {
  const kind = KINDS[section.dataset.kind];
  const all = {};
  for (const el of $$('[data-field]', section)) all[el.dataset.field] = el.value;
  for (const f of kind.fields) if (f.when) section.querySelector(`[data-field="${f.name}"]`).closest('label').hidden = !f.when(all);
}

function addDevice(kindName) {
  const kind = KINDS[kindName];
  const section = $('device-template').content.firstElementChild.cloneNode(true);
  section.dataset.kind = kindName;
  section.querySelector('.kind').textContent = kind.label;
  const fields = section.querySelector('.fields');
  const taken = new Set($$('[data-field="id"]').map((i) => i.value));
  let id = DEFAULT_IDS[kindName];
  for (let n = 2; taken.has(id); n++) id = `${DEFAULT_IDS[kindName]}-${n}`;
  for (const f of [{ name: 'id', label: 'Tên thiết bị (chữ thường, số, -)', value: id }, ...kind.fields]) {
    const label = document.createElement('label');
    label.append(`${f.label} `);
    let input;
    if (f.select) {
      input = document.createElement('select');
      for (const [value, text] of f.select()) input.append(new Option(text, value));
      input.addEventListener('change', () => refreshVisibility(section));
    } else {
      input = document.createElement('input');
      input.value = f.value ?? '';
      input.placeholder = f.placeholder ?? '';
    }
    input.dataset.field = f.name;
    input.name = `${id}.${f.name}`;
    label.append(input);
    fields.append(label);
  }
  section.querySelector('.remove').addEventListener('click', () => section.remove());
  section.querySelector('.test').addEventListener('click', async () => {
    const out = section.querySelector('.test-result');
    out.textContent = 'Đang kiểm tra…';
    out.className = 'test-result';
    const r = await call('/api/setup/test-device', deviceValues(section));
    out.textContent = r.ok ? r.json.detail : r.json.error;
    out.className = `test-result ${r.ok && r.json.ok ? 'good' : 'bad'}`;
  });
  $('device-list').append(section);
  refreshVisibility(section);
  section.querySelector('[data-field="id"]').focus();
}

function draft() {
  const form = $('setup');
  const v = (name) => form.elements[name]?.value.trim() ?? '';
  return {
    box: { id: v('box.id'), facility: v('box.facility'), name: v('box.name'), department: v('box.department'), timezone: v('box.timezone') },
    adminPassword: form.elements.adminPassword.value,
    province: { url: v('province.url'), username: v('province.username'), password: form.elements['province.password'].value },
    lis: { host: v('lis.host'), port: v('lis.port') },
    pacs: { host: v('pacs.host'), port: v('pacs.port'), calledAe: v('pacs.calledAe') },
    devices: $$('#device-list .device').map(deviceValues),
  };
}

function showOutcome(r, okText) {
  const out = $('outcome');
  out.replaceChildren();
  const p = document.createElement('p');
  p.className = r.ok ? 'good' : 'bad';
  p.textContent = r.ok ? okText : r.json.error;
  out.append(p);
  if (!r.ok && Array.isArray(r.json.problems)) {
    const list = document.createElement('ol');
    for (const problem of r.json.problems) {
      // The loader's English sentence in Vietnamese, the original kept as the tooltip.
      const p = parseProblem(problem);
      const text = p ? `${p.field || 'tệp'}: ${viProblemMessage(p.message)}` : problem;
      list.append(Object.assign(document.createElement('li'), { textContent: text, title: problem }));
    }
    out.append(list);
  }
}

function passwordsMatch() {
  const form = $('setup');
  if (form.elements.adminPassword.value === form.elements.adminPassword2.value) return true;
  showOutcome({ ok: false, json: { error: 'Hai lần nhập mật khẩu không giống nhau.' } });
  return false;
}

$('unlock').addEventListener('submit', async (e) => {
  e.preventDefault();
  code = e.target.elements.code.value.trim();
  const r = await call('/api/setup/unlock');
  if (!r.ok) {
    $('unlock-error').textContent = r.json.error;
    return;
  }
  choices = r.json;
  const form = $('setup');
  for (const tz of choices.timezones)
    form.elements['box.timezone'].append(new Option(tz, tz, tz === choices.defaults.timezone, tz === choices.defaults.timezone));
  form.elements['box.id'].value = choices.defaults.boxId;
  $('where').textContent = `Tệp cấu hình: ${choices.defaults.configFile}`;
  $('unlock').hidden = true;
  form.hidden = false;
  form.elements['box.facility'].focus();
});

$('add-kind').addEventListener('change', (e) => {
  if (e.target.value) addDevice(e.target.value);
  e.target.value = '';
});

$('check').addEventListener('click', async () => {
  if (!passwordsMatch()) return;
  const r = await call('/api/setup/check', draft());
  showOutcome(r, 'Cấu hình hợp lệ. Bấm “Lưu và khởi động” để dùng.');
  $('preview').hidden = !r.ok;
  $('preview').textContent = r.ok ? r.json.config : '';
});

$('setup').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!passwordsMatch()) return;
  const r = await call('/api/setup/save', draft());
  showOutcome(r, 'Đã lưu cấu hình. Hệ thống đang khởi động…');
  if (!r.ok) return;
  // The agent takes this port over once it runs: wait for it, then open its console.
  for (;;) {
    await new Promise((res) => setTimeout(res, 1000));
    const ready = await fetch('/readyz')
      .then((x) => x.json())
      .catch(() => null);
    if (ready && !ready.setup) {
      location.href = '/console/';
      return;
    }
  }
});

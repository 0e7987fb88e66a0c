// Vietnamese renderings of the English sentences the agent's API gives the console: device and
// destination states, status details, self-test results, delivery errors, configuration
// problems. The API keeps one language (logs, scripts and support read it); the page translates
// the sentence shapes it knows, phrase by phrase, and keeps the original in a tooltip. A shape
// it does not know stays as sent. Shared by the console and its tests (serverText.d.ts).

/** Component states (devices, destinations) and outbox item states. */
export const STATES_VI = {
  starting: 'Đang khởi động',
  running: 'Đang chạy',
  degraded: 'Có sự cố',
  error: 'Lỗi',
  stopped: 'Đã dừng',
  unconfigured: 'Chưa cấu hình',
};

const N = '(\\d+)';
const HOST = '([\\w.\\-]+:\\d+|\\[[\\w:]+\\]:\\d+)';

/**
 * Phrase rules, most specific first; each replaces every occurrence. `$1`… are what the
 * pattern captured (numbers, addresses, names), kept as sent.
 */
const PHRASES = [
  // Supervisor, controller
  [/\(this kind of device has no active test\)/g, '(loại thiết bị này không có phép kiểm tra chủ động)'],
  [/^test failed: /g, 'kiểm tra thất bại: '],
  [/^not running: /g, 'không chạy: '],
  [/\bstart failed\b/g, 'khởi động thất bại'],
  // Listeners (ASTM, HL7, DICOM)
  [new RegExp(`connection to ${HOST} closed; reconnecting`, 'g'), 'kết nối tới $1 bị đóng; đang kết nối lại'],
  [new RegExp(`cannot connect to ${HOST}; retrying`, 'g'), 'không kết nối được tới $1; đang thử lại'],
  [new RegExp(`reconnecting to ${HOST}`, 'g'), 'đang kết nối lại tới $1'],
  [new RegExp(`connecting to ${HOST}`, 'g'), 'đang kết nối tới $1'],
  [new RegExp(`connected to ${HOST}`, 'g'), 'đã kết nối tới $1'],
  [new RegExp(`listening on ${HOST}`, 'g'), 'đang chờ kết nối tại $1'],
  [/\bserial (\S+) at (\d+) baud/g, 'cổng nối tiếp $1, $2 baud'],
  [/cannot open (\S+); retrying/g, 'không mở được $1; đang thử lại'],
  [/(\S+) closed; reopening/g, '$1 bị đóng; đang mở lại'],
  [/the journal refused data: the analyzer gets NAK and will resend/g, 'nhật ký không ghi được dữ liệu: máy xét nghiệm nhận NAK và sẽ gửi lại'],
  [new RegExp(`port ${N} accepts connections \\(${N} ms\\)`, 'g'), 'cổng $1 nhận kết nối ($2 ms)'],
  [new RegExp(`port ${N} refused a test connection: `, 'g'), 'cổng $1 từ chối kết nối thử: '],
  [/ — no line open: check the cable, the port and the analyzer/g, ' — chưa có đường truyền nào mở: kiểm tra cáp, cổng và máy xét nghiệm'],
  [/\bnot listening\b:?/g, 'không chờ kết nối'],
  [new RegExp(`, TLS on port ${N}`, 'g'), ', TLS ở cổng $1'],
  [new RegExp(`${N} connection\\(s\\) now`, 'g'), '$1 kết nối đang mở'],
  [new RegExp(`${N} connection\\(s\\) refused`, 'g'), 'từ chối $1 kết nối'],
  [new RegExp(`${N} connections?(\\(s\\))?`, 'g'), '$1 kết nối'],
  [new RegExp(`${N} message\\(s\\) and ${N} result\\(s\\) stored`, 'g'), 'đã lưu $1 tin nhắn và $2 kết quả'],
  [new RegExp(`${N} result\\(s\\) stored`, 'g'), 'đã lưu $1 kết quả'],
  [new RegExp(`${N} host queries answered`, 'g'), 'trả lời $1 truy vấn chỉ định'],
  [new RegExp(`${N} rejected`, 'g'), '$1 bị từ chối'],
  // DICOM
  [/ — no allowedCallers: every association is refused/g, ' — chưa khai báo allowedCallers: mọi liên kết đều bị từ chối'],
  [/; WARNING: no allowedCallers, every modality is refused/g, '; CẢNH BÁO: chưa khai báo allowedCallers, mọi máy chụp đều bị từ chối'],
  [new RegExp(`C-ECHO to (\\S+) on port ${N} succeeded \\(${N} ms\\)`, 'g'), 'C-ECHO tới $1 ở cổng $2 thành công ($3 ms)'],
  [new RegExp(`C-ECHO to (\\S+) on port ${N} failed: `, 'g'), 'C-ECHO tới $1 ở cổng $2 thất bại: '],
  [/C-ECHO to (\S+) succeeded/g, 'C-ECHO tới $1 thành công'],
  [/C-ECHO to (\S+) failed: /g, 'C-ECHO tới $1 thất bại: '],
  [/C-ECHO answered (\w+)/g, 'C-ECHO trả lời mã $1'],
  [
    new RegExp(`${N} instance\\(s\\) stored, ${N} duplicate\\(s\\), ${N} failed, ${N} association\\(s\\) refused`, 'g'),
    'đã lưu $1 ảnh, $2 ảnh trùng, $3 lỗi, từ chối $4 liên kết',
  ],
  [new RegExp(`${N} association\\(s\\)`, 'g'), '$1 liên kết'],
  // Printer
  [/hết giấy \/ out of paper/g, 'hết giấy'],
  [/nắp máy in mở \/ cover open/g, 'nắp máy in mở'],
  [/last print failed \(([^)]*)\)/g, 'lần in gần nhất thất bại ($1)'],
  [new RegExp(`ready \\(([^)]*)\\), ${N} printed`, 'g'), 'sẵn sàng ($1), đã in $2 vé'],
  [new RegExp(`test ticket printed on (.+?) in ${N} ms`, 'g'), 'đã in vé thử trên $1 trong $2 ms'],
  [/test ticket printed on /g, 'đã in vé thử trên '],
  [/test ticket not printed on (.+?): /g, 'không in được vé thử trên $1: '],
  [/\bunknown error\b/g, 'lỗi không rõ'],
  // HTTP ingest
  [/POST (\/api\/ingest\/\S+), from ([^(]*?)(?= \(|$)/g, (_m, path, from) => `nhận POST ${path}, từ ${from.trim() || 'chính hộp'}`],
  // Card reader, QR scanner
  [/reader "([^"]*)" ready/g, 'đầu đọc "$1" sẵn sàng'],
  [/reader "([^"]*)" unplugged; no reader/g, 'đầu đọc "$1" đã bị rút; không còn đầu đọc'],
  [/pcscd not reachable \((.*)\); retrying/g, 'không kết nối được dịch vụ đầu đọc thẻ pcscd ($1); đang thử lại'],
  [/pcscd up, no reader/g, 'dịch vụ pcscd chạy, chưa có đầu đọc'],
  [/^readers: /g, 'đầu đọc: '],
  [/waiting for a card reader/g, 'đang chờ đầu đọc thẻ'],
  [/reader not ready: /g, 'đầu đọc chưa sẵn sàng: '],
  [
    /no card read within the test time: scan the card's QR code \(or type its number\) at the kiosk, then put the card on the reader/g,
    'không đọc được thẻ trong thời gian kiểm tra: quét mã QR trên thẻ (hoặc nhập số thẻ) ở ki-ốt, rồi đặt thẻ lên đầu đọc',
  ],
  [/card (\S+) read by (\S+) in (\S+) ms \((\S+) APDUs\), signature (.+)$/g, 'đã đọc thẻ $1 bằng $2 trong $3 ms ($4 APDU), chữ ký: $5'],
  [/scanner (\S+) disconnected; retrying/g, 'máy quét $1 bị ngắt; đang thử lại'],
  [/scanner (\S+) not available: (.*); retrying/g, 'máy quét $1 không dùng được: $2; đang thử lại'],
  [/scanner on (\S+)/g, 'máy quét ở $1'],
  [/signature not checked: no CSCA certificate configured/g, 'chưa kiểm tra chữ ký: chưa cấu hình chứng chỉ CSCA'],
  [/\bnot checked\b/g, 'chưa kiểm tra'],
  // Delivery errors (destinations' last error, outbox reasons)
  [new RegExp(`${HOST}: ECONNREFUSED\\b`, 'g'), '$1: không kết nối được (bị từ chối: không có dịch vụ nghe ở cổng đó)'],
  [new RegExp(`${HOST}: (ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)\\b`, 'g'), '$1: không tới được máy đó ($2)'],
  [/no association with (\S+): /g, 'không lập được liên kết với $1: '],
  [/cannot reach (\S+): /g, 'không tới được $1: '],
  [/C-STORE did not complete: /g, 'C-STORE không hoàn tất: '],
  [/\bconnection error: /g, 'lỗi kết nối: '],
  [/instance file unreadable: /g, 'không đọc được tệp ảnh: '],
  [/stored instance is not a Part 10 file: /g, 'ảnh đã lưu không phải tệp DICOM Part 10: '],
  [/coercion rules cannot apply: /g, 'không áp dụng được quy tắc sửa thẻ DICOM: '],
  [/coercion failed: /g, 'sửa thẻ DICOM thất bại: '],
  [/\bbad PDU: /g, 'PDU không hợp lệ: '],
  [/\bEHOSTUNREACH\b/g, 'không có đường tới máy đó (EHOSTUNREACH)'],
  [/connect ECONNREFUSED (\S+)/g, 'không kết nối được tới $1 (bị từ chối: không có dịch vụ nghe ở cổng đó)'],
  [/\bECONNREFUSED\b/g, 'bị từ chối kết nối (ECONNREFUSED)'],
  [/connect ETIMEDOUT (\S+)/g, 'hết thời gian chờ kết nối tới $1'],
  [/getaddrinfo ENOTFOUND (\S+)/g, 'không tìm thấy máy chủ $1 (tên miền không phân giải được)'],
  [/\bECONNRESET\b/g, 'kết nối bị ngắt đột ngột (ECONNRESET)'],
  [/\bsocket hang up\b/g, 'kết nối bị ngắt giữa chừng'],
  [/\bfetch failed\b/g, 'gửi HTTP thất bại'],
  [new RegExp(`timed out after ${N} ?ms`, 'g'), 'hết thời gian chờ sau $1 ms'],
  [/\btimed out\b/g, 'hết thời gian chờ'],
  [/\battempt timeout\b/g, 'hết thời gian chờ lần gửi'],
  [/acknowledged by the central ingest/g, 'trung tâm tỉnh đã xác nhận'],
  [/\ball frames ACKed\b/g, 'mọi khung đã được ACK'],
  // Console actions
  [/^parked by hand: /g, 'tạm giữ bằng tay: '],
  [/^queued again$/g, 'đã đưa lại vào hàng đợi'],
  [/^already pending$/g, 'đang chờ gửi (không cần gửi lại)'],
  [/^queued$/g, 'đã xếp vào hàng đợi'],
  // A leading state word (the controller's "running: …" for a device without its own test).
  [/^(running|degraded|error|stopped|starting)(?=: |$| \()/g, (_m, s) => STATES_VI[s].toLowerCase()],
  [/^stopped$/g, 'đã dừng'],
];

/** The Vietnamese rendering of one server sentence (unchanged when no phrase is known). */
export function viText(text) {
  if (typeof text !== 'string' || !text) return text ?? '';
  let out = text;
  for (const [pattern, replacement] of PHRASES) out = out.replace(pattern, replacement);
  return out;
}

/** A state word in Vietnamese (unknown states as sent). */
export function viState(state) {
  return STATES_VI[state] ?? state;
}

/** "file:line:column field: message" (core/config/types.ts formatProblem) taken apart; null when not that shape. */
export function parseProblem(text) {
  const m = /^(.*):(\d+):(\d+) (\(top level\)|\S+): (.*)$/s.exec(text);
  if (!m) return null;
  return { file: m[1], line: Number(m[2]), column: Number(m[3]), field: m[4] === '(top level)' ? '' : m[4], message: m[5] };
}

const TYPES_VI = {
  integer: 'số nguyên',
  number: 'số',
  string: 'chuỗi ký tự',
  boolean: 'true hoặc false',
  object: 'một khối khoá: giá trị',
  array: 'một danh sách',
  null: 'null',
};

/** "config.yaml:6:9, default port" / "default port" (where a conflicting holder is) in Vietnamese. */
const viDefault = (where) => where.replace(/(^|, )default (port|path)$/, (_m, sep, what) => `${sep}${what === 'port' ? 'cổng' : 'đường dẫn'} mặc định`);

/** The configuration loader's messages (core/config/load.ts) and Ajv's, in Vietnamese. */
const PROBLEMS = [
  [/^required field "([^"]+)" is missing$/, 'thiếu trường bắt buộc "$1"'],
  [
    /^unknown field "([^"]+)" \(check the spelling; the schema lists the allowed fields\)$/,
    'trường "$1" không có trong lược đồ (kiểm tra chính tả; lược đồ liệt kê các trường được phép)',
  ],
  [/^unknown (\S+) "([^"]*)"; did you mean (\S+)\? known: (.*)$/, '$1 "$2" không có; có phải ý là $3? các giá trị có: $4'],
  [/^must be one of: (.*)$/, 'phải là một trong: $1'],
  [/^does not have the expected form \((.*)\)$/, 'không đúng dạng quy định ($1)'],
  [
    /^is a secret and must not be written in the configuration: put it in the secrets file and write "(!secret [^"]+)" here$/,
    'là thông tin bí mật, không được viết trong tệp cấu hình: đưa vào tệp bí mật (secrets) và viết "$1" ở đây',
  ],
  [/^name "([^"]*)" is not allowed: use lower-case letters, digits, - and _$/, 'tên "$1" không hợp lệ: chỉ dùng chữ thường, chữ số, - và _'],
  [
    /^route "([^"]*)" is not a destination in this file \(known: (.*)\)$/,
    (_m, r, known) => `tuyến "${r}" không phải là đích gửi trong tệp này (các đích có: ${known === 'none' ? 'không có' : known})`,
  ],
  [
    /^"([^"]*)" is not a destination in this file \(known: (.*)\)$/,
    (_m, r, known) => `"${r}" không phải là đích gửi trong tệp này (các đích có: ${known === 'none' ? 'không có' : known})`,
  ],
  [/^secret "([^"]*)" is not in (.*)$/, 'bí mật "$1" không có trong $2'],
  [
    /^secret "([^"]*)" is not a password hash: run edge-agent hash-password, type the password, and put the line it prints here$/,
    'bí mật "$1" không phải mã băm mật khẩu: chạy edge-agent hash-password, gõ mật khẩu, rồi dán dòng lệnh đó in ra vào đây',
  ],
  [/^secret "([^"]*)" is a placeholder: put the real value here$/, 'bí mật "$1" vẫn là giá trị mẫu: hãy điền giá trị thật vào đây'],
  [
    /^secret "([^"]*)" is a placeholder: accepted only because this is checked as an example; a box refuses it$/,
    'bí mật "$1" vẫn là giá trị mẫu: chỉ được chấp nhận vì đang kiểm tra tệp mẫu; hộp thật sẽ từ chối',
  ],
  [
    /^secrets file (.+?) not found: copy (\S+) beside it to (\S+), put the real values in, and make each password hash with edge-agent hash-password$/,
    'không tìm thấy tệp bí mật $1: sao chép $2 (cùng thư mục) thành $3, điền các giá trị thật, và tạo từng mã băm mật khẩu bằng edge-agent hash-password',
  ],
  [
    /^secrets file (.+?) not found: write it with the secrets this file names \((.*)\) and make each password hash with edge-agent hash-password \(the package's example is (\S+)\)$/,
    'không tìm thấy tệp bí mật $1: hãy tạo tệp với các bí mật mà tệp cấu hình này dùng ($2) và tạo từng mã băm mật khẩu bằng edge-agent hash-password (tệp mẫu của gói cài đặt: $3)',
  ],
  [
    /^services "([^"]*)" and "([^"]*)" are both numbered (\S+)… and share counter (.+): the voice calls only the number, so give one of them another prefix$/,
    'dịch vụ "$1" và "$2" đều đánh số $3… và cùng gọi ở quầy $4: loa chỉ đọc số, nên hãy đặt cho một trong hai dịch vụ một tiền tố khác ("prefix")',
  ],
  [/^warning: (.*)$/s, (_m, rest) => `cảnh báo: ${viProblemMessage(rest)}`],
  [/^cannot read the file \((.*)\)$/, 'không đọc được tệp ($1)'],
  [
    /^this looks like a secrets file \(the values "!secret NAME" refers to\), not a configuration: check the configuration that uses it$/,
    'tệp này có vẻ là tệp bí mật (các giá trị mà "!secret TÊN" trỏ tới), không phải tệp cấu hình: hãy kiểm tra tệp cấu hình dùng nó',
  ],
  [/^the file must be a YAML mapping \(key: value lines\)$/, 'tệp phải là một ánh xạ YAML (các dòng khoá: giá trị)'],
  [/^YAML: Map keys must be unique.*$/, 'lỗi YAML: một khoá xuất hiện hai lần trong cùng một khối'],
  [
    /^YAML: Nested mappings are not allowed in compact mappings.*$/,
    'lỗi YAML: không được lồng khối khoá: giá trị trên cùng một dòng (thiếu xuống dòng hoặc dấu ngoặc?)',
  ],
  [/^YAML: Implicit keys need to be on a single line.*$/, 'lỗi YAML: khoá phải nằm trên một dòng (thiếu dấu hai chấm hoặc thụt lề sai?)'],
  [/^YAML: All mapping items must start at the same column.*$/, 'lỗi YAML: các dòng trong một khối phải thụt lề bằng nhau'],
  [/^YAML: Missing closing "?quote.*$/i, 'lỗi YAML: thiếu dấu ngoặc kép đóng'],
  [/^YAML: Tabs are not allowed as indentation.*$/i, 'lỗi YAML: không được thụt lề bằng phím Tab, hãy dùng dấu cách'],
  [
    /^YAML: Flow sequence in block collection must be sufficiently indented and end with a \].*$/,
    'lỗi YAML: danh sách [ … ] thiếu dấu "]" đóng, hoặc thụt lề chưa đủ',
  ],
  [/^YAML: Flow map in block collection must be sufficiently indented and end with a \}.*$/, 'lỗi YAML: khối { … } thiếu dấu "}" đóng, hoặc thụt lề chưa đủ'],
  [/^YAML: Unexpected (.*)$/, 'lỗi YAML: gặp ký tự không mong đợi ($1)'],
  [/^YAML: (.*)$/, 'lỗi cú pháp YAML: $1'],
  [
    /^port (\d+)( \(default\))? is already used by (\S+) \(([^)]*)\)(; (\S+) listens on every address)?$/,
    (_m, port, dflt, owner, where, _w, wildcard) =>
      `cổng ${port}${dflt ? ' (mặc định)' : ''} đã được ${owner} dùng (${viDefault(where)})${wildcard ? `; ${wildcard} nghe trên mọi địa chỉ của hộp` : ''}`,
  ],
  [/^path (\S+) is already used by (\S+) \(([^)]*)\)$/, (_m, path, owner, where) => `thiết bị ${path} đã được ${owner} dùng (${viDefault(where)})`],
  [/^"([^"]*)" is not an IP address or network \(e\.g\. (.*)\)$/, '"$1" không phải địa chỉ IP hay dải mạng (ví dụ $2)'],
  [/^"([^"]*)": the prefix length must be (.*)$/, '"$1": độ dài tiền tố mạng phải trong khoảng $2'],
  // Ajv's own messages (schema keywords without a custom text)
  [/^must be <= (.*)$/, 'phải ≤ $1'],
  [/^must be >= (.*)$/, 'phải ≥ $1'],
  [/^must be < (.*)$/, 'phải < $1'],
  [/^must be > (.*)$/, 'phải > $1'],
  [/^must be multiple of (.*)$/, 'phải là bội số của $1'],
  [/^must NOT have more than (\d+) characters$/, 'không được dài quá $1 ký tự'],
  [/^must NOT have fewer than (\d+) characters$/, 'phải có ít nhất $1 ký tự'],
  [/^must NOT have more than (\d+) items$/, 'không được có quá $1 mục'],
  [/^must NOT have fewer than (\d+) items$/, 'phải có ít nhất $1 mục'],
  [/^must NOT have more than (\d+) properties$/, 'không được có quá $1 trường'],
  [/^must NOT have fewer than (\d+) properties$/, 'phải có ít nhất $1 trường'],
  [/^must NOT have duplicate items \(items ## (\d+) and (\d+) are identical\)$/, 'không được có mục trùng nhau (mục $2 và $1 giống nhau)'],
  [/^must match format "([^"]*)"$/, 'phải đúng định dạng "$1"'],
  [/^must match pattern "(.*)"$/, 'không đúng dạng quy định ($1)'],
  [/^must match exactly one schema in oneOf$/, 'phải khớp đúng một trong các dạng được phép'],
  [/^must match a schema in anyOf$/, 'không khớp dạng nào được phép'],
  [/^must NOT be valid$/, 'không được dùng giá trị này ở đây'],
  [/^must have required property '([^']*)'$/, 'thiếu trường bắt buộc "$1"'],
  [/^must be equal to constant$/, 'phải đúng giá trị quy định'],
  [/^must be equal to one of the allowed values$/, 'phải là một trong các giá trị được phép'],
  [
    /^must be ([a-z]+(,[a-z]+)*)$/,
    (m, types) =>
      types.split(',').every((x) => x in TYPES_VI)
        ? `phải là ${types
            .split(',')
            .map((x) => TYPES_VI[x])
            .join(' hoặc ')}`
        : m,
  ],
  [/^must be (.*)$/, 'phải là $1'],
];

/** One configuration problem message in Vietnamese; unchanged when its shape is not known. */
export function viProblemMessage(message) {
  for (const [pattern, replacement] of PROBLEMS) if (pattern.test(message)) return message.replace(pattern, replacement);
  return message;
}

import { access, constants } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { SetupDevice } from './draft.ts';

export interface ProbeResult {
  ok: boolean;
  /** Vietnamese: read by IT staff at the setup page. */
  detail: string;
}

const PCSCD_SOCKET = '/run/pcscd/pcscd.comm';
const CONNECT_TIMEOUT_MS = 3_000;

/**
 * The setup page's test button: before any agent runs, checks what can be checked from the box
 * for a device as entered (the port it will listen on is free, the printer or analyzer it calls
 * answers, the serial or USB device exists and the agent may open it, pcscd runs).
 */
export async function probeDevice(d: SetupDevice, setupPort: number): Promise<ProbeResult> {
  switch (d.kind) {
    case 'lab-astm':
      if (d.transport === 'serial') return probePath(d.path, 'dialout');
      if (d.transport === 'tcp-client') return probeConnect(d.host, d.port, 'máy xét nghiệm');
      return probeListen(d.port, setupPort);
    case 'lab-hl7':
    case 'modality':
      return probeListen(d.port, setupPort);
    case 'printer':
      return d.transport === 'device' ? probePath(d.path, 'lp') : probeConnect(d.host, d.port ?? 9100, 'máy in');
    case 'card-reader':
      return existsSync(PCSCD_SOCKET)
        ? { ok: true, detail: 'Dịch vụ đọc thẻ pcscd đang chạy. Chạm thử thẻ sau khi cài xong (tab Thiết bị, nút Kiểm tra).' }
        : {
            ok: false,
            detail: `Dịch vụ đọc thẻ pcscd chưa chạy (không có ${PCSCD_SOCKET}): sudo systemctl enable --now pcscd.socket, cắm đầu đọc rồi thử lại.`,
          };
  }
}

function probeListen(port: number | undefined, setupPort: number): Promise<ProbeResult> {
  if (!port) return Promise.resolve({ ok: false, detail: 'Chưa nhập cổng.' });
  if (port === setupPort) return Promise.resolve({ ok: false, detail: `Cổng ${port} là cổng của trang cấu hình và bảng điều khiển: chọn cổng khác.` });
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      resolve({
        ok: false,
        detail:
          err.code === 'EADDRINUSE'
            ? `Cổng ${port} đang được chương trình khác dùng.`
            : err.code === 'EACCES'
              ? `Không được mở cổng ${port} (cổng dưới 1024 cần quyền quản trị): chọn cổng từ 1024 trở lên.`
              : `Không mở được cổng ${port}: ${err.code ?? err.message}.`,
      }),
    );
    server.listen(port, '0.0.0.0', () =>
      server.close(() => resolve({ ok: true, detail: `Cổng ${port} còn trống: thiết bị sẽ gửi tới địa chỉ của máy này, cổng ${port}.` })),
    );
  });
}

function probeConnect(host: string | undefined, port: number | undefined, what: string): Promise<ProbeResult> {
  if (!host || !port) return Promise.resolve({ ok: false, detail: 'Chưa nhập địa chỉ hoặc cổng.' });
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: CONNECT_TIMEOUT_MS });
    const done = (r: ProbeResult) => {
      socket.destroy();
      resolve(r);
    };
    socket.once('connect', () => done({ ok: true, detail: `Kết nối được tới ${what} ${host}:${port}.` }));
    socket.once('timeout', () =>
      done({
        ok: false,
        detail: `${what} ${host}:${port} không trả lời sau ${CONNECT_TIMEOUT_MS / 1000} giây: kiểm tra địa chỉ, dây mạng và thiết bị đã bật.`,
      }),
    );
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done({
        ok: false,
        detail:
          err.code === 'ECONNREFUSED'
            ? `${what} ${host}:${port} từ chối kết nối: kiểm tra cổng.`
            : `Không kết nối được tới ${what} ${host}:${port}: ${err.code ?? err.message}.`,
      }),
    );
  });
}

async function probePath(path: string | undefined, group: string): Promise<ProbeResult> {
  if (!path) return { ok: false, detail: 'Chưa nhập đường dẫn thiết bị (ví dụ /dev/serial/by-id/… hoặc /dev/usb/lp0).' };
  if (!existsSync(path)) return { ok: false, detail: `Không thấy ${path}: cắm thiết bị rồi thử lại (ls /dev/serial/by-id/ cho cáp USB-RS232).` };
  try {
    await access(path, constants.R_OK | constants.W_OK);
    return { ok: true, detail: `Thấy ${path} và mở được.` };
  } catch {
    return { ok: false, detail: `Thấy ${path} nhưng không được mở: người dùng edge-agent cần thuộc nhóm ${group}.` };
  }
}

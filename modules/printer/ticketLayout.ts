import { drawRaster, measureText, registerTicketFonts, type DrawItem, type TextStyle } from './textRenderer.ts';
import type { Raster } from './raster.ts';

/** What a queue ticket shows (no personal data: no name, no CCCD). */
export interface TicketPrint {
  facility: string;
  service: string;
  number: string;
  /** Priority class label, e.g. "Người từ 75 tuổi"; null when not a priority ticket. */
  priority: string | null;
  /** Local time of issue, already formatted ("08:05 22/11/2026"). */
  issuedAtLocal: string;
  ahead: number;
  /** Printed by the printer itself (GS ( k) under the raster. */
  qr?: string;
  ticketId: string;
}

/** Styles at 576 dots (80 mm); 384 dots (58 mm) scales them by 2/3. */
export type TicketRole = 'facility' | 'service' | 'caption' | 'number' | 'priority' | 'detail';
export const TICKET_STYLES: Record<TicketRole, TextStyle> = {
  facility: { size: 26, bold: true },
  service: { size: 36, bold: true },
  caption: { size: 26 },
  number: { size: 150, bold: true },
  priority: { size: 30, bold: true },
  detail: { size: 24 },
};

export type TicketWidth = 576 | 384;

export function stylesFor(width: TicketWidth): typeof TICKET_STYLES {
  if (width === 576) return TICKET_STYLES;
  const k = 2 / 3;
  const s = (t: TextStyle): TextStyle => ({ ...t, size: Math.round(t.size * k) });
  return {
    facility: s(TICKET_STYLES.facility),
    service: s(TICKET_STYLES.service),
    caption: s(TICKET_STYLES.caption),
    number: s(TICKET_STYLES.number),
    priority: s(TICKET_STYLES.priority),
    detail: s(TICKET_STYLES.detail),
  };
}

/** The text lines of a ticket, top to bottom, with their style (the recogniser compares these). */
export function ticketLines(t: TicketPrint, width: TicketWidth): Array<{ role: keyof typeof TICKET_STYLES; text: string; style: TextStyle }> {
  const st = stylesFor(width);
  const lines: Array<{ role: keyof typeof TICKET_STYLES; text: string; style: TextStyle }> = [];
  for (const part of wrap(t.facility.normalize('NFC'), st.facility, width - 16)) lines.push({ role: 'facility', text: part, style: st.facility });
  for (const part of wrap(t.service.normalize('NFC'), st.service, width - 16)) lines.push({ role: 'service', text: part, style: st.service });
  lines.push({ role: 'caption', text: 'Số thứ tự', style: st.caption });
  lines.push({ role: 'number', text: t.number, style: st.number });
  if (t.priority) lines.push({ role: 'priority', text: `ƯU TIÊN: ${t.priority}`.normalize('NFC'), style: st.priority });
  lines.push({ role: 'detail', text: `Giờ lấy số: ${t.issuedAtLocal}`, style: st.detail });
  lines.push({ role: 'detail', text: `Số người chờ trước bạn: ${t.ahead}`, style: st.detail });
  return lines;
}

/** Greedy word wrap; a single word wider than the line is left as is (it is clipped). */
function wrap(text: string, style: TextStyle, max: number): string[] {
  const words = text.split(/\s+/).filter(Boolean);
  const out: string[] = [];
  let line = '';
  for (const w of words) {
    const next = line ? `${line} ${w}` : w;
    if (line && measureText(next, style) > max) {
      out.push(line);
      line = w;
    } else line = next;
  }
  if (line) out.push(line);
  return out;
}

/**
 * Renders a ticket to a 1-bit raster `width` dots wide. Lines are centred on whole dots and
 * separated by at least a third of a line of white so a reader can split them again.
 */
export function renderTicket(t: TicketPrint, width: TicketWidth, fontDir?: string): Raster {
  registerTicketFonts(fontDir);
  const lines = ticketLines(t, width);
  const items: DrawItem[] = [];
  const rules: Array<{ y: number; h: number }> = [];
  let y = 8;
  for (const line of lines) {
    const s = line.style.size;
    const w = measureText(line.text, line.style);
    const x = Math.max(8, Math.round((width - w) / 2));
    // Ascent of DejaVu ≈ 0.93 em (with Vietnamese stacked marks), descent ≈ 0.24 em.
    const top = y;
    const baseline = top + Math.round(s * 1.0);
    const bottom = top + Math.round(s * 1.3);
    const item: DrawItem = { text: line.text, style: line.style, x, baseline };
    if (line.role === 'priority') item.inverse = { x: 0, y: top - 6, w: width, h: bottom - top + 12 };
    items.push(item);
    y = bottom + Math.max(14, Math.round(s * 0.35));
    if (line.role === 'number') {
      rules.push({ y: y - 6, h: 3 });
      y += 10;
    }
  }
  return drawRaster(width, y + 8, items, rules);
}

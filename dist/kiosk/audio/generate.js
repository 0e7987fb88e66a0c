// Makes the call-screen voice clips with espeak-ng's Vietnamese voice (Debian package espeak-ng):
// words, digits 0–9, letters for prefixes, numbers 1–99 for counters, and a chime. Run at install
// or test time: `npx tsx kiosk/audio/generate.ts [--force] [--voice vi]`. A recorded clip placed
// in kiosk/audio/recorded/<id>.wav replaces the synthetic one (recordings sound far better).
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
const run = promisify(execFile);
const HERE = fileURLToPath(new URL('.', import.meta.url));
export const CLIPS_DIR = `${HERE}clips/`;
const RECORDED_DIR = `${HERE}recorded/`;
const VERSION = 2;
const DIGITS = ['không', 'một', 'hai', 'ba', 'bốn', 'năm', 'sáu', 'bảy', 'tám', 'chín'];
/** Clip id → what is said. Ids are file names (a-z, 0-9, '-'). */
export function clipTexts() {
    const texts = { 'moi-so': 'Mời số', 'uu-tien': 'ưu tiên', 'den-quay': 'đến quầy số' };
    // The kiosk's spoken prompts (attract screen, ticket handed out).
    texts['kiosk-attract'] = 'Xin mời đặt thẻ căn cước lên đầu đọc, hoặc quét mã QR trên thẻ, để lấy số khám bệnh.';
    texts['kiosk-take-ticket'] = 'Mời bạn nhận phiếu số thứ tự.';
    DIGITS.forEach((w, d) => (texts[`digit-${d}`] = w));
    for (const ch of 'abcdefghijklmnopqrstuvwxyz')
        texts[`letter-${ch}`] = ch.toUpperCase();
    // espeak-ng reads "12" as a number ("mười hai"): right for counters.
    for (let n = 1; n <= 99; n++)
        texts[`num-${n}`] = String(n);
    return texts;
}
/** A two-note chime as 16-bit mono WAV (no tool needed). */
export function chimeWav(rate = 22050) {
    const notes = [
        [659.25, 0.35],
        [523.25, 0.55],
    ];
    const samples = [];
    for (const [f, dur] of notes) {
        const n = Math.round(rate * dur);
        for (let i = 0; i < n; i++)
            samples.push(Math.sin((2 * Math.PI * f * i) / rate) * Math.exp((-3 * i) / n) * 0.5);
    }
    const data = Buffer.alloc(samples.length * 2);
    samples.forEach((s, i) => data.writeInt16LE(Math.round(s * 32767), i * 2));
    const h = Buffer.alloc(44);
    h.write('RIFF', 0);
    h.writeUInt32LE(36 + data.length, 4);
    h.write('WAVEfmt ', 8);
    h.writeUInt32LE(16, 16);
    h.writeUInt16LE(1, 20);
    h.writeUInt16LE(1, 22);
    h.writeUInt32LE(rate, 24);
    h.writeUInt32LE(rate * 2, 28);
    h.writeUInt16LE(2, 32);
    h.writeUInt16LE(16, 34);
    h.write('data', 36);
    h.writeUInt32LE(data.length, 40);
    return Buffer.concat([h, data]);
}
/** espeak-ng pads each clip with silence; joined words sound halting. sox trims it when installed. */
async function trimSilence(path) {
    try {
        await run('sox', [path, `${path}.tmp.wav`, 'silence', '1', '0.02', '0.5%', 'reverse', 'silence', '1', '0.02', '0.5%', 'reverse', 'pad', '0', '0.05']);
        renameSync(`${path}.tmp.wav`, path);
    }
    catch {
        // Without sox the clips keep their padding: slower, still right.
    }
}
export async function generateClips(opts = {}) {
    const voice = opts.voice ?? 'vi';
    const manifestPath = `${CLIPS_DIR}manifest.json`;
    const texts = clipTexts();
    if (!opts.force && existsSync(manifestPath)) {
        const old = JSON.parse(readFileSync(manifestPath, 'utf8'));
        if (old.version === VERSION && old.voice === voice && Object.values(old.clips).every((c) => existsSync(CLIPS_DIR + c.file)))
            return old;
    }
    try {
        await run('espeak-ng', ['--version']);
    }
    catch {
        throw new Error('espeak-ng is missing: apt-get install espeak-ng (or put recorded clips in kiosk/audio/recorded/)');
    }
    mkdirSync(CLIPS_DIR, { recursive: true });
    const manifest = { version: VERSION, voice, clips: {} };
    writeFileSync(`${CLIPS_DIR}chime.wav`, existsSync(`${RECORDED_DIR}chime.wav`) ? readFileSync(`${RECORDED_DIR}chime.wav`) : chimeWav());
    manifest.clips.chime = { file: 'chime.wav', text: '', source: existsSync(`${RECORDED_DIR}chime.wav`) ? 'recorded' : 'generated' };
    const entries = Object.entries(texts);
    let next = 0;
    // A few espeak-ng processes at a time: ~140 clips in a couple of seconds.
    await Promise.all(Array.from({ length: 6 }, async () => {
        while (next < entries.length) {
            const [id, text] = entries[next++];
            const file = `${id}.wav`;
            if (existsSync(`${RECORDED_DIR}${file}`)) {
                copyFileSync(`${RECORDED_DIR}${file}`, CLIPS_DIR + file);
                manifest.clips[id] = { file, text, source: 'recorded' };
                continue;
            }
            await run('espeak-ng', ['-v', voice, '-s', String(opts.speed ?? 140), '-w', CLIPS_DIR + file, text]);
            await trimSilence(CLIPS_DIR + file);
            manifest.clips[id] = { file, text, source: 'espeak-ng' };
        }
    }));
    writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
    return manifest;
}
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
    const i = process.argv.indexOf('--voice');
    const started = Date.now();
    const m = await generateClips({ force: process.argv.includes('--force'), ...(i > 0 ? { voice: process.argv[i + 1] } : {}) });
    process.stdout.write(`${Object.keys(m.clips).length} clips in ${CLIPS_DIR} (${Date.now() - started} ms)\n`);
}

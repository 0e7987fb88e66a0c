import { fileURLToPath } from 'node:url';

/**
 * Where the call-screen voice clips live: EDGE_AUDIO_DIR when set (the package points it at the
 * state directory, /var/lib/edge-agent/audio, since /usr is read-only for the agent), else next
 * to this file (a source checkout).
 */
export const CLIPS_DIR = process.env.EDGE_AUDIO_DIR
  ? `${process.env.EDGE_AUDIO_DIR.replace(/\/+$/, '')}/`
  : fileURLToPath(new URL('./clips/', import.meta.url));

/** A device that posts a JSON reading every few seconds (demo of the http-ingest driver). */
export function startJsonDevice(options: { url: string; everyMs: number; token: string }): { stop: () => Promise<void> } {
  let n = 0;
  const timer = setInterval(() => {
    n++;
    const reading = { sequence: n, measuredAt: new Date().toISOString(), spo2: 95 + (n % 4), pulse: 70 + (n % 9) };
    fetch(options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}`, 'idempotency-key': `demo-monitor-${Date.now()}-${n}` },
      body: JSON.stringify(reading),
    }).catch(() => undefined);
  }, options.everyMs);
  return { stop: async () => clearInterval(timer) };
}

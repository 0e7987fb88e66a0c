import { createServer } from 'node:http';
import { formatProblem } from "../config/types.js";
/**
 * When the configuration is invalid the agent does not start, but IT staff who only have a
 * browser still need to see why: this page lists every problem on the agent's HTTP port.
 */
export function serveConfigProblems(host, port, problems) {
    const escape = (s) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
    const html = `<!doctype html><html lang="vi"><meta charset="utf-8"><title>Cấu hình lỗi — configuration error</title>
<style>body{font:18px system-ui,sans-serif;margin:2rem;max-width:70rem}li{margin:.5rem 0;font-family:monospace}h1{color:#a00}</style>
<h1>Edge agent: cấu hình không hợp lệ / configuration is invalid</h1>
<p>The agent did not start. Fix these ${problems.length} problem(s), check with <code>edge-agent check-config FILE</code>, then restart the service (<code>systemctl restart edge-agent</code>).</p>
<ol>${problems.map((p) => `<li>${escape(formatProblem(p))}</li>`).join('')}</ol></html>`;
    const server = createServer((req, res) => {
        const wantsJson = (req.headers.accept ?? '').includes('application/json') || req.url?.startsWith('/api') || req.url?.startsWith('/readyz');
        res.statusCode = req.url === '/healthz' ? 200 : 503;
        if (wantsJson) {
            res.setHeader('content-type', 'application/json');
            res.end(JSON.stringify({ error: 'configuration is invalid', problems: problems.map(formatProblem) }));
        }
        else {
            res.setHeader('content-type', 'text/html; charset=utf-8');
            res.end(html);
        }
    });
    return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve(server));
    });
}

import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * onRequest hook: a browser request (it carries `Origin`) must come from a page the box served
 * itself — the origin of the request's own Host — or from a configured origin. Any other web
 * page a staff PC opens gets 403 before anything is read; requests without `Origin` (scripts,
 * the box's own tools) go on to the credential check. WebSocket upgrades carry `Origin` too.
 */
export function originGuard(allowedOrigins: readonly string[] = []) {
  const allowed = new Set(allowedOrigins.map((o) => o.replace(/\/+$/, '').toLowerCase()));
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    const o = origin.toLowerCase();
    const host = req.headers.host?.toLowerCase();
    if (host && (o === `http://${host}` || o === `https://${host}`)) return;
    if (allowed.has(o)) return;
    // The origin is a web address, not personal data: logged so IT can see which page tried.
    req.log.warn({ origin: origin.slice(0, 200), route: req.routeOptions.url }, 'request from a foreign web page refused');
    await reply.code(403).send({ error: `requests from the web page ${origin.slice(0, 200)} are not accepted: only the box's own pages may use this route` });
  };
}

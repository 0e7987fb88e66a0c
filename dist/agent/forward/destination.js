/**
 * Streams that are another view of what a device sent (the raw message, the results grouped per
 * order): journaled for every device, forwarded only to destinations that name them in streams().
 */
export const VIEW_STREAMS = new Set(['lab.message', 'lab.report']);
/** Which of `routes` take an entry of `stream`, given each destination's streams (absent: the default). */
export function routesTaking(routes, stream, streamsOf) {
    return routes.filter((d) => {
        const streams = streamsOf(d);
        return streams ? streams.includes(stream) : !VIEW_STREAMS.has(stream);
    });
}

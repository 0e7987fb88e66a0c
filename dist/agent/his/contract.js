export const HIS_CHECKIN_STREAM = 'his.checkin';
export const HIS_CHECKIN_KIND = 'checkin';
/**
 * The idempotency key of a check-in: the ticket is unique per service and local day, so a retry
 * after an unknown outcome (or a kiosk that journals twice) never registers the patient twice.
 */
export function checkInKey(checkIn) {
    return `checkin:${checkIn.ticket.issuedAt.slice(0, 10)}:${checkIn.service.code}:${checkIn.ticket.number}`;
}
/** The journal entry the kiosk appends; the HIS destination (`routes`) delivers it later if the HIS is down. */
export function checkInJournalInput(checkIn, hisDestination) {
    return {
        stream: HIS_CHECKIN_STREAM,
        kind: HIS_CHECKIN_KIND,
        idempotencyKey: checkInKey(checkIn),
        parsed: checkIn,
        personal: true,
        routes: [hisDestination],
        // One ordered lane: registrations reach the HIS in issue order.
        orderKey: HIS_CHECKIN_STREAM,
        priority: 'clinical',
    };
}
/** Plain-Vietnamese texts for the kiosk when the HIS cannot be asked. */
export const HIS_UNREACHABLE_MESSAGE = 'Hiện chưa kết nối được với hệ thống của bệnh viện.';
export const HIS_UNREACHABLE_NEXT_STEP = 'Bạn vẫn lấy số bình thường; nhân viên quầy tiếp đón sẽ kiểm tra giúp bạn.';

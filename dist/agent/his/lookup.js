import { HIS_UNREACHABLE_MESSAGE } from "./contract.js";
import { HttpHisLookup } from "./httpHis.js";
import { VssGatewayClient } from "./vssGatewayClient.js";
function notSupported(what) {
    return { ok: false, reason: 'not-supported', message: `${what} is not configured on this box`, patientMessage: HIS_UNREACHABLE_MESSAGE };
}
/** The kiosk's look-ups: appointments from the HIS, insurance from the gateway when configured, else from the HIS. */
export function createHisLookup(config) {
    const http = config.http ? new HttpHisLookup(config.http) : null;
    const gateway = config.vssGateway ? new VssGatewayClient(config.vssGateway) : null;
    return {
        findAppointments(cccd, day, signal) {
            return http ? http.findAppointments(cccd, day, signal) : Promise.resolve(notSupported('appointment look-up'));
        },
        getInsuranceStatus(identity, signal) {
            if (gateway)
                return gateway.getInsuranceStatus(identity, signal);
            return http ? http.getInsuranceStatus(identity, signal) : Promise.resolve(notSupported('insurance look-up'));
        },
    };
}

import type { HisAppointment, HisIdentity, HisLookup, InsuranceStatus, LookupResult } from './contract.ts';
import { HIS_UNREACHABLE_MESSAGE } from './contract.ts';
import { HttpHisLookup, type HisHttpConfig } from './httpHis.ts';
import { VssGatewayClient, type VssGatewayConfig } from './vssGatewayClient.ts';

export interface HisLookupConfig {
  /** A HIS with an HTTPS/JSON API: appointments, and insurance unless `vssGateway` is set. */
  http?: HisHttpConfig;
  /** Direct insurance look-ups at the Vietnam Social Security gateway (stations without a HIS). */
  vssGateway?: VssGatewayConfig;
}

function notSupported<T>(what: string): LookupResult<T> {
  return { ok: false, reason: 'not-supported', message: `${what} is not configured on this box`, patientMessage: HIS_UNREACHABLE_MESSAGE };
}

/** The kiosk's look-ups: appointments from the HIS, insurance from the gateway when configured, else from the HIS. */
export function createHisLookup(config: HisLookupConfig): HisLookup {
  const http = config.http ? new HttpHisLookup(config.http) : null;
  const gateway = config.vssGateway ? new VssGatewayClient(config.vssGateway) : null;
  return {
    findAppointments(cccd: string, day: string, signal?: AbortSignal): Promise<LookupResult<HisAppointment[]>> {
      return http ? http.findAppointments(cccd, day, signal) : Promise.resolve(notSupported('appointment look-up'));
    },
    getInsuranceStatus(identity: HisIdentity, signal?: AbortSignal): Promise<LookupResult<InsuranceStatus>> {
      if (gateway) return gateway.getInsuranceStatus(identity, signal);
      return http ? http.getInsuranceStatus(identity, signal) : Promise.resolve(notSupported('insurance look-up'));
    },
  };
}

import type { Driver, DriverContext, DriverFactory, DriverStatus, SelfTestResult } from '../contract.ts';
import { DicomScp } from './net/dicomScp.ts';
import type { AllowedCaller } from './net/dicomScp.ts';
import { echo } from './net/scu.ts';

/** The `dicom-scp` device block (see drivers/dicom/schema.json). */
export interface DicomScpDriverConfig {
  host?: string;
  port?: number;
  aeTitle?: string;
  allowedCallers?: AllowedCaller[];
  maxAssociations?: number;
  sopClasses?: string[];
  transferSyntaxes?: string[];
  worklist?: boolean;
  worklistStationAe?: string;
  worklistDefaultModality?: string;
  worklistCodingScheme?: string;
  maxPduLength?: number;
  artimMs?: number;
  idleTimeoutMs?: number;
}

/** Modalities (CT, US, DR, endoscopy) sending images to the box over DICOM. */
class DicomScpDriver implements Driver {
  private scp: DicomScp | null = null;
  private since = new Date().toISOString();

  constructor(
    private readonly ctx: DriverContext,
    private readonly config: DicomScpDriverConfig,
  ) {}

  async start(): Promise<void> {
    const c = this.config;
    this.ctx.blobs.prepare?.();
    this.scp = new DicomScp(this.ctx, {
      host: c.host ?? '0.0.0.0',
      port: c.port ?? 11112,
      aeTitle: c.aeTitle ?? 'EDGE',
      ...(c.allowedCallers ? { allowedCallers: c.allowedCallers } : {}),
      maxAssociations: c.maxAssociations ?? 8,
      ...(c.sopClasses ? { sopClasses: c.sopClasses } : {}),
      ...(c.transferSyntaxes ? { transferSyntaxes: c.transferSyntaxes } : {}),
      worklist: c.worklist ?? true,
      ...(c.worklistStationAe ? { worklistStationAe: c.worklistStationAe } : {}),
      ...(c.worklistDefaultModality ? { worklistDefaultModality: c.worklistDefaultModality } : {}),
      ...(c.worklistCodingScheme ? { worklistCodingScheme: c.worklistCodingScheme } : {}),
      maxPduLength: c.maxPduLength ?? 1024 * 1024,
      artimMs: c.artimMs ?? 30_000,
      idleTimeoutMs: c.idleTimeoutMs ?? 300_000,
    });
    await this.scp.start();
    this.since = new Date().toISOString();
    this.ctx.setStatus('running', this.detail());
  }

  async stop(): Promise<void> {
    await this.scp?.stop();
    this.scp = null;
  }

  status(): DriverStatus {
    if (!this.scp) return { state: 'stopped', since: this.since };
    return { state: 'running', since: this.since, detail: this.detail(), counters: { ...this.scp.counters, open: this.scp.associations } };
  }

  /** C-ECHO to our own AE: proves the listener, negotiation and DIMSE path end to end. */
  async selfTest(signal: AbortSignal): Promise<SelfTestResult> {
    if (!this.scp) return { ok: false, detail: 'not listening' };
    const { port } = this.scp.address;
    const host = this.scp.address.host === '0.0.0.0' || this.scp.address.host === '::' ? '127.0.0.1' : this.scp.address.host;
    const aeTitle = this.config.aeTitle ?? 'EDGE';
    const callingAe = this.config.allowedCallers?.find((c) => !c.addresses?.length)?.aeTitle ?? 'EDGE_SELFTEST';
    const c = this.scp.counters;
    const seen = `${c.stored} instance(s) stored, ${c.duplicates} duplicate(s), ${c.failed} failed, ${c.rejected} association(s) refused`;
    const started = Date.now();
    try {
      await echo({ host, port, calledAe: aeTitle, callingAe, signal });
      return { ok: true, detail: `C-ECHO to ${aeTitle} on port ${port} succeeded (${Date.now() - started} ms); ${seen}` };
    } catch (err) {
      return { ok: false, detail: `C-ECHO to ${aeTitle} on port ${port} failed: ${(err as Error).message}; ${seen}` };
    }
  }

  private detail(): string {
    const a = this.scp?.address;
    return a ? `AE ${this.config.aeTitle ?? 'EDGE'} listening on ${a.host}:${a.port}, ${this.scp!.associations} association(s)` : 'stopped';
  }

  /** For tests: the bound port (the configuration may say 0). */
  get port(): number {
    return this.scp?.address.port ?? 0;
  }
}

export const dicomScpDriverFactory: DriverFactory<DicomScpDriverConfig> = {
  type: 'dicom-scp',
  create: (ctx, config) => new DicomScpDriver(ctx, config),
};

export { DicomScpDriver };
export { dicomCStoreDestinationFactory } from './net/cstoreDestination.ts';
export { dicomStowRsDestinationFactory } from './stowrs.ts';

import { portHold, type Driver, type DriverContext, type DriverFactory, type DriverStatus, type SelfTestResult } from '../../core/contract/driver.ts';
import { DicomScp } from './net/dicomScp.ts';
import type { AllowedCaller, DicomListenerLimits, DicomTlsSettings } from './net/dicomScp.ts';
import { echo } from './net/scu.ts';
import type { EdgeModule } from '../../core/contract/module.ts';
import { createCommitmentTables, STORAGE_COMMITMENT_SERVICE } from './data/commitmentStore.ts';
import { extractInstanceMeta } from './data/instanceMeta.ts';
import { backfillStudyIndex, createStudyIndexTables, SqliteStudyIndex, STUDY_INDEX_SERVICE } from './data/studyIndex.ts';
import { StorageCommitmentService } from './net/commitmentService.ts';
import { dicomCStoreDestinationFactory } from './net/cstoreDestination.ts';
import { dicomStowRsDestinationFactory } from './stowrs.ts';
import { studiesRoutes } from './studiesRoutes.ts';

/** The `dicom-scp` device block (see modules/dicom/schema.json). */
export interface DicomScpDriverConfig {
  host?: string;
  port?: number;
  aeTitle?: string;
  allowedCallers?: AllowedCaller[];
  allowedPeers?: string[];
  limits?: Partial<DicomListenerLimits>;
  tls?: DicomTlsSettings;
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

/**
 * An association idle this long is aborted. Orthanc's DicomScpTimeout is 30 s and modalities
 * live with it; twice that leaves a technologist room between two series, while an association
 * held idle by someone else no longer blocks a slot for 5 minutes (and the SCP, when full,
 * takes an idle one back after 2 s anyway).
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

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
      allowedCallers: c.allowedCallers ?? [],
      ...(c.allowedPeers ? { allowedPeers: c.allowedPeers } : {}),
      limits: { maxConnections: c.limits?.maxConnections ?? 16, maxConnectionsPerPeer: c.limits?.maxConnectionsPerPeer ?? 4 },
      ...(c.tls ? { tls: c.tls } : {}),
      maxAssociations: c.maxAssociations ?? 8,
      ...(c.sopClasses ? { sopClasses: c.sopClasses } : {}),
      ...(c.transferSyntaxes ? { transferSyntaxes: c.transferSyntaxes } : {}),
      worklist: c.worklist ?? true,
      ...(c.worklistStationAe ? { worklistStationAe: c.worklistStationAe } : {}),
      ...(c.worklistDefaultModality ? { worklistDefaultModality: c.worklistDefaultModality } : {}),
      ...(c.worklistCodingScheme ? { worklistCodingScheme: c.worklistCodingScheme } : {}),
      maxPduLength: c.maxPduLength ?? 1024 * 1024,
      artimMs: c.artimMs ?? 30_000,
      idleTimeoutMs: c.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    });
    await this.scp.start();
    this.since = new Date().toISOString();
    this.ctx.setStatus(this.state(), this.detail());
  }

  /** Listening but refusing everyone (no allowedCallers) is not "running": IT staff must see it. */
  private state(): 'running' | 'degraded' {
    return this.scp?.callers.empty ? 'degraded' : 'running';
  }

  async stop(): Promise<void> {
    await this.scp?.stop();
    this.scp = null;
  }

  status(): DriverStatus {
    if (!this.scp) return { state: 'stopped', since: this.since };
    return { state: this.state(), since: this.since, detail: this.detail(), counters: { ...this.scp.counters, open: this.scp.associations } };
  }

  /**
   * C-ECHO to our own AE from the box itself: proves the listener, negotiation and DIMSE path
   * end to end. Its calling AE is a random one only this process knows, admitted from loopback
   * only, so the self-test needs no caller entry that a stranger could use too.
   */
  async selfTest(signal: AbortSignal): Promise<SelfTestResult> {
    const scp = this.scp;
    if (!scp) return { ok: false, detail: 'not listening' };
    const { port } = scp.address;
    const wildcard = scp.address.host === '0.0.0.0' || scp.address.host === '::';
    const host = wildcard ? '127.0.0.1' : scp.address.host;
    const aeTitle = this.config.aeTitle ?? 'EDGE';
    const c = scp.counters;
    const seen = `${c.stored} instance(s) stored, ${c.duplicates} duplicate(s), ${c.failed} failed, ${c.rejected} association(s) refused, ${c.refusedConnections} connection(s) refused`;
    const warning = scp.callers.empty ? '; WARNING: no allowedCallers, every modality is refused' : '';
    const started = Date.now();
    try {
      // Bound to a LAN address, the box dials that address and the kernel gives it as source too.
      await scp.selfTest((callingAe) => echo({ host, port, calledAe: aeTitle, callingAe, signal }));
      return { ok: !scp.callers.empty, detail: `C-ECHO to ${aeTitle} on port ${port} succeeded (${Date.now() - started} ms); ${seen}${warning}` };
    } catch (err) {
      return { ok: false, detail: `C-ECHO to ${aeTitle} on port ${port} failed: ${(err as Error).message}; ${seen}${warning}` };
    }
  }

  private detail(): string {
    const scp = this.scp;
    if (!scp) return 'stopped';
    const a = scp.address;
    const tls = scp.tlsAddress.port ? `, TLS on port ${scp.tlsAddress.port}` : '';
    const refusing = scp.callers.empty ? ' — no allowedCallers: every association is refused' : '';
    return `AE ${this.config.aeTitle ?? 'EDGE'} listening on ${a.host}:${a.port}${tls}, ${scp.associations} association(s)${refusing}`;
  }

  /** For tests: the bound port (the configuration may say 0). */
  get port(): number {
    return this.scp?.address.port ?? 0;
  }

  /** For tests: the bound TLS port (0: no TLS). */
  get tlsPort(): number {
    return this.scp?.tlsAddress.port ?? 0;
  }
}

export const dicomScpDriverFactory: DriverFactory<DicomScpDriverConfig> = {
  type: 'dicom-scp',
  create: (ctx, config) => new DicomScpDriver(ctx, config),
  holds: (d) => [
    ...portHold(['port'], d.host ?? '0.0.0.0', d.port ?? 11112),
    ...(d.tls ? portHold(['tls', 'port'], d.host ?? '0.0.0.0', (d.tls as { port?: unknown }).port) : []),
  ],
};

export { DicomScpDriver };
export { dicomCStoreDestinationFactory, dicomStowRsDestinationFactory };

/**
 * Imaging: the `dicom-scp` device, the C-STORE and STOW-RS destinations, the study index
 * (console, /api/studies) and storage commitment, with the index's retention.
 */
export const dicomModule: EdgeModule = {
  name: 'dicom',
  drivers: [dicomScpDriverFactory],
  destinations: [dicomCStoreDestinationFactory, dicomStowRsDestinationFactory],
  schema: {
    devices: [{ type: 'dicom-scp', file: new URL('./schema.json', import.meta.url) }],
    destinations: [
      { type: 'dicom-cstore', file: new URL('./destination.schema.json', import.meta.url) },
      { type: 'dicom-stowrs', file: new URL('./stowrs.schema.json', import.meta.url) },
    ],
  },
  provides: [STUDY_INDEX_SERVICE, STORAGE_COMMITMENT_SERVICE],
  // Step 1 is the tables as the box has had them (created in place if absent).
  migrations: [
    {
      version: 1,
      description: 'study index and storage commitment',
      up: (db) => {
        createStudyIndexTables(db);
        createCommitmentTables(db);
      },
    },
  ],
  start(ctx) {
    // What modalities sent, by patient/study/series, with forwarding state.
    const studyIndex = new SqliteStudyIndex(ctx.db);
    ctx.services.provide(STUDY_INDEX_SERVICE, studyIndex);
    // PACS-committed state per instance, before retention may drop a file.
    ctx.services.provide(
      STORAGE_COMMITMENT_SERVICE,
      new StorageCommitmentService({
        db: ctx.db,
        outbox: ctx.store.outbox,
        bus: ctx.bus,
        destinations: ctx.config.destinations,
        log: ctx.log.child({ module: 'storage-commitment' }),
        wake: (d) => ctx.wakeDestination(d),
      }).start(),
    );
    // A crash between an instance's journal append and its index row leaves it unlisted: list it now.
    void backfillStudyIndex(studyIndex, (ref) => ctx.store.blobs.path(ref), extractInstanceMeta)
      .then((r) => r.indexed + r.failed > 0 && ctx.log.info(r, 'study index caught up with the journal'))
      .catch((err) => ctx.log.warn({ err }, 'study index backfill failed'));
    return {
      async routes(app, api) {
        await app.register(studiesRoutes, { index: () => studyIndex, requireAdmin: api.requireAdmin as never });
      },
      retention(nowMs) {
        const { imagesDays, personalHours, personalMaxDays } = ctx.config.retention;
        // Images are personal data: listed as long as their files are kept (the shorter retention).
        return {
          studyInstancesPurged: studyIndex.purgeForwarded(Math.min(imagesDays, personalHours / 24), nowMs),
          studiesScrubbed: studyIndex.scrubPersonal(personalHours, nowMs, personalMaxDays),
        };
      },
      // Index rows still waiting for their batch (the backfill would redo them at the next start).
      stop: () => studyIndex.flush(),
    };
  },
};

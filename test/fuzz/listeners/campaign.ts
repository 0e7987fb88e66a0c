export interface ListenerReport { summary: string[]; failures: string[] }
export async function runListenerCampaign(_o: { seed: string; until: number; dir: string; rssMaxBytes: number; log: (l: string) => void }): Promise<ListenerReport> {
  return { summary: [], failures: [] };
}

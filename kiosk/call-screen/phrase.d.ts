export function phraseClips(number: string, counterNumber: number, priority: boolean): string[];

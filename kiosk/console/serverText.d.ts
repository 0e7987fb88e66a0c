export const STATES_VI: Record<string, string>;
export function viText(text: string | null | undefined): string;
export function viState(state: string): string;
export function parseProblem(text: string): { file: string; line: number; column: number; field: string; message: string } | null;
export function viProblemMessage(message: string): string;

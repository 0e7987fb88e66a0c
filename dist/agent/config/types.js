export function formatProblem(p) {
    return `${p.file}:${p.line}:${p.column} ${p.field || '(top level)'}: ${p.message}`;
}

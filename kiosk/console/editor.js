// The configuration editor: the textarea as it was, with a gutter of line numbers beside it
// (lines with a problem marked) and a way to jump to a line:column. Lines do not wrap, so a
// line number always sits beside its line.

export function lineEditor(textarea) {
  const gutter = document.createElement('div');
  gutter.className = 'gutter';
  gutter.setAttribute('aria-hidden', 'true');
  const wrap = document.createElement('div');
  wrap.className = 'editor';
  textarea.replaceWith(wrap);
  wrap.append(gutter, textarea);
  textarea.wrap = 'off';
  let marked = new Set();
  let shown = 0;

  const render = () => {
    const count = textarea.value.split('\n').length;
    if (count !== shown || gutter.dataset.marks !== [...marked].join(',')) {
      const numbers = [];
      for (let i = 1; i <= count; i++) {
        const n = document.createElement('div');
        n.textContent = String(i);
        if (marked.has(i)) n.className = 'bad';
        numbers.push(n);
      }
      // Room below the last line as in the textarea, whose horizontal scroll bar may take some.
      numbers.push(Object.assign(document.createElement('div'), { className: 'gutter-end' }));
      gutter.replaceChildren(...numbers);
      gutter.dataset.marks = [...marked].join(',');
      shown = count;
    }
    gutter.scrollTop = textarea.scrollTop;
  };
  textarea.addEventListener('input', render);
  textarea.addEventListener('scroll', () => (gutter.scrollTop = textarea.scrollTop));

  const lineHeight = () => parseFloat(getComputedStyle(textarea).lineHeight) || 20;
  // Monospace: every character as wide as one measured.
  const charWidth = () => {
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = getComputedStyle(textarea).font;
    return ctx.measureText('0').width || 8;
  };

  return {
    /** After the text was set from a script (value = …): numbers follow. */
    refresh: render,
    /** Marks the lines that have a problem (1-based). */
    mark(lines) {
      marked = new Set(lines);
      render();
    },
    /** Selects the line from `column`, scrolls it to a third of the height (and the column into view) and focuses the editor. */
    goTo(line, column = 1) {
      const lines = textarea.value.split('\n');
      const index = Math.min(Math.max(line, 1), lines.length) - 1;
      let start = 0;
      for (let i = 0; i < index; i++) start += lines[i].length + 1;
      const from = start + Math.min(Math.max(column - 1, 0), lines[index].length);
      textarea.focus({ preventScroll: true });
      textarea.setSelectionRange(from, start + lines[index].length);
      textarea.scrollTop = Math.max(0, index * lineHeight() - textarea.clientHeight / 3);
      textarea.scrollLeft = Math.max(0, (column - 1) * charWidth() - textarea.clientWidth / 2);
      render();
    },
  };
}

// Building the page without ever parsing data as markup: every value goes in through textContent or
// an attribute, so text planted in the audit log (an officer named "<script>...") stays text.

/** el('p', {class: 'x', for: 'id'}, 'text', child) */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else if (name === 'class') node.className = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

/** A table with a caption and headers; cells are text or nodes. */
export function table(caption, headers, rows, attributes = {}) {
  return el(
    'div',
    { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption },
    el(
      'table',
      attributes,
      el('caption', {}, caption),
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          headers.map((header) => el('th', { scope: 'col' }, header)),
        ),
      ),
      el(
        'tbody',
        {},
        rows.map((row) =>
          el(
            'tr',
            {},
            row.map((cell) => el('td', {}, cell ?? '')),
          ),
        ),
      ),
    ),
  );
}

/** A label, an input (or select) and the place its error goes, linked for screen readers. */
export function field(id, label, control, hint) {
  control.id = id;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : undefined;
  control.setAttribute('aria-describedby', [hintId, errorId].filter(Boolean).join(' '));
  return el(
    'div',
    { class: 'field', 'data-field': id },
    el('label', { for: id }, label),
    control,
    hint ? el('small', { id: hintId, class: 'hint' }, hint) : null,
    el('p', { id: errorId, class: 'field-error', 'aria-live': 'polite' }),
  );
}

export function input(attributes = {}) {
  return el('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', ...attributes });
}

export function select(options, attributes = {}) {
  return el(
    'select',
    attributes,
    options.map(([value, label]) => el('option', { value }, label)),
  );
}

/** A fieldset of checkboxes named `name`, one per value. */
export function checkboxes(name, legend, values, labelOf) {
  return el(
    'fieldset',
    { class: 'checks', id: name, 'data-field': name },
    el('legend', {}, legend),
    values.map((value) =>
      el('label', { class: 'check' }, el('input', { type: 'checkbox', name, value }), ` ${labelOf(value)}`),
    ),
    el('p', { id: `${name}-error`, class: 'field-error', 'aria-live': 'polite' }),
  );
}

export function checkedValues(form, name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);
}

export function formatTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

export function requesterText(requester) {
  if (!requester) return '';
  if (typeof requester === 'string') return requester;
  return requester.system ?? requester.department ?? JSON.stringify(requester);
}

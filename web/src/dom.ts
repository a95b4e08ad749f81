/** Small DOM helpers shared by the page's views. */

type Child = Node | string | null | undefined;

/**
 * `el('p', {class: 'x'}, 'text', child)`: an element with attributes and children. Strings
 * become text nodes: whatever they hold is never parsed as HTML.
 */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number | boolean | null | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null && value !== false) {
      node.setAttribute(name, value === true ? '' : String(value));
    }
  }
  node.append(...children.filter((child): child is Node | string => child != null));
  return node;
}

/** A value as indented JSON (for tool inputs), or as a string when it is not JSON. */
export function pretty(value: unknown): string {
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The element with this id; throws when index.html lacks it (a build mistake, not a state). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`index.html has no #${id}`);
  return node as T;
}

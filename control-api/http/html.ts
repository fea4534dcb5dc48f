/** Text for HTML content and attribute values: the five characters that could end either, as character references. */
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

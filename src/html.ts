/** Text for HTML content and quoted attribute values: none of & < > " ' survives unescaped. */
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`)
}

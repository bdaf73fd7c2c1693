export type Parsed =
  { ok: true; value: unknown } | { ok: false; error: string };

/** The admin's JSON, checked here so that a typo is never sent. */
export function parseJson(text: string): Parsed {
  if (text.trim() === '')
    return {
      ok: false,
      error: 'Invalid JSON: empty (write null to send nothing)',
    };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return {
      ok: false,
      error: `Invalid JSON: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}

/** Payloads are shown on one line, cut where they stop being readable anyway. */
export function preview(value: unknown, max = 2_000): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? 'undefined';
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** GET a path of a running app; the status and parsed JSON body. */
export async function getJson(
  baseUrl: string,
  path: string,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${baseUrl}${path}`);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (the metrics text): the raw text is the body.
  }
  return { status: res.status, body };
}

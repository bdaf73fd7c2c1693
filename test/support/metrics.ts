import { getJson } from './http.js';

/** The value of one sample of the Prometheus text, or undefined when absent. */
export function sample(
  text: string,
  name: string,
  labels = '',
): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined
    ? undefined
    : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** GET /metrics of a running app: the Prometheus text. */
export async function scrapeMetrics(httpUrl: string): Promise<string> {
  return (await getJson(httpUrl, '/metrics')).body as string;
}

/** How much one sample grew between two scrapes (an absent sample counts as 0). */
export function sampleDelta(
  before: string,
  after: string,
  name: string,
  labels = '',
): number {
  return (
    (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0)
  );
}

import type { BusMessage } from './message-bus.js';

const VERSION = 'g1';

/**
 * The wire form of a {@link BusMessage} between instances: one header line
 * `g1|<origin>|<exceptId>|<to>|<sentAt>` and the frame after it. The frame is already JSON, so
 * wrapping it in another JSON document would only escape every quote of it again. Ids and
 * timestamps never contain `|` or a newline.
 */
export function encodeBusMessage(message: BusMessage): string {
  return `${VERSION}|${message.origin}|${message.exceptId ?? ''}|${message.to ?? ''}|${message.sentAt ?? ''}\n${message.frame}`;
}

/** Parses what {@link encodeBusMessage} wrote; undefined for anything else. */
export function decodeBusMessage(raw: string): BusMessage | undefined {
  const newline = raw.indexOf('\n');
  if (newline === -1) return undefined;
  const header = raw.slice(0, newline).split('|');
  if (header.length !== 5 || header[0] !== VERSION || !header[1])
    return undefined;
  const [, origin, exceptId, to, sentAt] = header;
  const message: BusMessage = { origin, frame: raw.slice(newline + 1) };
  if (exceptId) message.exceptId = exceptId;
  if (to) message.to = to;
  if (/^\d+(\.\d+)?$/.test(sentAt)) message.sentAt = Number(sentAt);
  return message;
}

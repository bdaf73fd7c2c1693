import type { BusMessage } from './message-bus.js';

const VERSION = 'g1';
const STREAM_VERSION = 'g2';

/**
 * The wire form of a {@link BusMessage} between instances: one header line
 * `g1|<origin>|<exceptId>|<to>|<sentAt>` and the frame after it. The frame is already JSON, so
 * wrapping it in another JSON document would only escape every quote of it again. Ids and
 * timestamps never contain `|` or a newline.
 *
 * A room message with a stream position has the header
 * `g2|<origin>|<exceptId>|<to>|<sentAt>|<offset>|<epoch>`. Its offset is assigned where it is
 * stored, so the Redis history store writes that header itself, from
 * {@link streamHeaderStart} and the offset and epoch it knows.
 */
export function encodeBusMessage(message: BusMessage): string {
  if (message.offset !== undefined && message.epoch !== undefined)
    return `${streamHeaderStart(message)}${message.offset}|${message.epoch}\n${message.frame}`;
  return `${VERSION}|${message.origin}|${message.exceptId ?? ''}|${message.to ?? ''}|${message.sentAt ?? ''}\n${message.frame}`;
}

/**
 * The header of a room message with a stream position, up to its offset:
 * `g2|<origin>|<exceptId>|<to>|<sentAt>|`. Followed by `<offset>|<epoch>\n<frame>`.
 */
export function streamHeaderStart(
  message: Pick<BusMessage, 'origin' | 'exceptId' | 'to' | 'sentAt'>,
): string {
  return `${STREAM_VERSION}|${message.origin}|${message.exceptId ?? ''}|${message.to ?? ''}|${message.sentAt ?? ''}|`;
}

/** Parses what {@link encodeBusMessage} wrote; undefined for anything else. */
export function decodeBusMessage(raw: string): BusMessage | undefined {
  const newline = raw.indexOf('\n');
  if (newline === -1) return undefined;
  const header = raw.slice(0, newline).split('|');
  const stream = header[0] === STREAM_VERSION;
  if (
    header.length !== (stream ? 7 : 5) ||
    !(stream || header[0] === VERSION) ||
    !header[1]
  )
    return undefined;
  const [, origin, exceptId, to, sentAt] = header;
  const message: BusMessage = { origin, frame: raw.slice(newline + 1) };
  if (exceptId) message.exceptId = exceptId;
  if (to) message.to = to;
  if (/^\d+(\.\d+)?$/.test(sentAt)) message.sentAt = Number(sentAt);
  if (stream) {
    const [offset, epoch] = header.slice(5);
    if (!/^[1-9]\d{0,15}$/.test(offset) || !epoch) return undefined;
    message.offset = Number(offset);
    message.epoch = epoch;
  }
  return message;
}

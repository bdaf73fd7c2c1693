import type {
  ErrorPayload,
  JoinReply,
  ResumeFailure,
  ResumeResult,
} from '../protocol/index.js';

/** One room asked for in a `resume`, and what its reply said of it. */
export type RoomResumed =
  | { room: string; joined: JoinReply }
  | { room: string; error: ErrorPayload }
  | { room: string; missing: true };

function isFailure(result: ResumeResult): result is ResumeFailure {
  const error = (result as Partial<ResumeFailure>).error;
  return (
    error !== null &&
    typeof error === 'object' &&
    typeof (error as Partial<ErrorPayload>).code === 'string'
  );
}

/**
 * Matches a `resume` reply to the rooms asked, in order: each result by its room name (the reply
 * lists them in the order asked, so the name settles a room asked twice too). Takes the reply's
 * `{rooms: [...]}`, or a bare list; a room the reply leaves out is `missing`.
 */
export function matchResume(rooms: string[], reply: unknown): RoomResumed[] {
  const list: unknown = Array.isArray(reply)
    ? reply
    : (reply as { rooms?: unknown } | null)?.rooms;
  const results = (Array.isArray(list) ? list : []).filter(
    (entry): entry is ResumeResult =>
      entry !== null &&
      typeof entry === 'object' &&
      typeof (entry as { room?: unknown }).room === 'string',
  );
  const used = new Set<number>();
  return rooms.map((room) => {
    const i = results.findIndex((r, j) => !used.has(j) && r.room === room);
    if (i === -1) return { room, missing: true };
    used.add(i);
    const result = results[i];
    return isFailure(result)
      ? { room, error: result.error }
      : { room, joined: result };
  });
}

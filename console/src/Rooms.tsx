import { useState } from 'preact/hooks';
import { get, query } from './api';
import * as fmt from './format';
import { useDebounced, usePoll } from './hooks';
import type { RoomRow, RoomsAnswer } from './types';

function history(h: RoomRow['history']): string {
  if (!h) return '–';
  return `${h.offset === undefined ? '–' : fmt.count(h.offset)} / ${fmt.count(h.size)}`;
}

export function Rooms({ onTail }: { onTail: (room: string) => void }) {
  const [filter, setFilter] = useState('');
  const q = useDebounced(filter.trim(), 250);
  const poll = usePoll(
    (signal) => get<RoomsAnswer>(`/rooms${query({ q, limit: 100 })}`, signal),
    2_000,
    q,
  );
  const rooms = poll.data?.rooms ?? [];
  const withPresence = rooms.some((r) => r.presence !== undefined);

  return (
    <>
      <div class="toolbar">
        <input
          type="search"
          placeholder="Filter by name"
          aria-label="Filter rooms by name"
          data-testid="room-filter"
          value={filter}
          onInput={(e) => setFilter(e.currentTarget.value)}
        />
        <Summary
          shown={rooms.length}
          total={poll.data?.total}
          partial={poll.data?.partial}
          error={poll.error}
        />
      </div>
      <div class="scroll tall">
        <table data-testid="rooms">
          <thead>
            <tr>
              <th>name</th>
              <th class="num">members</th>
              {withPresence && <th class="num">presence</th>}
              <th class="num">msgs /s</th>
              <th class="num" title="last offset / messages kept">
                history
              </th>
              <th />
            </tr>
          </thead>
          <tbody>
            {poll.data && rooms.length === 0 && (
              <tr>
                <td colSpan={withPresence ? 6 : 5} class="empty">
                  {q ? 'No room matches.' : 'No rooms.'}
                </td>
              </tr>
            )}
            {rooms.map((r) => (
              <tr
                key={r.name}
                data-testid="room-row"
                data-room={r.name}
                class="clickable"
                onClick={() => onTail(r.name)}
                title="Click to tail"
              >
                <td class="mono">{r.name}</td>
                <td class="num" title={`on ${r.instances} instance(s)`}>
                  {fmt.count(r.members)}
                </td>
                {withPresence && (
                  <td class="num">
                    {r.presence === undefined ? '–' : fmt.count(r.presence)}
                  </td>
                )}
                <td class="num">{fmt.rate(r.messagesPerSec)}</td>
                <td
                  class="num"
                  title={
                    r.history
                      ? `kept for ${fmt.duration(r.history.ttlMs / 1000)}`
                      : undefined
                  }
                >
                  {history(r.history)}
                </td>
                <td class="actions">
                  <button
                    type="button"
                    class="small"
                    data-testid="room-tail"
                    onClick={(e) => {
                      e.stopPropagation();
                      onTail(r.name);
                    }}
                  >
                    tail
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

export function Summary({
  shown,
  total,
  partial,
  error,
}: {
  shown: number;
  total?: number;
  partial?: boolean;
  error?: string;
}) {
  return (
    <span class="summary">
      {error ? (
        <span class="error-text" role="status">
          {error}
        </span>
      ) : total !== undefined ? (
        total > shown ? (
          `${fmt.count(shown)} of ${fmt.count(total)}`
        ) : (
          `${fmt.count(total)}`
        )
      ) : (
        'loading…'
      )}
      {partial && (
        <span
          class="badge warn"
          title="An instance did not answer within a second: its rows are missing"
        >
          partial
        </span>
      )}
    </span>
  );
}

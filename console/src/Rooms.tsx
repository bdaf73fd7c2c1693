import * as fmt from './format';
import { ListTable, SearchToolbar, useSearchedList } from './List';
import type { RoomRow, RoomsAnswer } from './types';

function history(h: RoomRow['history']): string {
  if (!h) return '–';
  return `${h.offset === undefined ? '–' : fmt.count(h.offset)} / ${fmt.count(h.size)}`;
}

export function Rooms({ onTail }: { onTail: (room: string) => void }) {
  const list = useSearchedList<RoomsAnswer>('/rooms', 250);
  const { q, poll } = list;
  const rooms = poll.data?.rooms ?? [];
  const withPresence = rooms.some((r) => r.presence !== undefined);

  return (
    <>
      <SearchToolbar
        list={list}
        shown={rooms.length}
        placeholder="Filter by name"
        label="Filter rooms by name"
        testId="room-filter"
      />
      <ListTable
        testId="rooms"
        columns={withPresence ? 6 : 5}
        empty={
          poll.data !== undefined &&
          rooms.length === 0 &&
          (q ? 'No room matches.' : 'No rooms.')
        }
        head={
          <>
            <th>name</th>
            <th class="num">members</th>
            {withPresence && <th class="num">presence</th>}
            <th class="num">msgs /s</th>
            <th class="num" title="last offset / messages kept">
              history
            </th>
            <th />
          </>
        }
      >
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
      </ListTable>
    </>
  );
}

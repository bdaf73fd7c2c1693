import { useEffect, useRef, useState } from 'preact/hooks';
import * as fmt from './format';
import { preview } from './json';
import { messageOf } from './api';
import type { ConsoleSocket } from './socket';
import type { TailFrame } from './types';

const MAX_ENTRIES = 200;

interface Entry extends TailFrame {
  key: number;
}

interface Props {
  socket: ConsoleSocket | null;
  admin: boolean;
  /** A room chosen elsewhere (the rooms table); `seq` makes choosing the same room again count. */
  request: { room: string; seq: number } | null;
}

export function Tail({ socket, admin, request }: Props) {
  const [input, setInput] = useState('');
  const [room, setRoom] = useState<string | null>(null);
  const [status, setStatus] = useState<{ ok: boolean; text: string }>({
    ok: true,
    text: 'Not tailing.',
  });
  const [entries, setEntries] = useState<Entry[]>([]);
  const roomRef = useRef<string | null>(null);
  const queue = useRef<TailFrame[]>([]);
  const flushTimer = useRef<number | undefined>(undefined);
  const nextKey = useRef(0);

  const follow = async (target: string) => {
    if (!socket) return;
    roomRef.current = target;
    setRoom(target);
    queue.current = [];
    setEntries([]);
    if (!socket.isOpen) {
      // The hello of the next connection asks for it.
      setStatus({ ok: true, text: `Will follow ${target} once connected` });
      return;
    }
    setStatus({ ok: true, text: `Asking for ${target}…` });
    try {
      await socket.request('tail', { room: target });
      if (roomRef.current === target)
        setStatus({ ok: true, text: `Following ${target}` });
    } catch (err) {
      if (roomRef.current !== target) return;
      roomRef.current = null;
      setRoom(null);
      setStatus({
        ok: false,
        text: `Cannot tail ${target}: ${messageOf(err)}`,
      });
    }
  };

  const stop = async () => {
    const was = roomRef.current;
    roomRef.current = null;
    setRoom(null);
    setStatus({
      ok: true,
      text: was ? `Stopped following ${was}` : 'Not tailing.',
    });
    if (socket?.isOpen) {
      try {
        await socket.request('untail');
      } catch (err) {
        setStatus({ ok: false, text: `Stop: ${messageOf(err)}` });
      }
    }
  };

  useEffect(() => {
    if (!socket) return;
    // A busy room can deliver thousands of messages a second: they are shown in batches, a few
    // times a second, rather than one render each.
    const offTail = socket.on('tail', (data) => {
      const frame = data as TailFrame;
      if (!frame || frame.room !== roomRef.current) return;
      queue.current.push(frame);
      if (queue.current.length > MAX_ENTRIES)
        queue.current.splice(0, queue.current.length - MAX_ENTRIES);
      if (flushTimer.current === undefined) {
        flushTimer.current = window.setTimeout(() => {
          flushTimer.current = undefined;
          const batch = queue.current;
          queue.current = [];
          const fresh = batch
            .reverse()
            .map((f) => ({ ...f, key: nextKey.current++ }));
          setEntries((old) => fresh.concat(old).slice(0, MAX_ENTRIES));
        }, 150);
      }
    });
    // A new console socket starts with no tail: the room followed before the drop is asked again.
    // The first hello is no reconnect: a room chosen while the page was still connecting is
    // asked for here for the first time.
    let hellos = 0;
    const offHello = socket.on('hello', () => {
      const reconnected = ++hellos > 1;
      const again = roomRef.current;
      if (!again) return;
      socket.request('tail', { room: again }).then(
        () => {
          if (roomRef.current === again)
            setStatus({
              ok: true,
              text: reconnected
                ? `Following ${again} (again, after a reconnect)`
                : `Following ${again}`,
            });
        },
        (err: unknown) => {
          if (roomRef.current === again)
            setStatus({
              ok: false,
              text: `Cannot tail ${again}: ${messageOf(err)}`,
            });
        },
      );
    });
    return () => {
      offTail();
      offHello();
      clearTimeout(flushTimer.current);
      flushTimer.current = undefined;
    };
  }, [socket]);

  useEffect(() => {
    if (!request) return;
    setInput(request.room);
    void follow(request.room);
  }, [request]);

  const start = (e: Event) => {
    e.preventDefault();
    const target = input.trim();
    if (!target) return setStatus({ ok: false, text: 'Name a room to tail' });
    void follow(target);
  };

  return (
    <div data-testid="tail" class="tail">
      <form class="toolbar" onSubmit={start}>
        <input
          type="text"
          placeholder="Room"
          aria-label="Room to tail"
          data-testid="tail-room"
          value={input}
          onInput={(e) => setInput(e.currentTarget.value)}
        />
        <button type="submit" class="primary" data-testid="tail-start">
          Tail
        </button>
        <button
          type="button"
          data-testid="tail-stop"
          disabled={!room}
          onClick={() => void stop()}
        >
          Stop
        </button>
        <button
          type="button"
          data-testid="tail-clear"
          disabled={entries.length === 0}
          onClick={() => setEntries([])}
        >
          Clear
        </button>
      </form>
      <p
        class={status.ok ? 'muted status' : 'error status'}
        data-testid="tail-status"
        role="status"
      >
        {status.text}
        {!admin && room && ' (payloads are for admins only)'}
      </p>
      <div class="scroll tall">
        <table>
          <thead>
            <tr>
              <th>time</th>
              <th>from</th>
              <th class="num">offset</th>
              <th class="num">bytes</th>
              {admin && <th>data</th>}
            </tr>
          </thead>
          <tbody>
            {entries.map((x) => (
              <tr key={x.key} data-testid="tail-entry" data-offset={x.offset}>
                <td class="mono" title={fmt.isoTime(x.at)}>
                  {fmt.clock(x.at)}
                </td>
                <td class="mono">{x.from}</td>
                <td class="num">{x.offset ?? '–'}</td>
                <td class="num">{fmt.bytes(x.bytes)}</td>
                {admin && (
                  <td class="mono payload" data-testid="tail-data">
                    {'data' in x ? preview(x.data) : ''}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
        {entries.length === 0 && (
          <p class="empty">
            {room
              ? 'No message yet.'
              : 'Choose a room, or click one in the rooms table.'}
          </p>
        )}
      </div>
    </div>
  );
}

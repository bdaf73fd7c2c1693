import { useState } from 'preact/hooks';
import { messageOf, post } from './api';
import type { ActionResult } from './Actions';
import { Dialog } from './Dialog';
import * as fmt from './format';
import { useNow } from './hooks';
import { parseJson } from './json';
import { ListTable, SearchToolbar, useSearchedList } from './List';
import type { ConnectionRow, ConnectionsAnswer } from './types';

interface Props {
  admin: boolean;
  onResult: (r: ActionResult) => void;
}

type Open = { kind: 'send' | 'disconnect'; connection: ConnectionRow } | null;

export function Connections({ admin, onResult }: Props) {
  const list = useSearchedList<ConnectionsAnswer>('/connections', 300);
  const { q, poll } = list;
  const now = useNow();
  const [open, setOpen] = useState<Open>(null);
  const rows = poll.data?.connections ?? [];
  const columns = admin ? 11 : 10;

  const done = (r: ActionResult) => {
    onResult(r);
    if (r.ok) {
      setOpen(null);
      poll.refresh();
    }
  };

  return (
    <>
      <SearchToolbar
        list={list}
        shown={rows.length}
        placeholder="Principal, connection id, room or address"
        label="Search connections"
        testId="connection-search"
      />
      <ListTable
        testId="connections"
        columns={columns}
        empty={
          poll.data !== undefined &&
          rows.length === 0 &&
          (q ? 'No connection matches.' : 'No connections.')
        }
        head={
          <>
            <th>id</th>
            <th>principal</th>
            <th>address</th>
            <th>instance</th>
            <th class="num">age</th>
            <th>rooms</th>
            <th class="num">in</th>
            <th class="num">out</th>
            <th class="num">buffered</th>
            <th class="num">heartbeat</th>
            {admin && <th />}
          </>
        }
      >
        {rows.map((c) => (
          <tr key={c.id} data-testid="connection-row" data-connection={c.id}>
            <td class="mono">{c.id}</td>
            <td class="mono">{c.principal}</td>
            <td class="mono">{c.remoteAddress}</td>
            <td class="mono">{c.instance}</td>
            <td class="num">{fmt.duration((now - c.openedAt) / 1000)}</td>
            <td class="rooms" title={c.rooms.join(', ')}>
              {c.rooms.length === 0 ? (
                <span class="muted">–</span>
              ) : c.rooms.length <= 3 ? (
                c.rooms.join(', ')
              ) : (
                `${c.rooms.slice(0, 3).join(', ')} +${c.rooms.length - 3}`
              )}
            </td>
            <td class="num">{fmt.count(c.messagesIn)}</td>
            <td class="num">{fmt.count(c.messagesOut)}</td>
            <td class="num">{fmt.bytes(c.bufferedBytes)}</td>
            <td
              class="num"
              title={
                c.lastHeartbeatAt
                  ? fmt.isoTime(c.lastHeartbeatAt)
                  : 'none answered yet'
              }
            >
              {fmt.ago(c.lastHeartbeatAt, now)}
            </td>
            {admin && (
              <td class="actions">
                <button
                  type="button"
                  class="small"
                  data-testid="send"
                  onClick={() => setOpen({ kind: 'send', connection: c })}
                >
                  Send
                </button>
                <button
                  type="button"
                  class="small danger"
                  data-testid="disconnect"
                  onClick={() => setOpen({ kind: 'disconnect', connection: c })}
                >
                  Disconnect
                </button>
              </td>
            )}
          </tr>
        ))}
      </ListTable>
      {open?.kind === 'disconnect' && (
        <DisconnectDialog
          connection={open.connection}
          onClose={() => setOpen(null)}
          onDone={done}
        />
      )}
      {open?.kind === 'send' && (
        <SendDialog
          connection={open.connection}
          onClose={() => setOpen(null)}
          onDone={done}
        />
      )}
    </>
  );
}

interface DialogProps {
  connection: ConnectionRow;
  onClose: () => void;
  onDone: (r: ActionResult) => void;
}

function validCloseCode(code: number): boolean {
  return (
    Number.isInteger(code) && (code === 1000 || (code >= 3000 && code <= 4999))
  );
}

function DisconnectDialog({ connection, onClose, onDone }: DialogProps) {
  const [code, setCode] = useState('4000');
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const n = Number(code);
    if (!validCloseCode(n))
      return setError('The close code is 1000 or 3000 to 4999');
    // A close frame has room for 123 bytes of reason.
    if (new TextEncoder().encode(reason).length > 123)
      return setError('The reason is at most 123 bytes');
    setBusy(true);
    setError(undefined);
    try {
      const r = await post<{ closed: boolean }>('/disconnect', {
        connectionId: connection.id,
        code: n,
        reason: reason || undefined,
      });
      onDone(
        r.closed
          ? { ok: true, text: `Disconnected ${connection.id} (${n})` }
          : {
              ok: false,
              text: `${connection.id} was not closed: no instance holds it any more`,
            },
      );
      if (!r.closed) onClose();
    } catch (err) {
      setError(messageOf(err));
      onDone({
        ok: false,
        text: `Disconnect ${connection.id}: ${messageOf(err)}`,
      });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog
      testId="disconnect-dialog"
      title={`Disconnect ${connection.id}`}
      onClose={onClose}
    >
      <form onSubmit={submit} class="form">
        <p class="muted">
          {connection.principal} from {connection.remoteAddress}, on{' '}
          {connection.instance}
        </p>
        <label>
          Close code
          <input
            type="number"
            inputMode="numeric"
            data-testid="close-code"
            value={code}
            onInput={(e) => setCode(e.currentTarget.value)}
          />
        </label>
        <label>
          Reason
          <input
            type="text"
            maxLength={123}
            data-testid="close-reason"
            value={reason}
            onInput={(e) => setReason(e.currentTarget.value)}
          />
        </label>
        {error && (
          <p class="error" data-testid="dialog-error" role="alert">
            {error}
          </p>
        )}
        <div class="buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button
            type="submit"
            class="danger"
            data-testid="confirm-disconnect"
            disabled={busy}
          >
            Disconnect
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function SendDialog({ connection, onClose, onDone }: DialogProps) {
  const [event, setEvent] = useState('message');
  const [data, setData] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const parsed = parseJson(data);
    if (!parsed.ok) return setError(parsed.error);
    if (!event.trim()) return setError('The event needs a name');
    setBusy(true);
    setError(undefined);
    try {
      const r = await post<{ sent: boolean }>('/send', {
        connectionId: connection.id,
        event: event.trim(),
        data: parsed.value,
      });
      onDone(
        r.sent
          ? { ok: true, text: `Sent ${event.trim()} to ${connection.id}` }
          : {
              ok: false,
              text: `Not sent to ${connection.id}: no instance holds it any more`,
            },
      );
      if (!r.sent) onClose();
    } catch (err) {
      setError(messageOf(err));
      onDone({
        ok: false,
        text: `Send to ${connection.id}: ${messageOf(err)}`,
      });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog
      testId="send-dialog"
      title={`Send to ${connection.id}`}
      onClose={onClose}
    >
      <form onSubmit={submit} class="form">
        <p class="muted">
          {connection.principal} from {connection.remoteAddress}, on{' '}
          {connection.instance}
        </p>
        <label>
          Event
          <input
            type="text"
            required
            data-testid="send-event"
            value={event}
            onInput={(e) => setEvent(e.currentTarget.value)}
          />
        </label>
        <label>
          Data (JSON)
          <textarea
            rows={5}
            spellcheck={false}
            data-testid="send-data"
            placeholder='{"text": "hello"}'
            aria-invalid={
              error?.startsWith('Invalid JSON') ? 'true' : undefined
            }
            value={data}
            onInput={(e) => setData(e.currentTarget.value)}
          />
        </label>
        {error && (
          <p class="error" data-testid="dialog-error" role="alert">
            {error}
          </p>
        )}
        <div class="buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button
            type="submit"
            class="primary"
            data-testid="confirm-send"
            disabled={busy}
          >
            Send
          </button>
        </div>
      </form>
    </Dialog>
  );
}

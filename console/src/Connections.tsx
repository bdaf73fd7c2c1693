import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { messageOf, post } from './api';
import type { ActionResult } from './Actions';
import { Dialog } from './Dialog';
import * as fmt from './format';
import { useNow } from './hooks';
import { parseJson } from './json';
import { JsonField } from './JsonField';
import { ListTable, SearchToolbar, useSearchedList } from './List';
import type {
  ConnectionRow,
  ConnectionsAnswer,
  DisconnectAnswer,
  SendAnswer,
} from './types';

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

/**
 * What a dialog's action on a connection is at: its error, whether it runs. `run` sends the
 * request; its answer goes to the result line, and closes the dialog when no instance holds the
 * connection any more (a success closes it from the list); a refusal goes to the result line,
 * prefixed with `failed`, and stays in the dialog.
 */
function useConnectionAction(
  failed: string,
  { onClose, onDone }: Omit<DialogProps, 'connection'>,
) {
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const run = async (request: () => Promise<ActionResult>) => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await request();
      onDone(r);
      if (!r.ok) onClose();
    } catch (err) {
      setError(messageOf(err));
      onDone({ ok: false, text: `${failed}: ${messageOf(err)}` });
    } finally {
      setBusy(false);
    }
  };

  return { error, setError, busy, run };
}

/**
 * A dialog's frame: whose connection, its fields, the action's error, Cancel and the action's
 * button (off while the action runs).
 */
function ConnectionDialog({
  testId,
  title,
  connection,
  action,
  submit,
  onSubmit,
  onClose,
  children,
}: {
  testId: string;
  title: string;
  connection: ConnectionRow;
  action: { error?: string; busy: boolean };
  submit: { label: string; class: 'primary' | 'danger'; testId: string };
  onSubmit: (e: Event) => void;
  onClose: () => void;
  children: ComponentChildren;
}) {
  return (
    <Dialog testId={testId} title={title} onClose={onClose}>
      <form onSubmit={onSubmit} class="form">
        <p class="muted">
          {connection.principal} from {connection.remoteAddress}, on{' '}
          {connection.instance}
        </p>
        {children}
        {action.error && (
          <p class="error" data-testid="dialog-error" role="alert">
            {action.error}
          </p>
        )}
        <div class="buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button
            type="submit"
            class={submit.class}
            data-testid={submit.testId}
            disabled={action.busy}
          >
            {submit.label}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function validCloseCode(code: number): boolean {
  return (
    Number.isInteger(code) && (code === 1000 || (code >= 3000 && code <= 4999))
  );
}

function DisconnectDialog({ connection, onClose, onDone }: DialogProps) {
  const [code, setCode] = useState('4000');
  const [reason, setReason] = useState('');
  const action = useConnectionAction(`Disconnect ${connection.id}`, {
    onClose,
    onDone,
  });

  const submit = async (e: Event) => {
    e.preventDefault();
    const n = Number(code);
    if (!validCloseCode(n))
      return action.setError('The close code is 1000 or 3000 to 4999');
    // A close frame has room for 123 bytes of reason.
    if (new TextEncoder().encode(reason).length > 123)
      return action.setError('The reason is at most 123 bytes');
    await action.run(async () => {
      const r = await post<DisconnectAnswer>('/disconnect', {
        connectionId: connection.id,
        code: n,
        reason: reason || undefined,
      });
      return r.closed
        ? { ok: true, text: `Disconnected ${connection.id} (${n})` }
        : {
            ok: false,
            text: `${connection.id} was not closed: no instance holds it any more`,
          };
    });
  };

  return (
    <ConnectionDialog
      testId="disconnect-dialog"
      title={`Disconnect ${connection.id}`}
      connection={connection}
      action={action}
      submit={{
        label: 'Disconnect',
        class: 'danger',
        testId: 'confirm-disconnect',
      }}
      onSubmit={submit}
      onClose={onClose}
    >
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
    </ConnectionDialog>
  );
}

function SendDialog({ connection, onClose, onDone }: DialogProps) {
  const [event, setEvent] = useState('message');
  const [data, setData] = useState('');
  const action = useConnectionAction(`Send to ${connection.id}`, {
    onClose,
    onDone,
  });

  const submit = async (e: Event) => {
    e.preventDefault();
    const parsed = parseJson(data);
    if (!parsed.ok) return action.setError(parsed.error);
    if (!event.trim()) return action.setError('The event needs a name');
    await action.run(async () => {
      const r = await post<SendAnswer>('/send', {
        connectionId: connection.id,
        event: event.trim(),
        data: parsed.value,
      });
      return r.sent
        ? { ok: true, text: `Sent ${event.trim()} to ${connection.id}` }
        : {
            ok: false,
            text: `Not sent to ${connection.id}: no instance holds it any more`,
          };
    });
  };

  return (
    <ConnectionDialog
      testId="send-dialog"
      title={`Send to ${connection.id}`}
      connection={connection}
      action={action}
      submit={{ label: 'Send', class: 'primary', testId: 'confirm-send' }}
      onSubmit={submit}
      onClose={onClose}
    >
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
      <JsonField
        rows={5}
        testId="send-data"
        placeholder='{"text": "hello"}'
        invalid={action.error?.startsWith('Invalid JSON') ?? false}
        value={data}
        onInput={setData}
      />
    </ConnectionDialog>
  );
}

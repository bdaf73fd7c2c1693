import { get, query } from './api';
import * as fmt from './format';
import { usePoll } from './hooks';
import { ListTable, Summary } from './List';
import type { ErrorsAnswer } from './types';

export function Errors() {
  const poll = usePoll(
    (signal) => get<ErrorsAnswer>(`/errors${query({ limit: 100 })}`, signal),
    5_000,
    'errors',
  );
  // Newest first, whatever order the instances' lists were merged in.
  const rows = [...(poll.data?.errors ?? [])].sort((a, b) => b.at - a.at);
  return (
    <>
      <div class="toolbar">
        <span class="muted">Error frames sent to clients, newest first</span>
        <Summary
          shown={rows.length}
          total={poll.data ? rows.length : undefined}
          partial={poll.data?.partial}
          error={poll.error}
        />
      </div>
      <ListTable
        testId="errors"
        columns={6}
        empty={poll.data !== undefined && rows.length === 0 && 'No errors.'}
        head={
          <>
            <th>time</th>
            <th>instance</th>
            <th>code</th>
            <th>event</th>
            <th>principal</th>
            <th>connection</th>
          </>
        }
      >
        {rows.map((x, k) => (
          <tr key={`${x.at}-${x.instance}-${k}`} data-testid="error-row">
            <td class="mono" title={fmt.isoTime(x.at)}>
              {fmt.clock(x.at)}
            </td>
            <td class="mono">{x.instance}</td>
            <td>
              <span class="badge bad">{x.code}</span>
            </td>
            <td class="mono">{x.event ?? '–'}</td>
            <td class="mono">{x.principal ?? '–'}</td>
            <td class="mono">{x.connectionId ?? '–'}</td>
          </tr>
        ))}
      </ListTable>
    </>
  );
}

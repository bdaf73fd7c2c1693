import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { get, query } from './api';
import * as fmt from './format';
import { useDebounced, usePoll, type Poll } from './hooks';

/** What every list the server filters answers besides its rows. */
interface ListAnswer {
  total: number;
  partial: boolean;
}

export interface SearchedList<T extends ListAnswer> {
  /** What is typed in the search field. */
  search: string;
  setSearch: (search: string) => void;
  /** The search as asked for: trimmed, once typing has paused. */
  q: string;
  poll: Poll<T>;
}

/**
 * A list the server filters (rooms, connections): what is typed in its search field, once it has
 * settled for `debounceMs`, asks `path` for the first 100 matches, again every 2 s and at once
 * when the search changes.
 */
export function useSearchedList<T extends ListAnswer>(
  path: string,
  debounceMs: number,
): SearchedList<T> {
  const [search, setSearch] = useState('');
  const q = useDebounced(search.trim(), debounceMs);
  const poll = usePoll(
    (signal) => get<T>(`${path}${query({ q, limit: 100 })}`, signal),
    2_000,
    q,
  );
  return { search, setSearch, q, poll };
}

/** A searched list's toolbar: its search field, and how many rows it shows of how many. */
export function SearchToolbar<T extends ListAnswer>({
  list,
  shown,
  placeholder,
  label,
  testId,
}: {
  list: SearchedList<T>;
  shown: number;
  placeholder: string;
  label: string;
  testId: string;
}) {
  const { poll } = list;
  return (
    <div class="toolbar">
      <input
        type="search"
        placeholder={placeholder}
        aria-label={label}
        data-testid={testId}
        value={list.search}
        onInput={(e) => list.setSearch(e.currentTarget.value)}
      />
      <Summary
        shown={shown}
        total={poll.data?.total}
        partial={poll.data?.partial}
        error={poll.error}
      />
    </div>
  );
}

/** How many rows a list shows of how many, its last error, and whether an instance is missing. */
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

/**
 * A list's table, scrolling inside its card (`short`: the instances' height, not a long
 * list's): the header's cells, then a row across every column that says why there is nothing
 * to list (`empty`, when set), then the rows.
 */
export function ListTable({
  testId,
  head,
  columns,
  empty,
  short = false,
  children,
}: {
  testId: string;
  head: ComponentChildren;
  columns: number;
  empty?: string | false;
  short?: boolean;
  children: ComponentChildren;
}) {
  return (
    <div class={short ? 'scroll' : 'scroll tall'}>
      <table data-testid={testId}>
        <thead>
          <tr>{head}</tr>
        </thead>
        <tbody>
          {empty && (
            <tr>
              <td colSpan={columns} class="empty">
                {empty}
              </td>
            </tr>
          )}
          {children}
        </tbody>
      </table>
    </div>
  );
}

// The shapes of docs/console.md, as the server sends them, are src/protocol/console.ts: the
// server and this page are checked against that one file. Type-only imports and re-exports: Vite
// drops them, nothing of the server lands in the bundle.
import type { LoginAnswer } from '../../src/protocol/console';

export type {
  BroadcastAnswer,
  ConnectionRow,
  ConnectionsAnswer,
  DisconnectAnswer,
  ErrorsAnswer,
  HelloFrame,
  InstancesAnswer,
  InstancesFrame,
  InstanceView,
  PublishAnswer,
  RoomRow,
  RoomsAnswer,
  SendAnswer,
  Series,
  TailFrame,
} from '../../src/protocol/console';

/**
 * The page's session: a cookie session, as `POST /login` answers it and `GET /session` answers
 * for a cookie (its CSRF token and its end are always there).
 */
export type Session = LoginAnswer;

// The page's own reading of the protocol's frames and of the API's errors.

export interface Envelope {
  event: string;
  data?: unknown;
  id?: string | number;
}

export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

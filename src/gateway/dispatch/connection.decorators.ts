import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Principal } from '../auth/principal.js';
import {
  connectionOf,
  type ConnectionInfo,
} from '../connections/connection.js';

function infoOf(context: ExecutionContext): ConnectionInfo {
  const connection = connectionOf(context.switchToWs().getClient());
  if (!connection) {
    throw new Error(
      '@CurrentConnection() used outside a gateway message handler',
    );
  }
  return connection;
}

/** Handler parameter: the {@link ConnectionInfo} of the sending connection (id, principal). */
export const CurrentConnection = createParamDecorator(
  (_: unknown, context: ExecutionContext): ConnectionInfo => infoOf(context),
);

/** Handler parameter: the {@link Principal} the handshake attached to the sending connection. */
export const CurrentPrincipal = createParamDecorator(
  (_: unknown, context: ExecutionContext): Principal =>
    infoOf(context).principal,
);

import {
  Injectable,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { connectionOf } from '../protocol/connection.js';
import { GatewayError } from '../protocol/gateway-error.js';

/**
 * Guards every message handler: the connection must carry the principal its handshake
 * established, and that principal's credential must not have expired since.
 */
@Injectable()
export class WsAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'ws') return true;
    const connection = connectionOf(context.switchToWs().getClient());
    if (!connection) throw GatewayError.unauthorized();
    const { expiresAt } = connection.principal;
    if (expiresAt !== undefined && expiresAt <= Date.now()) {
      throw GatewayError.unauthorized('token expired');
    }
    return true;
  }
}

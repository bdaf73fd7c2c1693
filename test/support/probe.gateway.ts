import { Injectable, UseGuards, type CanActivate } from '@nestjs/common';
import { MessageBody, SubscribeMessage } from '@nestjs/websockets';
import { Gateway } from '../../src/gateway/dispatch/gateway.decorator.js';
import { Type } from 'class-transformer';
import {
  IsInt,
  IsOptional,
  IsString,
  Length,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { of } from 'rxjs';
import type { Principal } from '../../src/gateway/auth/principal.js';
import { RequireScopes } from '../../src/gateway/auth/require-scopes.decorator.js';
import { CurrentPrincipal } from '../../src/gateway/dispatch/connection.decorators.js';
import { GatewayError } from '../../src/protocol/gateway-error.js';

class Paging {
  @IsInt()
  @Min(1)
  @Max(100)
  size!: number;
}

export class ProbeDto {
  @IsString()
  @Length(1, 16)
  name!: string;

  @IsOptional()
  @ValidateNested()
  @Type(() => Paging)
  paging?: Paging;
}

@Injectable()
class DenyAll implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

/**
 * A host application's own gateway, declared as the docs say (`@Gateway()` and Nest's handler
 * decorators): it must get the gateway's guard, validation and error frames.
 */
@Gateway()
export class ProbeGateway {
  @SubscribeMessage('probe.validate')
  validate(@MessageBody() dto: ProbeDto) {
    return {
      name: dto.name,
      size: dto.paging?.size ?? null,
      isDto: dto instanceof ProbeDto,
    };
  }

  @SubscribeMessage('probe.throw')
  throws(): never {
    throw new Error('secret internal detail');
  }

  @SubscribeMessage('probe.reject')
  async rejects(): Promise<never> {
    await Promise.resolve();
    throw new Error('secret async detail');
  }

  @SubscribeMessage('probe.forbidden')
  forbidden(): never {
    throw GatewayError.forbidden('not for you');
  }

  @SubscribeMessage('probe.whoami')
  whoami(@CurrentPrincipal() principal: Principal) {
    return principal.subject;
  }

  @SubscribeMessage('probe.observable')
  observable() {
    return of('first', 'second');
  }

  @SubscribeMessage('probe.void')
  nothing(): void {}

  @SubscribeMessage('probe.bigint')
  unserializable() {
    return { n: 10n };
  }

  @UseGuards(DenyAll)
  @SubscribeMessage('probe.denied')
  denied() {
    return 'should not run';
  }

  /** Only for principals holding the `admin` scope (from a JWT's scope, scp or roles). */
  @RequireScopes('admin')
  @SubscribeMessage('probe.admin')
  admin(@CurrentPrincipal() principal: Principal) {
    return { subject: principal.subject, scopes: principal.scopes };
  }
}

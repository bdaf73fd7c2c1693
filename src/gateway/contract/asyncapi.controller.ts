import {
  Controller,
  Get,
  Header,
  Inject,
  NotFoundException,
} from '@nestjs/common';
import { GATEWAY_OPTIONS } from '../gateway-options.token.js';
import type { ResolvedGatewayOptions } from '../gateway.options.js';
import {
  AsyncApiDocumentBuilder,
  type AsyncApiDocument,
} from './asyncapi-document.js';

/**
 * `GET /asyncapi.json`: the gateway's protocol as an AsyncAPI 3.0 document, made from the
 * application's handlers. A 404, as any unknown path, unless the `asyncapi` option is on.
 */
@Controller()
export class AsyncApiController {
  constructor(
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    private readonly builder: AsyncApiDocumentBuilder,
  ) {}

  @Get('asyncapi.json')
  @Header('Cache-Control', 'no-cache')
  document(): AsyncApiDocument {
    if (!this.options.asyncapi) throw new NotFoundException();
    return this.builder.document();
  }
}

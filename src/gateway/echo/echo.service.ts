import { Injectable } from '@nestjs/common';

/** The echo event: the reply carries the request's data back unchanged. */
@Injectable()
export class EchoService {
  /** Returns `data`; an absent payload comes back as `null`, so an echo is always answered. */
  echo(data: unknown): unknown {
    return data === undefined ? null : data;
  }
}

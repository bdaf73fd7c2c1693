import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { GatewayError, type ErrorDetail } from './gateway-error.js';

function collect(
  errors: readonly ValidationError[],
  prefix: string,
  out: ErrorDetail[],
): ErrorDetail[] {
  for (const error of errors) {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) {
      out.push({ field, message });
    }
    if (error.children?.length) collect(error.children, field, out);
  }
  return out;
}

/** Flattens class-validator's tree into `details`: one entry per failed rule, dotted paths. */
export function validationDetails(
  errors: readonly ValidationError[],
): ErrorDetail[] {
  return collect(errors, '', []);
}

/**
 * `ValidationPipe` for message payloads: DTOs are transformed and stripped of undecorated
 * fields; a failure becomes `BAD_REQUEST` with `details`.
 */
export class GatewayValidationPipe extends ValidationPipe {
  constructor() {
    super({
      transform: true,
      whitelist: true,
      exceptionFactory: (errors) =>
        GatewayError.badRequest('validation failed', validationDetails(errors)),
    });
  }
}

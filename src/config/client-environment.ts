/**
 * The environment the command-line client reads. Kept apart from the server's configuration
 * (and free of imports) so the client stays a program without Nest in it.
 */
export interface ClientEnvironment {
  /** `GATEWAY_TOKEN`: the token when `--token` is not given. */
  token?: string;
  /** `NO_COLOR` set (https://no-color.org): no colours even on a TTY. */
  noColor: boolean;
}

export function clientEnvironment(): ClientEnvironment {
  return {
    token: process.env.GATEWAY_TOKEN || undefined,
    noColor: Boolean(process.env.NO_COLOR),
  };
}

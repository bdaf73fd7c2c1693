import { CloseCode as ServerCloseCode } from '../gateway/protocol/close-codes.js';
import { ErrorCode as ServerErrorCode } from '../gateway/protocol/error-codes.js';
import { CloseCode, ErrorCode } from './protocol.js';

// The client keeps its own copy of the wire constants so that it bundles without the server's
// code; this keeps the copy from drifting.
describe('the client protocol constants', () => {
  it('has exactly the server’s error codes', () => {
    expect(ErrorCode).toEqual(ServerErrorCode);
  });

  it('has the server’s close codes', () => {
    for (const [name, code] of Object.entries(ServerCloseCode)) {
      expect(CloseCode).toHaveProperty(name, code);
    }
  });
});

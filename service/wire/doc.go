// Package wire implements the message forms of the crunch protocol
// (docs/PROTOCOL.md) for both sides: the server decodes requests and encodes
// replies, clients encode requests and decode replies, and the subprocess
// executor reuses the binary form over its pipe.
//
// A message is either text (one JSON object, tensors inline as numbers) or
// binary ("CRN1", a JSON header, raw buffers). Decoders accept any input
// without panicking and fail with an *Error of code invalid_argument that says
// what is wrong and where. Tensors decoded from a binary message alias the
// message's bytes when they are aligned for their dtype (zero copy), so the
// message must not be reused while what was decoded from it is in use.
package wire

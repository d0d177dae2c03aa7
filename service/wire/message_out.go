package wire

import (
	"io"

	"github.com/crunchsvc/crunch/service/tensor"
)

// Message is an encoded message kept in its parts: a text message whole, or
// a binary message's preamble and header followed by the buffers it names,
// which are the tensors' own memory. WriteTo sends it without assembling
// it, so a large tensor is neither copied nor allocated again on its way
// out; Bytes assembles it.
type Message struct {
	// Binary tells the message's form (the WebSocket message type).
	Binary bool
	head   []byte   // the text message, or the binary preamble and header
	bufs   [][]byte // binary only: the buffers
	offs   []int    // and where each starts in the message
	size   int      // the message's length
}

// Len is the message's length in bytes.
func (m *Message) Len() int { return m.size }

// textMessage wraps a whole text message.
func textMessage(b []byte) *Message { return &Message{head: b, size: len(b)} }

// zeros pads between the buffers of a binary message (less than
// bufferAlign bytes each time).
var zeros [bufferAlign]byte

// WriteTo writes the message to w: the head, then each buffer after zero
// padding up to its offset.
func (m *Message) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(m.head)
	written := int64(n)
	if err != nil {
		return written, err
	}
	for i, b := range m.bufs {
		for pad := m.offs[i] - int(written); pad > 0; pad -= n {
			n, err = w.Write(zeros[:min(pad, len(zeros))])
			if written += int64(n); err != nil {
				return written, err
			}
		}
		n, err = w.Write(b)
		if written += int64(n); err != nil {
			return written, err
		}
	}
	return written, nil
}

// Send writes the message through next, which opens a WebSocket message
// of the form given (binary or text) as a WebSocket library's NextWriter
// does, and closes it.
func (m *Message) Send(next func(binary bool) (io.WriteCloser, error)) error {
	w, err := next(m.Binary)
	if err != nil {
		return err
	}
	if _, err := m.WriteTo(w); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// Bytes returns the message as one slice: a binary message in new
// 64-byte-aligned memory, a text message as it is.
func (m *Message) Bytes() []byte {
	if !m.Binary {
		return m.head
	}
	msg := tensor.AlignedBytes(m.size)
	copy(msg, m.head)
	for i, b := range m.bufs {
		copy(msg[m.offs[i]:], b)
	}
	return msg
}

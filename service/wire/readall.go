package wire

import (
	"io"
	"sync"

	"github.com/crunchsvc/crunch/service/tensor"
)

// readChunk is the size of the pooled pieces ReadAll reads into.
const readChunk = 256 << 10

// chunks holds *[readChunk]byte between messages, so that reading a large
// message allocates nothing but the message itself.
var chunks = sync.Pool{New: func() any { return new([readChunk]byte) }}

// ReadAll reads r to its end and returns what it read in 64-byte-aligned
// memory of exactly that size (the decoders' tensors then alias it without
// copying). Unlike io.ReadAll, which grows its buffer by copying and leaves
// the growth behind as garbage, it reads into pooled chunks and allocates
// and copies once, when the size is known: a large message costs its own
// size in allocation instead of about twice that. An error is returned with
// nothing read.
func ReadAll(r io.Reader) ([]byte, error) {
	var held []*[readChunk]byte
	defer func() {
		for _, c := range held {
			chunks.Put(c)
		}
	}()
	total := 0
	for {
		c := chunks.Get().(*[readChunk]byte)
		held = append(held, c)
		n, err := io.ReadFull(r, c[:])
		total += n
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	msg := tensor.AlignedBytes(total)
	for i, c := range held {
		copy(msg[i*readChunk:], c[:])
	}
	return msg, nil
}

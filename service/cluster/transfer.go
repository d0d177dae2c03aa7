package cluster

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// Large jobs and results travel in parts, each well under the NATS max
// payload, so that the NATS system keeps its default (1 MiB) limit. The
// sender waits for the receiver's acknowledgement every ackEvery parts, so
// that no more than a window's worth of a message sits in the NATS
// server's buffers (which cut off a slow consumer past 64 MiB pending).
// A part that is lost leaves its message unassembled: a job then never
// starts and a result never comes, and the origin's loss detection offers
// the job again, as it would for a node that died.
const (
	partSize   = 512 << 10
	ackEvery   = 16 // parts: an 8 MiB window
	ackTimeout = 10 * time.Second
	// assemblyIdle is how long a message in assembly waits for its next
	// part before it is dropped.
	assemblyIdle = 30 * time.Second
)

// Part headers.
const (
	hdrXfer  = "Crunch-Xfer"  // the message's id
	hdrPart  = "Crunch-Part"  // this part's number, from 0
	hdrParts = "Crunch-Parts" // how many parts
	hdrSize  = "Crunch-Size"  // the whole message's length
)

// assembly is a message whose parts are arriving.
type assembly struct {
	data  []byte
	got   int
	seen  []bool
	first time.Time
	last  time.Time
}

// assemblies holds the messages in assembly, by id, and counts the data
// of the messages taken off the wire.
type assemblies struct {
	mu       sync.Mutex
	m        map[string]*assembly
	bytes    int64         // of whole messages received, parts or not
	assembly time.Duration // from first part to last, of those in parts
}

// received returns the bytes of the messages received and the seconds
// their parts took to arrive.
func (a *assemblies) received() (int64, float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.bytes, a.assembly.Seconds()
}

// send publishes m, in parts when its data is too large for one message:
// each part carries m's headers too.
func (n *Node) send(m *nats.Msg) error {
	start := time.Now()
	err := n.sendParts(m)
	if err == nil && len(m.Data) > 0 {
		n.transferred(len(m.Data), time.Since(start))
	}
	return err
}

// sendParts is send without the counting.
func (n *Node) sendParts(m *nats.Msg) error {
	limit := min(int64(partSize), n.nc.MaxPayload()-16<<10)
	if int64(len(m.Data)) <= limit {
		return n.nc.PublishMsg(m)
	}
	whole := m.Data
	parts := (len(whole) + int(limit) - 1) / int(limit)
	id := nuid.Next()
	for i := range parts {
		p := nats.NewMsg(m.Subject)
		for k, v := range m.Header {
			p.Header[k] = v
		}
		p.Header.Set(hdrXfer, id)
		p.Header.Set(hdrPart, strconv.Itoa(i))
		p.Header.Set(hdrParts, strconv.Itoa(parts))
		p.Header.Set(hdrSize, strconv.Itoa(len(whole)))
		p.Data = whole[i*int(limit) : min(len(whole), (i+1)*int(limit))]
		var err error
		if (i+1)%ackEvery == 0 && i+1 < parts {
			_, err = n.nc.RequestMsg(p, ackTimeout)
		} else {
			err = n.nc.PublishMsg(p)
		}
		if err != nil {
			return fmt.Errorf("cluster: sending part %d of %d (%d bytes) to %s: %w", i+1, parts, len(whole), m.Subject, err)
		}
	}
	return nil
}

// assemble takes one message off the wire: a whole one is returned as it
// is; a part is stored, and the whole message returned with its last part.
// Parts of messages larger than maxBytes are dropped.
func (a *assemblies) assemble(m *nats.Msg, maxBytes int64) (*nats.Msg, bool) {
	id := m.Header.Get(hdrXfer)
	if id == "" {
		a.mu.Lock()
		a.bytes += int64(len(m.Data))
		a.mu.Unlock()
		return m, true
	}
	part, err1 := strconv.Atoi(m.Header.Get(hdrPart))
	parts, err2 := strconv.Atoi(m.Header.Get(hdrParts))
	size, err3 := strconv.ParseInt(m.Header.Get(hdrSize), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || parts <= 1 || part < 0 || part >= parts ||
		size <= 0 || size > maxBytes || int64(parts) > size {
		return nil, false
	}
	// Every part but the last is full: the same length, which puts it at
	// part times its length; the last one ends the message.
	l := int64(len(m.Data))
	off := int64(part) * l
	if part == parts-1 {
		off = size - l
	} else if l*int64(parts-1) >= size || l*int64(parts) < size {
		return nil, false
	}
	a.mu.Lock()
	if a.m == nil {
		a.m = make(map[string]*assembly)
	}
	as := a.m[id]
	if as == nil {
		as = &assembly{data: make([]byte, size), seen: make([]bool, parts), first: time.Now()}
		a.m[id] = as
	}
	if int64(len(as.data)) != size || len(as.seen) != parts || off < 0 || off+int64(len(m.Data)) > size || as.seen[part] {
		a.mu.Unlock()
		return nil, false
	}
	copy(as.data[off:], m.Data)
	as.seen[part] = true
	as.got++
	as.last = time.Now()
	done := as.got == parts
	if done {
		delete(a.m, id)
		a.bytes += size
		a.assembly += as.last.Sub(as.first)
	}
	a.mu.Unlock()
	if m.Reply != "" {
		m.Respond(nil) // the sender's window moves on
	}
	if !done {
		return nil, false
	}
	whole := nats.NewMsg(m.Subject)
	for k, v := range m.Header {
		whole.Header[k] = v
	}
	whole.Data = as.data
	return whole, true
}

// sweep drops messages whose parts stopped coming.
func (a *assemblies) sweep() {
	cutoff := time.Now().Add(-assemblyIdle)
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, as := range a.m {
		if as.last.Before(cutoff) {
			delete(a.m, id)
		}
	}
}

// pending counts the messages in assembly.
func (a *assemblies) pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.m)
}

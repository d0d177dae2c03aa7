package client

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/crunchsvc/crunch/service/shm"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// ShmThreshold is the size from which a tensor argument travels through
// shared memory on a connection over the server's Unix socket; smaller
// ones cost less in the message itself.
const ShmThreshold = 64 << 10

// minBlock is the smallest region the client creates: blocks come in
// powers of two from here, reused from call to call, so that their pages
// are faulted in once.
const minBlock = 64 << 10

// keepFree is how many unused blocks of one size a client keeps
// registered for later calls; more are unregistered and unmapped.
const keepFree = 4

// block is one region: a memfd the client created, mapped here and
// registered with the server.
type block struct {
	region int64
	mem    []byte
	inUse  bool
	user   bool // allocated by AllocShared, freed by FreeShared
}

// shmPool is a client's regions on a Unix-socket connection.
type shmPool struct {
	c  *Client
	uc *net.UnixConn

	mu     sync.Mutex
	blocks map[int64]*block // by region
	free   map[int][]*block // unused, by size
	closed bool
}

func newShmPool(c *Client, uc *net.UnixConn) *shmPool {
	return &shmPool{c: c, uc: uc, blocks: make(map[int64]*block), free: make(map[int][]*block)}
}

// Slice resolves a result tensor placed in one of this client's regions
// (wire.ShmSlicer).
func (p *shmPool) Slice(region, off, n int64, _ bool) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.blocks[region]
	if b == nil {
		return nil, fmt.Errorf("%w %d", shm.ErrUnknownRegion, region)
	}
	if off < 0 || n < 0 || off > int64(len(b.mem)) || n > int64(len(b.mem))-off {
		return nil, fmt.Errorf("bytes [%d, %d+%d) lie outside region %d of %d bytes", off, off, n, region, len(b.mem))
	}
	return b.mem[off : off+n : off+n], nil
}

// get returns an unused block of at least n bytes, registering a new one
// if none is free.
func (p *shmPool) get(ctx context.Context, n int) (*block, error) {
	size := minBlock
	if n > minBlock {
		size = 1 << bits.Len(uint(n-1))
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if free := p.free[size]; len(free) > 0 {
		b := free[len(free)-1]
		p.free[size] = free[:len(free)-1]
		b.inUse = true
		p.mu.Unlock()
		return b, nil
	}
	p.mu.Unlock()
	fd, m, err := shm.Create("crunch", size)
	if err != nil {
		return nil, err
	}
	region, err := p.c.register(ctx, p.uc, fd)
	unix.Close(fd) // the mapping, here and in the server, keeps the memory
	if err != nil {
		m.Unmap()
		return nil, err
	}
	b := &block{region: region, mem: m.Mem, inUse: true}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		m.Unmap()
		return nil, ErrClosed
	}
	p.blocks[region] = b
	return b, nil
}

// put returns blocks the server is done with; beyond keepFree of a size
// they are unregistered and unmapped.
func (p *shmPool) put(bs ...*block) {
	if p == nil || len(bs) == 0 {
		return
	}
	var drop []*block
	p.mu.Lock()
	for _, b := range bs {
		if b == nil || !b.inUse {
			continue
		}
		b.inUse = false
		if p.closed {
			continue // close unmapped it
		}
		if len(p.free[len(b.mem)]) < keepFree {
			p.free[len(b.mem)] = append(p.free[len(b.mem)], b)
			continue
		}
		delete(p.blocks, b.region)
		drop = append(drop, b)
	}
	p.mu.Unlock()
	for _, b := range drop {
		p.c.unregister(b.region)
		unix.Munmap(b.mem)
	}
}

// owner returns the block whose memory holds data, if any.
func (p *shmPool) owner(data []byte) *block {
	if len(data) == 0 {
		return nil
	}
	ptr := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.blocks {
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(b.mem)))
		if ptr >= lo && ptr+uintptr(len(data)) <= lo+uintptr(len(b.mem)) {
			return b
		}
	}
	return nil
}

// close unmaps every block; the server unmaps its side when the
// connection ends.
func (p *shmPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	for _, b := range p.blocks {
		if !b.user { // a user's tensor stays readable until FreeShared
			unix.Munmap(b.mem)
		}
	}
}

// register sends fd to the server as a new region and returns its number.
// The message is written whole by one sendmsg that carries the descriptor
// (SCM_RIGHTS), so the descriptor arrives with the message that claims it.
func (c *Client) register(ctx context.Context, uc *net.UnixConn, fd int) (int64, error) {
	id := c.nextID.Add(1)
	frame := maskedTextFrame([]byte(`{"id":` + strconv.FormatInt(id, 10) + `,"op":"shm_register"}`))
	cl := &call{reply: make(chan arrived, 1)}
	rep, buf, err := c.roundTrip(ctx, cl, id, "shm_register", func() error {
		c.wmu.Lock() // between messages: gorilla has nothing buffered then
		defer c.wmu.Unlock()
		n, _, err := uc.WriteMsgUnix(frame, unix.UnixRights(fd), nil)
		if err == nil && n != len(frame) {
			err = fmt.Errorf("short write: %d of %d bytes", n, len(frame))
		}
		return err
	})
	buf.Release() // a small reply: no buffer
	if err != nil {
		return 0, err
	}
	r := &results{rep: rep}
	region := r.Int("region")
	return region, r.err
}

// unregister tells the server to forget a region; its reply is ignored.
func (c *Client) unregister(region int64) {
	req := &wire.Request{ID: c.nextID.Add(1), Op: "shm_unregister", Args: wire.Args{"region": wire.Int(region)}}
	if msg, err := wire.EncodeRequestMessage(req, false); err == nil {
		c.write(msg)
	}
}

// maskedTextFrame is one final text frame of payload as a client sends it
// (RFC 6455 §5.2: clients mask, with a fresh key).
func maskedTextFrame(payload []byte) []byte {
	b := []byte{0x81}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var key [4]byte
	rand.Read(key[:])
	b = append(b, key[:]...)
	for i, x := range payload {
		b = append(b, x^key[i%4])
	}
	return b
}

// AllocShared returns a zeroed tensor whose Data lies in shared memory
// registered with the server: passed as an argument, it travels without a
// copy. It needs a connection over the server's Unix socket. The tensor
// is usable until FreeShared, even after Close; it must not be changed
// while a call that reads it is in flight.
func (c *Client) AllocShared(ctx context.Context, dt tensor.DType, shape ...int) (*tensor.Tensor, error) {
	if c.shm == nil {
		return nil, errors.New("client: shared memory needs a connection over the server's Unix socket (Dial \"unix:PATH\")")
	}
	n, err := tensor.ByteSize(dt, shape)
	if err != nil {
		return nil, fmt.Errorf("client: AllocShared: %w", err)
	}
	b, err := c.shm.get(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("client: AllocShared: %w", err)
	}
	c.shm.mu.Lock()
	b.user = true
	c.shm.mu.Unlock()
	clear(b.mem[:n])
	return &tensor.Tensor{DType: dt, Shape: append([]int(nil), shape...), Data: b.mem[:n:n]}, nil
}

// FreeShared gives back the shared memory of a tensor from AllocShared;
// the tensor must not be used afterwards.
func (c *Client) FreeShared(t *tensor.Tensor) {
	if c.shm == nil || t == nil {
		return
	}
	b := c.shm.owner(t.Data)
	if b == nil || !b.user {
		return
	}
	c.shm.mu.Lock()
	b.user = false
	closed := c.shm.closed
	c.shm.mu.Unlock()
	if closed {
		unix.Munmap(b.mem)
		return
	}
	c.shm.put(b)
}

// share returns the request to send in req's place: over the Unix socket,
// its large tensor arguments moved to shared memory (copied, unless they
// lie there already, from AllocShared) and a window for the results; and
// the blocks it uses, to give back once the reply has come.
func (c *Client) share(ctx context.Context, req *wire.Request, o *Options) (*wire.Request, []*block, error) {
	if c.shm == nil {
		return req, nil, nil
	}
	var held []*block
	send := *req
	send.Args = make(wire.Args, len(req.Args))
	inBytes := 0
	for k, v := range req.Args {
		send.Args[k] = v
		t := v.Tensor
		if t == nil || v.Shm != nil {
			continue
		}
		inBytes += len(t.Data)
		if b := c.shm.owner(t.Data); b != nil {
			off := uintptr(unsafe.Pointer(unsafe.SliceData(t.Data))) - uintptr(unsafe.Pointer(unsafe.SliceData(b.mem)))
			if off%8 == 0 {
				send.Args[k] = wire.Value{Tensor: t, Shm: &wire.ShmRef{Region: b.region, Offset: int64(off)}}
				continue
			}
		}
		if len(t.Data) < ShmThreshold {
			continue
		}
		b, err := c.shm.get(ctx, len(t.Data))
		if err != nil {
			c.shm.put(held...)
			return nil, nil, err
		}
		held = append(held, b)
		copy(b.mem, t.Data)
		send.Args[k] = wire.Value{Tensor: &tensor.Tensor{DType: t.DType, Shape: t.Shape, Data: b.mem[:len(t.Data)]},
			Shm: &wire.ShmRef{Region: b.region}}
	}
	if w := c.shm.window(o.Out, req.Args); w != nil {
		send.ShmOut = w // the server's kernel writes the result there
		return &send, held, nil
	}
	out := o.ResultBytes
	if out <= 0 {
		out = inBytes
	}
	if out >= ShmThreshold {
		// Room for the results and the 64-byte alignment of each.
		b, err := c.shm.get(ctx, out+64*8)
		if err != nil {
			c.shm.put(held...)
			return nil, nil, err
		}
		held = append(held, b)
		send.ShmOut = &wire.ShmWindow{Region: b.region, Length: int64(len(b.mem))}
	}
	return &send, held, nil
}

// window returns a shm_out window that is out's memory, when out lies in
// shared memory from AllocShared, 64-byte aligned, apart from every
// argument: a result that fits it is then computed there by the server.
func (p *shmPool) window(out *tensor.Tensor, args wire.Args) *wire.ShmWindow {
	if out == nil || len(out.Data) == 0 {
		return nil
	}
	b := p.owner(out.Data)
	if b == nil {
		return nil
	}
	p.mu.Lock()
	user := b.user
	p.mu.Unlock()
	if !user {
		return nil
	}
	off := uintptr(unsafe.Pointer(unsafe.SliceData(out.Data))) - uintptr(unsafe.Pointer(unsafe.SliceData(b.mem)))
	if off%64 != 0 {
		return nil
	}
	for _, v := range args {
		if v.Tensor != nil && overlaps(v.Tensor.Data, out.Data) {
			return nil
		}
	}
	return &wire.ShmWindow{Region: b.region, Offset: int64(off), Length: int64(len(out.Data))}
}

// resultBytes returns o with ResultBytes set to n, the size of an op's
// results as its method knows it, unless the caller set one.
func resultBytes(o *Options, n int) *Options {
	if o == nil {
		o = &Options{}
	}
	if o.ResultBytes > 0 || n <= 0 {
		return o
	}
	c := *o
	c.ResultBytes = n
	return &c
}

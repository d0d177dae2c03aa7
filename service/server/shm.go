package server

import (
	"errors"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/crunchsvc/crunch/service/shm"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// shmTotals counts the shared memory mapped by every connection, for
// /metrics.
type shmTotals struct {
	regions atomic.Int64
	bytes   atomic.Int64
}

func (t *shmTotals) account(regions int, bytes int64) {
	t.regions.Add(int64(regions))
	t.bytes.Add(bytes)
}

// newLease returns a lease on the session's regions for one message, or
// nil on a connection without shared memory.
func (s *session) newLease() *shm.Lease {
	if s.regions == nil {
		return nil
	}
	return s.regions.Lease()
}

// slicer is lease as a wire.ShmSlicer: an untyped nil without shared
// memory, so that the decoder refuses shm tensors.
func slicer(lease *shm.Lease) wire.ShmSlicer {
	if lease == nil {
		return nil
	}
	return lease
}

// shmRegister maps the oldest descriptor the client sent as a new region.
func (s *session) shmRegister(req *wire.Request) {
	if s.regions == nil {
		s.replyError(replyBinary(req), req.Op, req.ID, wire.Errorf(wire.InvalidArgument,
			"shm_register: shared memory needs a connection over the server's Unix socket (crunch serve --unix PATH)"))
		return
	}
	if err := req.Args.Only(req.Op); err != nil {
		s.replyError(replyBinary(req), req.Op, req.ID, err)
		return
	}
	fd, ok := s.fdc.TakeFD()
	if !ok {
		s.replyError(replyBinary(req), req.Op, req.ID, wire.Errorf(wire.InvalidArgument,
			"shm_register: no file descriptor came with this message (send the memfd with SCM_RIGHTS on the message's own bytes)"))
		return
	}
	id, m, err := s.regions.Register(fd)
	shm.CloseFD(fd) // the mapping, if any, keeps the memory
	if err != nil {
		code := wire.InvalidArgument
		if errors.Is(err, shm.ErrTooLarge) {
			code = wire.TooLarge
		}
		s.replyError(replyBinary(req), req.Op, req.ID, wire.Errorf(code, "shm_register: %v", err))
		return
	}
	s.reply(req, wire.Result{
		"region":   wire.Int(id),
		"size":     wire.Int(int64(len(m.Mem))),
		"writable": wire.Bool(m.Writable),
	}, nil)
}

// shmUnregister forgets a region.
func (s *session) shmUnregister(req *wire.Request) {
	if s.regions == nil {
		s.replyError(replyBinary(req), req.Op, req.ID, wire.Errorf(wire.InvalidArgument,
			"shm_unregister: shared memory needs a connection over the server's Unix socket"))
		return
	}
	if err := req.Args.Only(req.Op, "region"); err != nil {
		s.replyError(replyBinary(req), req.Op, req.ID, err)
		return
	}
	id, err := req.Args.Int("region", 0)
	if err == nil && id <= 0 {
		err = wire.Errorf(wire.InvalidArgument, `shm_unregister: argument "region" must be a region number`)
	}
	if err == nil {
		if uerr := s.regions.Unregister(id); uerr != nil {
			err = wire.Errorf(wire.InvalidArgument, "shm_unregister: %v", uerr)
		}
	}
	if err != nil {
		s.replyError(replyBinary(req), req.Op, req.ID, err)
		return
	}
	s.reply(req, wire.Result{}, nil)
}

// shmWindow leases a request's shm_out window, refusing a bad one before
// any work is done.
func shmWindow(lease *shm.Lease, w *wire.ShmWindow) ([]byte, error) {
	if w == nil {
		return nil, nil
	}
	mem, err := lease.Slice(w.Region, w.Offset, w.Length, true)
	if err != nil {
		return nil, wire.Errorf(wire.InvalidArgument, `"shm_out": %v`, err)
	}
	return mem, nil
}

// placeResults puts the result tensors that fit into the request's
// shm_out window (each at the next multiple of 64 bytes of the region, in
// the byte order of their names) and names them there in res: a result
// its kernel computed at its place already (see resultMem) is left as it
// is, others are copied there. Any other result tensor that lies in the
// request's message, in a region it leased or in the window is copied, as
// the reply may be written after that memory is gone or reused. (No op
// returns an argument as it is; this keeps one that did from reading freed
// memory.)
func placeResults(res wire.Result, mem *reqMemory, win *wire.ShmWindow) {
	names := make([]string, 0, len(res))
	for k, v := range res {
		if v.Tensor != nil {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	// Each result's place in the window, if it fits: [at, end) of it.
	type place struct{ at, end int64 }
	places := make(map[string]place, len(names))
	if mem.window != nil {
		pos := int64(0)
		for _, k := range names {
			at := alignUp(win.Offset+pos, 64) - win.Offset
			if end := at + int64(len(res[k].Tensor.Data)); end <= int64(len(mem.window)) {
				places[k] = place{at, end}
				pos = end
			}
		}
		// A result computed in the window but not at its place moves out
		// before anything is written there.
		for _, k := range names {
			t := res[k].Tensor
			if p, ok := places[k]; within(mem.window, t.Data) && (!ok || !startsAt(t.Data, mem.window[p.at:])) {
				res[k] = wire.Value{Tensor: &tensor.Tensor{DType: t.DType, Shape: t.Shape, Data: tensor.AlignedCopy(t.Data)}}
			}
		}
	}
	for _, k := range names {
		t := res[k].Tensor
		if p, ok := places[k]; ok {
			dst := mem.window[p.at:p.end:p.end]
			if !startsAt(t.Data, dst) {
				copy(dst, t.Data)
			}
			res[k] = wire.Value{
				Tensor: &tensor.Tensor{DType: t.DType, Shape: t.Shape, Data: dst},
				Shm:    &wire.ShmRef{Region: win.Region, Offset: win.Offset + p.at},
			}
			continue
		}
		if mem.lease.Holds(t.Data) || within(mem.msg, t.Data) {
			res[k] = wire.Value{Tensor: &tensor.Tensor{DType: t.DType, Shape: t.Shape, Data: tensor.AlignedCopy(t.Data)}}
		}
	}
}

// startsAt reports whether b and at start at the same byte.
func startsAt(b, at []byte) bool {
	return len(b) > 0 && len(at) > 0 && unsafe.SliceData(b) == unsafe.SliceData(at)
}

// within reports whether b starts inside mem.
func within(mem, b []byte) bool {
	if len(mem) == 0 || len(b) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= lo && p < lo+uintptr(len(mem))
}

func alignUp(n, a int64) int64 { return (n + a - 1) / a * a }

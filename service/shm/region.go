// Package shm is crunch's shared memory between a client and a server on
// the same machine: regions are memfds that the client creates and seals
// against shrinking and growing, hands to the server over the Unix socket
// (SCM_RIGHTS), and both map. The server maps only descriptors a client
// sent on purpose, and only once their seals guarantee that the memory
// cannot shrink under a running kernel (which would end the process with
// SIGBUS). docs/PROTOCOL.md, "Shared memory on the same machine", is the
// contract.
package shm

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// RequiredSeals are the seals a region's memfd must carry before a server
// maps it: its size is then fixed for good.
const RequiredSeals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW

// ErrNotSealed is wrapped by Map's error when a descriptor is not a memfd
// sealed against shrinking and growing.
var ErrNotSealed = errors.New("not a memfd sealed against shrinking and growing (F_SEAL_SHRINK|F_SEAL_GROW)")

// Mapping is a region mapped into this process.
type Mapping struct {
	Mem      []byte // the whole region, MAP_SHARED
	Writable bool   // false: mapped read-only, as the memfd is sealed against writing
}

// Map checks that fd is a memfd of 1 to maxSize bytes sealed against
// shrinking and growing, and maps all of it, read-write unless the memfd
// is sealed against writing. It does not close fd. A size over maxSize
// wraps ErrTooLarge.
func Map(fd int, maxSize int64) (*Mapping, error) {
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		// EINVAL: not a file that supports sealing (a pipe, a socket, a
		// file on disk): nothing guarantees its size.
		return nil, fmt.Errorf("%w: F_GET_SEALS: %v", ErrNotSealed, err)
	}
	if seals&RequiredSeals != RequiredSeals {
		return nil, fmt.Errorf("%w: its seals are %#x", ErrNotSealed, seals)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("fstat: %w", err)
	}
	switch {
	case st.Size <= 0:
		return nil, fmt.Errorf("%w: the memfd is empty", ErrEmpty)
	case st.Size > maxSize:
		return nil, fmt.Errorf("%w: the memfd holds %d bytes, more than the %d left to this connection", ErrTooLarge, st.Size, maxSize)
	case st.Size > int64(int(^uint(0)>>1)):
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, st.Size)
	}
	size := int(st.Size)
	writable := seals&(unix.F_SEAL_WRITE|unix.F_SEAL_FUTURE_WRITE) == 0
	prot := unix.PROT_READ
	if writable {
		prot |= unix.PROT_WRITE
	}
	mem, err := unix.Mmap(fd, 0, size, prot, unix.MAP_SHARED)
	if err != nil && writable && errors.Is(err, unix.EACCES) {
		// Opened read-only by the client: still usable for inputs.
		writable = false
		mem, err = unix.Mmap(fd, 0, size, unix.PROT_READ, unix.MAP_SHARED)
	}
	if err != nil {
		return nil, fmt.Errorf("mmap of %d bytes: %w", size, err)
	}
	return &Mapping{Mem: mem, Writable: writable}, nil
}

// Unmap releases the mapping; its memory must not be used afterwards.
func (m *Mapping) Unmap() error {
	if m.Mem == nil {
		return nil
	}
	err := unix.Munmap(m.Mem)
	m.Mem = nil
	return err
}

// Errors Map wraps for a region it refuses by size.
var (
	ErrEmpty    = errors.New("empty region")
	ErrTooLarge = errors.New("region too large")
)

// Create makes a region for a client: a memfd of size bytes, sealed
// against shrinking, growing and further sealing, mapped read-write. The
// caller owns fd (to send to a server, then close) and the mapping.
func Create(name string, size int) (fd int, m *Mapping, err error) {
	if size <= 0 {
		return -1, nil, fmt.Errorf("shm: region size %d: %w", size, ErrEmpty)
	}
	fd, err = unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, nil, fmt.Errorf("shm: memfd_create: %w", err)
	}
	fail := func(what string, err error) (int, *Mapping, error) {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("shm: %s: %w", what, err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return fail("ftruncate", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, RequiredSeals|unix.F_SEAL_SEAL); err != nil {
		return fail("F_ADD_SEALS", err)
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("mmap", err)
	}
	return fd, &Mapping{Mem: mem, Writable: true}, nil
}

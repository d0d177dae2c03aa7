package shm

import (
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// MaxPendingFDs is how many received descriptors a connection may hold
// unclaimed (sent, but not yet taken by a shm_register). Past it the
// connection is a flood, not a client: Overflowed reports it.
const MaxPendingFDs = 16

// oobSize fits the control messages of one read: a few descriptors. A
// sender that attaches more to one write loses the rest (the kernel closes
// them and sets MSG_CTRUNC), which counts as an overflow.
var oobSize = unix.CmsgSpace(4 * MaxPendingFDs)

// FDConn is a server-side Unix socket connection whose reads also collect
// the descriptors a client sends with SCM_RIGHTS, in the order they come.
// A descriptor rides on the bytes of the message that claims it, so it has
// arrived by the time that message has been read.
type FDConn struct {
	*net.UnixConn

	mu       sync.Mutex
	oob      []byte // reused by reads: only the reader reads
	fds      []int  // received, unclaimed, oldest first
	overflow bool
	closed   bool
}

// Read reads like the plain connection's Read, keeping any descriptors
// that came with the bytes.
func (c *FDConn) Read(p []byte) (int, error) {
	if c.oob == nil {
		c.oob = make([]byte, oobSize)
	}
	n, oobn, flags, _, err := c.UnixConn.ReadMsgUnix(p, c.oob)
	if oobn > 0 || flags&unix.MSG_CTRUNC != 0 {
		c.keep(c.oob[:oobn], flags&unix.MSG_CTRUNC != 0)
	}
	return max(n, 0), err // a failed recvmsg reports -1 bytes; Read callers want 0

}

// keep queues the descriptors of the control messages in oob, closing
// what exceeds MaxPendingFDs (or arrives after Close).
func (c *FDConn) keep(oob []byte, truncated bool) {
	var fds []int
	if msgs, err := unix.ParseSocketControlMessage(oob); err == nil {
		for i := range msgs {
			if got, err := unix.ParseUnixRights(&msgs[i]); err == nil {
				fds = append(fds, got...)
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if truncated {
		c.overflow = true
	}
	for _, fd := range fds {
		if c.closed || len(c.fds) >= MaxPendingFDs {
			c.overflow = true
			unix.Close(fd)
			continue
		}
		c.fds = append(c.fds, fd)
	}
}

// TakeFD hands over the oldest unclaimed descriptor; the caller closes it.
func (c *FDConn) TakeFD() (fd int, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.fds) == 0 {
		return -1, false
	}
	fd = c.fds[0]
	c.fds = c.fds[1:]
	return fd, true
}

// Overflowed reports whether the peer sent more descriptors than
// MaxPendingFDs waiting, or more than one read could take.
func (c *FDConn) Overflowed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.overflow
}

// Close closes the connection and every descriptor still unclaimed.
func (c *FDConn) Close() error {
	c.mu.Lock()
	for _, fd := range c.fds {
		unix.Close(fd)
	}
	c.fds, c.closed = nil, true
	c.mu.Unlock()
	return c.UnixConn.Close()
}

// Listener accepts FDConns on a Unix socket.
type Listener struct {
	*net.UnixListener
}

// Accept waits for the next connection, an *FDConn.
func (l Listener) Accept() (net.Conn, error) {
	c, err := l.UnixListener.AcceptUnix()
	if err != nil {
		return nil, err
	}
	return &FDConn{UnixConn: c}, nil
}

// Listen listens on a Unix socket at path, replacing a stale socket file
// left by a server that is gone, and makes it reachable by its owner and
// group only.
func Listen(path string) (Listener, error) {
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return Listener{}, &net.OpError{Op: "listen", Net: "unix", Addr: &net.UnixAddr{Name: path, Net: "unix"},
			Err: unix.EADDRINUSE}
	}
	// A stale socket, if any (nobody answers on it), is removed; any other
	// file at path is left alone, and the listen below fails on it.
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return Listener{}, err
	}
	ln.SetUnlinkOnClose(true)
	if err := unix.Chmod(path, 0o660); err != nil {
		ln.Close()
		return Listener{}, err
	}
	return Listener{ln}, nil
}

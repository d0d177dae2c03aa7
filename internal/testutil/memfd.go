package testutil

import (
	"testing"

	"golang.org/x/sys/unix"
)

// Memfd makes a sealable memfd of size bytes, closed when the test ends:
// the shared memory a client of the Unix socket passes to the server.
func Memfd(t testing.TB, size int) int {
	t.Helper()
	fd, err := unix.MemfdCreate("test", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		t.Fatal(err)
	}
	return fd
}

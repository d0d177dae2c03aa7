package shm

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/crunchsvc/crunch/internal/testutil"
)

// memfd makes a memfd of size bytes with the given seals.
func memfd(t *testing.T, size int, seals int) int {
	t.Helper()
	fd := testutil.Memfd(t, size)
	if seals != 0 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
			t.Fatal(err)
		}
	}
	return fd
}

func TestMapRefusesWhatCouldShrink(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "region"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	file.Truncate(4096)
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pipe[0])
	defer unix.Close(pipe[1])
	for _, tc := range []struct {
		name string
		fd   int
		want error
	}{
		{"unsealed memfd", memfd(t, 4096, 0), ErrNotSealed},
		{"memfd sealed against growing only", memfd(t, 4096, unix.F_SEAL_GROW), ErrNotSealed},
		{"memfd sealed against shrinking only", memfd(t, 4096, unix.F_SEAL_SHRINK), ErrNotSealed},
		{"file on disk", int(file.Fd()), ErrNotSealed},
		{"pipe", pipe[0], ErrNotSealed},
		{"empty sealed memfd", memfd(t, 0, RequiredSeals), ErrEmpty},
		{"memfd over the limit", memfd(t, 8192, RequiredSeals), ErrTooLarge},
	} {
		m, err := Map(tc.fd, 4096)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Map = %v, %v; want %v", tc.name, m, err, tc.want)
		}
	}
}

func TestMapWritableUnlessSealedAgainstWriting(t *testing.T) {
	m, err := Map(memfd(t, 4096, RequiredSeals), 1<<20)
	if err != nil || !m.Writable || len(m.Mem) != 4096 {
		t.Fatalf("sealed memfd: %+v, %v", m, err)
	}
	m.Mem[4095] = 7 // writable in fact
	m.Unmap()
	fd := memfd(t, 4096, 0)
	unix.Pwrite(fd, []byte{42}, 0)
	unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, RequiredSeals|unix.F_SEAL_WRITE)
	m, err = Map(fd, 1<<20)
	if err != nil || m.Writable || m.Mem[0] != 42 {
		t.Fatalf("write-sealed memfd: %+v, %v", m, err)
	}
	m.Unmap()
}

func TestTableLimitsAndLeases(t *testing.T) {
	var regions int
	var bytes int64
	tab := NewTable(2, 3*4096, func(r int, b int64) { regions += r; bytes += b })
	a, _, err := tab.Register(memfd(t, 4096, RequiredSeals))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tab.Register(memfd(t, 3*4096, RequiredSeals)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("past the byte limit: %v", err)
	}
	b, _, err := tab.Register(memfd(t, 4096, RequiredSeals))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tab.Register(memfd(t, 64, RequiredSeals)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("past the region limit: %v", err)
	}
	if regions != 2 || bytes != 8192 {
		t.Errorf("accounted %d regions, %d bytes; want 2, 8192", regions, bytes)
	}

	l := tab.Lease()
	for _, bad := range [][3]int64{{a, 4090, 8}, {a, -8, 8}, {a, 0, 4097}, {99, 0, 8}, {0, 0, 0}} {
		if _, err := l.Slice(bad[0], bad[1], bad[2], false); err == nil {
			t.Errorf("Slice%v succeeded", bad)
		}
	}
	mem, err := l.Slice(a, 4088, 8, true)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Holds(mem) || l.Holds(make([]byte, 8)) {
		t.Error("Holds is wrong")
	}
	// Unregistered or closed while leased: still mapped, no longer leasable.
	if err := tab.Unregister(a); err != nil {
		t.Fatal(err)
	}
	if err := tab.Unregister(a); !errors.Is(err, ErrUnknownRegion) {
		t.Errorf("second Unregister: %v", err)
	}
	if _, err := tab.Lease().Slice(a, 0, 8, false); !errors.Is(err, ErrUnknownRegion) {
		t.Errorf("Slice of an unregistered region: %v", err)
	}
	tab.Close()
	mem[7] = 1 // would fault if unmapped
	if regions != 1 || bytes != 4096 {
		t.Errorf("after Close with a lease: %d regions, %d bytes; want the leased one", regions, bytes)
	}
	l.Release()
	l.Release()
	if n, by := tab.Regions(); regions != 0 || bytes != 0 || n != 0 || by != 0 {
		t.Errorf("after Release: %d regions, %d bytes accounted, table %d, %d", regions, bytes, n, by)
	}
	if _, err := tab.Lease().Slice(b, 0, 8, false); !errors.Is(err, ErrUnknownRegion) {
		t.Errorf("Slice after Close: %v", err)
	}
	if _, _, err := tab.Register(memfd(t, 64, RequiredSeals)); err == nil {
		t.Error("Register after Close succeeded")
	}
}

func TestReadOnlyRegionRefusesWrites(t *testing.T) {
	tab := NewTable(4, 1<<20, nil)
	defer tab.Close()
	id, _, err := tab.Register(memfd(t, 4096, RequiredSeals|unix.F_SEAL_WRITE))
	if err != nil {
		t.Fatal(err)
	}
	l := tab.Lease()
	defer l.Release()
	if _, err := l.Slice(id, 0, 8, false); err != nil {
		t.Errorf("reading a read-only region: %v", err)
	}
	if _, err := l.Slice(id, 0, 8, true); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("writing a read-only region: %v", err)
	}
}

// socketPair returns an FDConn and the peer that writes to it.
func socketPair(t *testing.T) (*FDConn, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "socket")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	server, peer := &FDConn{UnixConn: conn(fds[0])}, conn(fds[1])
	t.Cleanup(func() { server.Close(); peer.Close() })
	return server, peer
}

func TestFDConnCollectsDescriptorsInOrder(t *testing.T) {
	c, peer := socketPair(t)
	a, b := memfd(t, 10, 0), memfd(t, 20, 0)
	peer.WriteMsgUnix([]byte("one"), unix.UnixRights(a), nil)
	peer.WriteMsgUnix([]byte("two"), unix.UnixRights(b), nil)
	buf := make([]byte, 6)
	for got := 0; got < 6; {
		n, err := c.Read(buf[got:])
		if err != nil {
			t.Fatal(err)
		}
		got += n
	}
	if string(buf) != "onetwo" {
		t.Fatalf("read %q", buf)
	}
	for _, want := range []int64{10, 20} {
		fd, ok := c.TakeFD()
		if !ok {
			t.Fatal("a descriptor is missing")
		}
		var st unix.Stat_t
		unix.Fstat(fd, &st)
		unix.Close(fd)
		if st.Size != want {
			t.Errorf("descriptors out of order: size %d, want %d", st.Size, want)
		}
	}
	if _, ok := c.TakeFD(); ok || c.Overflowed() {
		t.Error("a descriptor too many, or an overflow")
	}
}

func TestFDConnFloodOverflows(t *testing.T) {
	c, peer := socketPair(t)
	fd := memfd(t, 1, 0)
	for i := 0; i < MaxPendingFDs+2; i++ {
		if _, _, err := peer.WriteMsgUnix([]byte{'x'}, unix.UnixRights(fd), nil); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 1)
	for range MaxPendingFDs + 2 {
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	if !c.Overflowed() {
		t.Error("no overflow after a flood of descriptors")
	}
	n := 0
	for {
		fd, ok := c.TakeFD()
		if !ok {
			break
		}
		unix.Close(fd)
		n++
	}
	if n != MaxPendingFDs {
		t.Errorf("kept %d descriptors, want %d", n, MaxPendingFDs)
	}
}

func TestCreateMakesAMappableRegion(t *testing.T) {
	fd, m, err := Create("test", 8192)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	defer m.Unmap()
	m.Mem[8191] = 9
	got, err := Map(fd, 1<<20)
	if err != nil || !got.Writable || got.Mem[8191] != 9 {
		t.Fatalf("Map of a created region: %+v, %v", got, err)
	}
	got.Unmap()
	if _, _, err := Create("test", 0); !errors.Is(err, ErrEmpty) {
		t.Errorf("Create of 0 bytes: %v", err)
	}
}

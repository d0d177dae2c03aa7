package server_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"

	"github.com/crunchsvc/crunch/internal/testserver"
	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/server"
	"github.com/crunchsvc/crunch/service/shm"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// startUnix is start with the server's Unix socket served too; it returns
// the socket's path.
func startUnix(t testing.TB, tweak func(*server.Config)) (*testServer, string) {
	t.Helper()
	ts := start(t, tweak)
	// Socket paths are short (108 bytes): t.TempDir's can be too long.
	dir, err := os.MkdirTemp("", "crunch")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "s")
	ln, err := shm.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	go ts.srv.ServeUnix(ln)
	return ts, path
}

// dialUnix connects a client over the Unix socket at path.
func dialUnix(t testing.TB, path string) *client.Client { return testserver.Dial(t, "unix:"+path) }

// rawUnix is a bare WebSocket connection over the Unix socket, with the
// socket itself for sending descriptors.
func rawUnix(t *testing.T, path string) (*websocket.Conn, *net.UnixConn) {
	t.Helper()
	d := websocket.Dialer{NetDial: func(string, string) (net.Conn, error) { return net.Dial("unix", path) }}
	conn, _, err := d.Dial("ws://localhost/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, conn.UnderlyingConn().(*net.UnixConn)
}

// sendWithFDs writes msg as one masked text frame by one sendmsg that
// carries fds, as a client registering regions does.
func sendWithFDs(t *testing.T, uc *net.UnixConn, msg string, fds ...int) {
	t.Helper()
	p := []byte(msg)
	if len(p) >= 126 {
		t.Fatal("sendWithFDs: keep the message short")
	}
	frame := append([]byte{0x81, 0x80 | byte(len(p)), 0, 0, 0, 0}, p...) // mask key 0: payload as is
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if _, _, err := uc.WriteMsgUnix(frame, oob, nil); err != nil {
		t.Fatal(err)
	}
}

// regionMem resolves a reply's tensors in the test's own regions.
type regionMem map[int64][]byte

func (m regionMem) Slice(region, off, n int64, _ bool) ([]byte, error) {
	mem, ok := m[region]
	if !ok || off+n > int64(len(mem)) {
		return nil, fmt.Errorf("no bytes [%d, %d+%d) in region %d", off, off, n, region)
	}
	return mem[off : off+n], nil
}

// readReply reads the next reply on a raw connection; shm, if given,
// resolves result tensors placed in shared memory.
func readReply(t *testing.T, conn *websocket.Conn, shm ...wire.ShmSlicer) *wire.Reply {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	mt, data, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("reading reply: %v", err)
	}
	var slicer wire.ShmSlicer
	if len(shm) > 0 {
		slicer = shm[0]
	}
	rep, err := wire.DecodeReplyShm(mt == websocket.BinaryMessage, data, slicer)
	if err != nil {
		t.Fatalf("decoding reply %q: %v", data, err)
	}
	return rep
}

// sealedMemfd returns a memfd of size bytes with the given seals and its
// mapping.
func sealedMemfd(t *testing.T, size int, seals int) (int, []byte) {
	t.Helper()
	fd := testutil.Memfd(t, size)
	var mem []byte
	if size > 0 {
		var err error
		if mem, err = unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Munmap(mem) })
	}
	if seals&unix.F_SEAL_WRITE != 0 && mem != nil {
		unix.Munmap(mem) // a writable mapping forbids the write seal
		mem = nil
	}
	if seals != 0 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
			t.Fatal(err)
		}
	}
	return fd, mem
}

// register sends shm_register with fd and returns its reply.
func register(t *testing.T, conn *websocket.Conn, uc *net.UnixConn, id int, fds ...int) *wire.Reply {
	t.Helper()
	sendWithFDs(t, uc, fmt.Sprintf(`{"id":%d,"op":"shm_register"}`, id), fds...)
	return readReply(t, conn)
}

func regionOf(t *testing.T, rep *wire.Reply) int64 {
	t.Helper()
	if !rep.OK {
		t.Fatalf("shm_register failed: %v", rep.Error)
	}
	var n int64
	if err := json.Unmarshal(rep.Result["region"].JSON, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Every op that takes arrays gives over the Unix socket, its arrays in
// shared memory, what it gives over TCP, on every executor and in both
// message forms; tensors from AllocShared travel without a copy.
func TestShmSameAnswersAsTCP(t *testing.T) {
	ts, path := startUnix(t, nil)
	tcp, ux := ts.dial(t), dialUnix(t, path)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	a, b := randMatrix(r, tensor.F64, 150, 97), randMatrix(r, tensor.F64, 97, 130) // 116 KB, 101 KB
	x := tensor.FromFloat64([]int{20011}, make([]float64, 20011))                  // 160 KB, a prime length
	for i := range x.Float64() {
		x.Float64()[i] = r.NormFloat64() * 1e300
	}
	x.Float64()[7] = math.NaN()
	shared, err := ux.AllocShared(ctx, tensor.F64, 150, 97)
	if err != nil {
		t.Fatal(err)
	}
	defer ux.FreeShared(shared)
	copy(shared.Data, a.Data)
	for _, ex := range runExecs {
		for _, text := range []bool{false, true} {
			o := &client.Options{Exec: ex, Text: text}
			want, _, err := tcp.Gemm(ctx, a, b, &client.Options{Exec: ex})
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range []*tensor.Tensor{a, shared} {
				got, _, err := ux.Gemm(ctx, in, b, o)
				if err != nil {
					t.Fatalf("gemm %s text=%v: %v", ex, text, err)
				}
				if !got.Equal(want) {
					t.Errorf("gemm %s text=%v: differs from TCP's", ex, text)
				}
			}
			wantSorted, _, err := tcp.Sort(ctx, x, false, &client.Options{Exec: ex})
			if err != nil {
				t.Fatal(err)
			}
			gotSorted, _, err := ux.Sort(ctx, x, false, o)
			if err != nil {
				t.Fatalf("sort %s text=%v: %v", ex, text, err)
			}
			if !gotSorted.Equal(wantSorted) {
				t.Errorf("sort %s text=%v: differs from TCP's", ex, text)
			}
		}
	}
	page := ts.scrape(t)
	if metricLine(page, "crunch_shm_regions", "0") {
		t.Errorf("/metrics counts no region while a connection holds some:\n%s", grepLines(page, "crunch_shm"))
	}
}

// The results a request names shm_out for are written there, 64-byte
// aligned, and named in the reply; results that do not fit come inline.
func TestShmOutWindow(t *testing.T) {
	_, path := startUnix(t, nil)
	conn, uc := rawUnix(t, path)
	fd, mem := sealedMemfd(t, 1<<16, shm.RequiredSeals)
	region := regionOf(t, register(t, conn, uc, 1, fd))
	xs := mem[:800]
	for i := range 100 {
		binary.LittleEndian.PutUint64(xs[i*8:], math.Float64bits(float64(100-i)))
	}
	for _, tc := range []struct {
		window  string
		inShmAt int64 // -1: inline
	}{
		{fmt.Sprintf("[%d,1000,2000]", region), 1024},
		{fmt.Sprintf("[%d,1024,800]", region), 1024},
		{fmt.Sprintf("[%d,1025,800]", region), -1}, // 64-aligned start leaves too little
		{fmt.Sprintf("[%d,4096,799]", region), -1},
	} {
		msg := fmt.Sprintf(`{"id":2,"op":"sort","args":{"x":{"dtype":"f64","shape":[100],"shm":[%d,0]}},"shm_out":%s}`, region, tc.window)
		if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		rep := readReply(t, conn, regionMem{region: mem})
		if !rep.OK {
			t.Fatalf("window %s: %v", tc.window, rep.Error)
		}
		v := rep.Result["x"]
		switch {
		case tc.inShmAt < 0 && v.Shm != nil:
			t.Errorf("window %s: result placed at %+v, though it does not fit", tc.window, v.Shm)
		case tc.inShmAt < 0:
			if v.Tensor.Float64()[0] != 1 {
				t.Errorf("window %s: inline result wrong", tc.window)
			}
		case v.Shm == nil || v.Shm.Region != region || v.Shm.Offset != tc.inShmAt:
			t.Errorf("window %s: result at %+v, want region %d offset %d", tc.window, v.Shm, region, tc.inShmAt)
		default:
			for i := range 100 {
				if got := math.Float64frombits(binary.LittleEndian.Uint64(mem[tc.inShmAt+int64(i)*8:])); got != float64(i+1) {
					t.Fatalf("window %s: element %d is %v", tc.window, i, got)
				}
			}
		}
		clear(mem[1000:3000])
	}
}

// Every way a client can get shared memory wrong is a clear error that
// leaves the connection and the server serving.
func TestShmBadRegions(t *testing.T) {
	ts, path := startUnix(t, func(c *server.Config) { c.ShmMaxRegions = 3; c.ShmMaxBytes = 1 << 20 })
	conn, uc := rawUnix(t, path)
	file, err := os.CreateTemp("", "crunch-region")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(file.Name())
	defer file.Close()
	file.Truncate(4096)
	unsealed, _ := sealedMemfd(t, 4096, 0)
	shrinkable, _ := sealedMemfd(t, 4096, unix.F_SEAL_GROW)
	empty, _ := sealedMemfd(t, 0, shm.RequiredSeals)
	huge, _ := sealedMemfd(t, 2<<20, shm.RequiredSeals)
	var pipe [2]int
	unix.Pipe2(pipe[:], unix.O_CLOEXEC)
	defer unix.Close(pipe[0])
	defer unix.Close(pipe[1])

	id := 1
	expect := func(what string, rep *wire.Reply, code wire.Code, words string) {
		t.Helper()
		id++
		if rep.OK || rep.Error.Code != code || !strings.Contains(rep.Error.Message, words) {
			t.Errorf("%s: got %+v, want %s mentioning %q", what, rep.Error, code, words)
		}
	}
	expect("no descriptor", register(t, conn, uc, id), wire.InvalidArgument, "no file descriptor")
	expect("unsealed memfd", register(t, conn, uc, id, unsealed), wire.InvalidArgument, "sealed")
	expect("memfd that can shrink", register(t, conn, uc, id, shrinkable), wire.InvalidArgument, "sealed")
	expect("file on disk", register(t, conn, uc, id, int(file.Fd())), wire.InvalidArgument, "sealed")
	expect("pipe", register(t, conn, uc, id, pipe[0]), wire.InvalidArgument, "sealed")
	expect("empty memfd", register(t, conn, uc, id, empty), wire.InvalidArgument, "empty")
	expect("over --shm-max-bytes", register(t, conn, uc, id, huge), wire.TooLarge, "more than")

	small, _ := sealedMemfd(t, 4096, shm.RequiredSeals)
	region := regionOf(t, register(t, conn, uc, id, small))
	ro, _ := sealedMemfd(t, 4096, shm.RequiredSeals|unix.F_SEAL_WRITE)
	roRep := register(t, conn, uc, id+1, ro)
	roRegion := regionOf(t, roRep)
	if string(roRep.Result["writable"].JSON) != "false" {
		t.Errorf("a write-sealed region is not reported read-only: %s", roRep.Result["writable"].JSON)
	}
	third, _ := sealedMemfd(t, 4096, shm.RequiredSeals)
	regionOf(t, register(t, conn, uc, id+2, third))
	id += 3
	extra, _ := sealedMemfd(t, 64, shm.RequiredSeals)
	expect("over --shm-max-regions", register(t, conn, uc, id, extra), wire.TooLarge, "regions")

	call := func(what, msg string, words string) {
		t.Helper()
		if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		expect(what, readReply(t, conn), wire.InvalidArgument, words)
	}
	tensorAt := func(at string) string {
		return fmt.Sprintf(`{"id":%d,"op":"stats","args":{"x":{"dtype":"f64","shape":[512],"shm":%s}}}`, id, at)
	}
	call("tensor longer than its region", tensorAt(fmt.Sprintf("[%d,8]", region)), "outside region")
	call("misaligned offset", tensorAt(fmt.Sprintf("[%d,4]", region)), "multiple of 8")
	call("unknown region", tensorAt("[99,0]"), "unknown shared-memory region")
	call("malformed shm", tensorAt(fmt.Sprintf("[%d]", region)), "[region, offset]")
	call("shm and data", fmt.Sprintf(`{"id":%d,"op":"stats","args":{"x":{"dtype":"f64","shape":[1],"data":[1],"shm":[%d,0]}}}`, id, region), `"shm" and also`)
	call("shm_out in a read-only region", fmt.Sprintf(`{"id":%d,"op":"stats","args":{"x":[1,2]},"shm_out":[%d,0,64]}`, id, roRegion), "read-only")
	call("shm_out beyond its region", fmt.Sprintf(`{"id":%d,"op":"stats","args":{"x":[1,2]},"shm_out":[%d,4000,200]}`, id, region), "outside region")
	call("unregister an unknown region", fmt.Sprintf(`{"id":%d,"op":"shm_unregister","args":{"region":42}}`, id), "unknown")

	// A region of another connection, or of a closed one, is unknown here.
	other, otherUC := rawUnix(t, path)
	fd4, _ := sealedMemfd(t, 4096, shm.RequiredSeals)
	otherRegion := regionOf(t, register(t, other, otherUC, 1, fd4))
	other.Close()
	call("another connection's region", tensorAt(fmt.Sprintf("[%d,0]", otherRegion+10)), "unknown")
	testutil.WaitFor(t, 20*time.Second, "the closed connection's region unmapped", func() bool {
		return metricLine(ts.scrape(t), "crunch_shm_regions", "3")
	})

	// Unregistered: gone for new requests, and its budget is free again.
	if err := conn.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"id":%d,"op":"shm_unregister","args":{"region":%d}}`, id, region))); err != nil {
		t.Fatal(err)
	}
	if rep := readReply(t, conn); !rep.OK {
		t.Fatalf("shm_unregister: %v", rep.Error)
	}
	call("unregistered region", tensorAt(fmt.Sprintf("[%d,0]", region)), "unknown")
	regionOf(t, register(t, conn, uc, id, extra))

	// Over TCP, shared memory is refused, clearly.
	tcp := ts.raw(t)
	for what, msg := range map[string]string{
		"shm tensor over TCP":  `{"id":5,"op":"stats","args":{"x":{"dtype":"f64","shape":[1],"shm":[1,0]}}}`,
		"shm_out over TCP":     `{"id":5,"op":"stats","args":{"x":[1]},"shm_out":[1,0,64]}`,
		"shm_register via TCP": `{"id":5,"op":"shm_register"}`,
	} {
		rep := exchange(t, tcp, websocket.TextMessage, []byte(msg))
		if rep.OK || rep.Error.Code != wire.InvalidArgument || !strings.Contains(rep.Error.Message, "Unix socket") {
			t.Errorf("%s: %+v", what, rep.Error)
		}
	}
	if rep := exchange(t, conn, websocket.TextMessage, []byte(`{"id":77,"op":"ping"}`)); !rep.OK {
		t.Fatalf("the connection no longer serves: %v", rep.Error)
	}
}

// A flood of descriptors closes that connection (1008), and only it.
func TestShmDescriptorFlood(t *testing.T) {
	ts, path := startUnix(t, nil)
	conn, uc := rawUnix(t, path)
	fd, _ := sealedMemfd(t, 64, shm.RequiredSeals)
	for i := range shm.MaxPendingFDs + 1 {
		sendWithFDs(t, uc, fmt.Sprintf(`{"id":%d,"op":"ping"}`, i+1), fd)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var closeErr *websocket.CloseError
	for {
		_, _, err := conn.ReadMessage()
		if err == nil {
			continue // pings answered before the flood was seen
		}
		if !errors.As(err, &closeErr) || closeErr.Code != websocket.ClosePolicyViolation {
			t.Fatalf("after a flood of descriptors: %v, want close 1008", err)
		}
		break
	}
	c := ts.dial(t)
	if _, err := c.Ping(context.Background()); err != nil {
		t.Fatalf("the server stopped serving: %v", err)
	}
}

// A kernel still reading shared memory after its connection has gone
// keeps that memory mapped until it returns; then it is unmapped. (A
// kernel that read unmapped memory would kill the server.)
func TestShmOutlivesItsConnection(t *testing.T) {
	ts, path := startUnix(t, nil)
	for _, ex := range []string{"pool", "direct", "subprocess"} {
		c, err := client.Dial(context.Background(), "unix:"+path)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(3, 4))
		a := randMatrix(r, tensor.F64, 1200, 1200)
		errc := make(chan error, 1)
		go func() {
			_, _, err := c.Gemm(context.Background(), a, a, &client.Options{Exec: ex})
			errc <- err
		}()
		testutil.WaitFor(t, 20*time.Second, "the gemm running", func() bool {
			return !metricLine(ts.scrape(t), `crunch_executor_busy{exec="`+ex+`"}`, "0")
		})
		c.Close()
		<-errc
		testutil.WaitFor(t, 20*time.Second, "every region unmapped", func() bool {
			return metricLine(ts.scrape(t), "crunch_shm_regions", "0") && metricLine(ts.scrape(t), "crunch_shm_mapped_bytes", "0")
		})
	}
	if _, err := ts.dial(t).Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// info says which transport a connection uses and, with a Unix socket,
// how to use shared memory.
func TestShmInfo(t *testing.T) {
	ts, path := startUnix(t, nil)
	for _, tc := range []struct {
		c    *client.Client
		want string
	}{{ts.dial(t), `"tcp"`}, {dialUnix(t, path), `"unix"`}} {
		info, err := tc.c.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if string(info["transport"]) != tc.want {
			t.Errorf("transport %s, want %s", info["transport"], tc.want)
		}
		var sh struct {
			Version    int    `json:"version"`
			Unix       string `json:"unix"`
			MaxRegions int    `json:"max_regions"`
		}
		if err := json.Unmarshal(info["shm"], &sh); err != nil || sh.Version != 1 || sh.Unix != path || sh.MaxRegions <= 0 {
			t.Errorf("info shm = %s (%v)", info["shm"], err)
		}
	}
}

func grepLines(page, prefix string) string {
	var out []string
	for _, l := range strings.Split(page, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(slices.Clip(out), "\n")
}

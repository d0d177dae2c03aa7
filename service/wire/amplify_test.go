package wire

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// TestDecodeMemoryBounded: a request whose args or top level hold millions
// of members is refused while it is scanned, before it costs memory: the
// decoder allocates a small fraction of the message, not a multiple.
func TestDecodeMemoryBounded(t *testing.T) {
	many := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"k%d":1`, i)
		}
		return b.String()
	}
	members := many(2_000_000) // about 25 MiB
	for _, tc := range []struct{ name, msg string }{
		{"args", `{"id":5,"op":"modsum","args":{` + members + `}}`},
		{"top level", `{"id":5,"op":"modsum",` + members + `}`},
		{"tensor object", `{"id":5,"op":"stats","args":{"x":{"dtype":"f64","shape":[1],"data":[1],` + members + `}}}`},
	} {
		msg := []byte(tc.msg)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := DecodeRequest(false, msg)
		runtime.ReadMemStats(&after)
		e := AsError(err)
		if e == nil || e.Code != InvalidArgument || !strings.Contains(e.Message, "more than 64 members") {
			t.Errorf("%s: %v, want invalid_argument about members", tc.name, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(len(msg))/8 {
			t.Errorf("%s: decoding a %d-byte message allocated %d bytes", tc.name, len(msg), alloc)
		}
	}
	// 64 members are fine (refused later, by the op, if it lacks them).
	if _, err := DecodeRequest(false, []byte(`{"id":5,"op":"modsum","args":{`+many(64)+`}}`)); err != nil {
		t.Errorf("64 members: %v", err)
	}
}

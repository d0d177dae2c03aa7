package wire

import (
	"encoding/binary"
	"strings"
	"testing"
)

func TestPeekRequest(t *testing.T) {
	bin := func(header string, h int) []byte {
		b := []byte("CRN1")
		b = binary.LittleEndian.AppendUint32(b, uint32(h))
		return append(b, header...)
	}
	pad := strings.Repeat("x", 1000)
	cases := []struct {
		name   string
		binary bool
		head   []byte
		id     int64
		reply  string
	}{
		{"whole", false, []byte(`{"id":5,"op":"gemm","reply":"binary"}`), 5, "binary"},
		{"cut in a string", false, []byte(`{"id":7.0,"reply":"text","pad":"` + pad), 7, "text"},
		{"id after the cut", false, []byte(`{"op":"gemm","pad":"` + pad), 0, ""},
		{"id cut short", false, []byte(`{"op":"gemm","id":12`), 0, ""},
		{"nested id ignored", false, []byte(`{"args":{"id":3},"pad":"`), 0, ""},
		{"last id counts", false, []byte(`{"id":3,"id":4,"pad":"`), 4, ""},
		{"bad id", false, []byte(`{"id":1.5,"pad":"`), 0, ""},
		{"string id", false, []byte(`{"id":"9","pad":"`), 0, ""},
		{"bad reply", false, []byte(`{"id":2,"reply":"xml","pad":"`), 2, ""},
		{"not an object", false, []byte(`[1,2,3`), 0, ""},
		{"garbage", false, []byte("\xff\xfe"), 0, ""},
		{"binary whole header", true, bin(`{"id":9,"op":"gemm","reply":"text","buffers":[[64,8]]}`, 52), 9, "text"},
		{"binary header cut", true, bin(`{"id":10,"args":{"a":[[1,2],[3`, 100000), 10, ""},
		{"binary bad magic", true, []byte(`XXXX{"id":1}`), 0, ""},
		{"binary short", true, []byte(`CRN1`), 0, ""},
	}
	for _, tc := range cases {
		id, reply := PeekRequest(tc.binary, tc.head)
		if id != tc.id || reply != tc.reply {
			t.Errorf("%s: got %d %q, want %d %q", tc.name, id, reply, tc.id, tc.reply)
		}
	}
}

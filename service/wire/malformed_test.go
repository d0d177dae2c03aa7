package wire

import (
	"encoding/binary"
	"strings"
	"testing"
)

// malformed is one bad message: what it is, its form, and what the error
// must mention.
type malformedCase struct {
	name   string
	binary bool
	msg    []byte
	id     int64 // the id DecodeRequest must still return, 0 for none
	parts  []string
}

// text returns a text request with id 1 whose args hold one argument "a".
func textArg(a string) []byte { return []byte(`{"id":1,"op":"x","args":{"a":` + a + `}}`) }

// binArg returns a binary request with id 1 whose args hold one argument
// "a", the given "buffers" list, and a message of total bytes.
func binArg(a, buffers string, total int) []byte {
	return frame(`{"id":1,"op":"x","args":{"a":`+a+`},"buffers":`+buffers+`}`, total, nil)
}

func malformedCases() []malformedCase {
	withH := func(msg []byte, h uint32) []byte {
		binary.LittleEndian.PutUint32(msg[4:], h)
		return msg
	}
	deepShape := "[" + strings.Repeat("1,", 64) + "1]"
	deepNest := strings.Repeat("[", 65) + "1" + strings.Repeat("]", 65)
	f64 := `{"dtype":"f64","shape":[2],"buffer":0}`
	return []malformedCase{
		// Framing.
		{"bad magic", true, []byte("CRN2\x02\x00\x00\x00{}"), 0, []string{"magic", "CRN1"}},
		{"empty binary", true, nil, 0, []string{"magic"}},
		{"text magic in binary", true, []byte(`{"id":1,"op":"x"}`), 0, []string{"magic"}},
		{"truncated header length", true, []byte("CRN1\x05\x00"), 0, []string{"too short", "header length"}},
		{"header length beyond message", true, withH(frame(`{"id":1,"op":"x"}`, 64, nil), 1000), 0, []string{"header length 1000 exceeds the 56 bytes"}},
		{"header length 2^32-1", true, withH(frame(`{}`, 0, nil), 0xffffffff), 0, []string{"header length 4294967295"}},
		{"header not JSON", true, frame(`{id:1}`, 0, nil), 0, []string{"header", "not valid JSON", "at byte"}},
		{"header empty", true, frame(``, 0, nil), 0, []string{"header", "not valid JSON"}},
		{"header not object", true, frame(`[1,2]`, 0, nil), 0, []string{"header must be a JSON object", "array"}},
		{"text not JSON", false, []byte(`{"id":1,`), 0, []string{"text message", "not valid JSON"}},
		{"text empty", false, nil, 0, []string{"not valid JSON"}},
		{"text trailing garbage", false, []byte(`{"id":1,"op":"x"} x`), 0, []string{"not valid JSON"}},
		{"text not object", false, []byte(`"hello"`), 0, []string{"must be a JSON object", "string"}},
		{"text binary bytes", false, frame(`{"id":1,"op":"x"}`, 0, nil), 0, []string{"not valid JSON"}},
		// The id.
		{"missing id", false, []byte(`{"op":"x"}`), 0, []string{`"id" is missing`}},
		{"null id", false, []byte(`{"id":null,"op":"x"}`), 0, []string{`"id" is missing`}},
		{"id case", false, []byte(`{"ID":1,"op":"x"}`), 0, []string{`"id" is missing`}},
		{"id 0", false, []byte(`{"id":0,"op":"x"}`), 0, []string{`"id" must be an integer from 1 to 2^53-1, got 0`}},
		{"id negative", false, []byte(`{"id":-3,"op":"x"}`), 0, []string{"got -3"}},
		{"id 2^53", false, []byte(`{"id":9007199254740992,"op":"x"}`), 0, []string{"got 9007199254740992"}},
		{"id 1.5", false, []byte(`{"id":1.5,"op":"x"}`), 0, []string{"got 1.5"}},
		{"id 1e300", false, []byte(`{"id":1e300,"op":"x"}`), 0, []string{"got 1e300"}},
		{"id string", false, []byte(`{"id":"7","op":"x"}`), 0, []string{`"id"`, "got a string"}},
		{"id bool", true, frame(`{"id":true,"op":"x"}`, 0, nil), 0, []string{`"id"`, "got a boolean"}},
		// Other fields: the id is returned with the error.
		{"missing op", false, []byte(`{"id":1}`), 1, []string{`"op" is missing`}},
		{"op not string", false, []byte(`{"id":1,"op":5}`), 1, []string{`"op" must be a string, got a number`}},
		{"op empty", false, []byte(`{"id":1,"op":""}`), 1, []string{`"op" is empty`}},
		{"exec not string", false, []byte(`{"id":1,"op":"x","exec":1}`), 1, []string{`"exec" must be a string`}},
		{"impl not string", true, frame(`{"id":1,"op":"x","impl":["c"]}`, 0, nil), 1, []string{`"impl" must be a string`}},
		{"bad reply", false, []byte(`{"id":1,"op":"x","reply":"xml"}`), 1, []string{`"reply" must be one of binary, text`}},
		{"negative timeout", false, []byte(`{"id":1,"op":"x","timeout_ms":-5}`), 1, []string{`"timeout_ms" must be a non-negative integer`, "-5"}},
		{"zero threads", false, []byte(`{"id":1,"op":"x","threads":0}`), 1, []string{`"threads" must be at least 1, got 0`}},
		{"negative threads", false, []byte(`{"id":1,"op":"x","threads":-2}`), 1, []string{`"threads" must be a non-negative integer`, "-2"}},
		{"fractional threads", false, []byte(`{"id":1,"op":"x","threads":1.5}`), 1, []string{`"threads" must be a non-negative integer`, "1.5"}},
		{"threads string", false, []byte(`{"id":1,"op":"x","threads":"2"}`), 1, []string{`"threads" must be a non-negative integer`}},
		{"fractional timeout", false, []byte(`{"id":1,"op":"x","timeout_ms":2.5}`), 1, []string{`"timeout_ms"`, "2.5"}},
		{"string timeout", false, []byte(`{"id":1,"op":"x","timeout_ms":"5"}`), 1, []string{`"timeout_ms"`, "a string"}},
		{"progress not bool", false, []byte(`{"id":1,"op":"x","progress":"yes"}`), 1, []string{`"progress" must be true or false`}},
		{"args array", false, []byte(`{"id":1,"op":"x","args":[1]}`), 1, []string{`"args" must be an object`, "an array"}},
		{"args number", false, []byte(`{"id":1,"op":"x","args":5}`), 1, []string{`"args" must be an object`, "a number"}},
		// Text tensors.
		{"unknown dtype", false, textArg(`{"dtype":"f16","shape":[1],"data":[1]}`), 1, []string{`argument "a"`, `unknown dtype "f16"`}},
		{"dtype not string", false, textArg(`{"dtype":8,"shape":[1],"data":[1]}`), 1, []string{`"dtype" must be a string`}},
		{"object without dtype", false, textArg(`{"shape":[1],"data":[1]}`), 1, []string{`"dtype" is missing`}},
		{"no shape", false, textArg(`{"dtype":"f64","data":[1]}`), 1, []string{`no "shape"`}},
		{"shape not list", false, textArg(`{"dtype":"f64","shape":3,"data":[1]}`), 1, []string{`"shape" must be a list`}},
		{"negative dim", false, textArg(`{"dtype":"f64","shape":[2,-1],"data":[]}`), 1, []string{`"shape"[1] is -1`, "negative"}},
		{"fractional dim", false, textArg(`{"dtype":"f64","shape":[1.5],"data":[1]}`), 1, []string{`"shape"[0]`, "1.5"}},
		{"string dim", false, textArg(`{"dtype":"f64","shape":["2"],"data":[1]}`), 1, []string{`"shape"[0]`, "a string"}},
		{"shape overflow", false, textArg(`{"dtype":"f64","shape":[1099511627776,1099511627776],"data":[]}`), 1, []string{"overflows"}},
		{"shape overflow bytes", false, textArg(`{"dtype":"c128","shape":[1152921504606846976],"data":[]}`), 1, []string{"overflows"}},
		{"dim 1e30", false, textArg(`{"dtype":"f64","shape":[1e30],"data":[]}`), 1, []string{`"shape"[0]`, "overflows"}},
		{"too many dims", false, textArg(`{"dtype":"f64","shape":` + deepShape + `,"data":[1]}`), 1, []string{"more than 64 dimensions"}},
		{"data short", false, textArg(`{"dtype":"f64","shape":[3],"data":[1,2]}`), 1, []string{`"data" has length 2, but shape [3] needs 3`}},
		{"data long", false, textArg(`{"dtype":"i32","shape":[1],"data":[1,2]}`), 1, []string{`"data" has length 2, but shape [1] needs 1`}},
		{"data vs huge shape", false, textArg(`{"dtype":"f64","shape":[1000000000],"data":[1]}`), 1, []string{`length 1, but shape [1000000000] needs 1000000000`}},
		{"complex data odd", false, textArg(`{"dtype":"c64","shape":[2],"data":[1,2]}`), 1, []string{"length 2", "needs 4", "re, im"}},
		{"data with string", false, textArg(`{"dtype":"f64","shape":[2],"data":[1,"2"]}`), 1, []string{`"data"[1] is a string, not a number`}},
		{"data with null", false, textArg(`{"dtype":"f64","shape":[2],"data":[null,1]}`), 1, []string{`"data"[0] is null, not a number`}},
		{"data with bool", false, textArg(`{"dtype":"u8","shape":[1],"data":[true]}`), 1, []string{`"data"[0] is a boolean`}},
		{"data nested", false, textArg(`{"dtype":"f64","shape":[1],"data":[[1]]}`), 1, []string{`"data"[0] is an array`}},
		{"data not list", false, textArg(`{"dtype":"f64","shape":[1],"data":"1"}`), 1, []string{`"data" must be a flat list of numbers, got a string`}},
		{"data NaN string", false, textArg(`{"dtype":"f64","shape":[1],"data":["NaN"]}`), 1, []string{`"data"[0] is a string, not a number`}},
		{"u8 300", false, textArg(`{"dtype":"u8","shape":[2],"data":[1,300]}`), 1, []string{`"data"[1] is 300, out of range for u8`}},
		{"u16 65536", false, textArg(`{"dtype":"u16","shape":[1],"data":[65536]}`), 1, []string{"out of range for u16"}},
		{"u32 -1", false, textArg(`{"dtype":"u32","shape":[1],"data":[-1]}`), 1, []string{`"data"[0] is -1, out of range for u32`}},
		{"i32 1.5", false, textArg(`{"dtype":"i32","shape":[1],"data":[1.5]}`), 1, []string{`"data"[0] is 1.5, not an integer as i32 requires`}},
		{"i32 2^31", false, textArg(`{"dtype":"i32","shape":[1],"data":[2147483648]}`), 1, []string{"out of range for i32"}},
		{"i64 2^63", false, textArg(`{"dtype":"i64","shape":[1],"data":[9223372036854775808]}`), 1, []string{"out of range for i64"}},
		{"i64 1e-5", false, textArg(`{"dtype":"i64","shape":[1],"data":[1e-5]}`), 1, []string{"not an integer"}},
		{"f32 1e39", false, textArg(`{"dtype":"f32","shape":[1],"data":[1e39]}`), 1, []string{`"data"[0] is 1e39, out of range for f32`}},
		{"f64 1e400", false, textArg(`{"dtype":"f64","shape":[1],"data":[-1e400]}`), 1, []string{"out of range for f64"}},
		{"c64 1e39", false, textArg(`{"dtype":"c64","shape":[1],"data":[0,1e39]}`), 1, []string{`"data"[1]`, "out of range for c64"}},
		{"both data and buffer", false, textArg(`{"dtype":"f64","shape":[1],"data":[1],"buffer":0}`), 1, []string{`both "data" and "buffer"`}},
		{"buffer in text", false, textArg(`{"dtype":"f64","shape":[1],"buffer":0}`), 1, []string{`"buffer" in a text message`}},
		{"no data", false, textArg(`{"dtype":"f64","shape":[1]}`), 1, []string{`no "data"`}},
		// Bare nested arrays.
		{"ragged", false, textArg(`[[1,2],[3]]`), 1, []string{"ragged", "[1] has 1 items where others have 2"}},
		{"ragged deep", false, textArg(`[[[1],[2]],[[3],[4,5]]]`), 1, []string{"ragged", "[1][1]"}},
		{"ragged mixed", false, textArg(`[[1],2]`), 1, []string{"ragged", "[1] is a number"}},
		{"ragged mixed 2", false, textArg(`[1,[2]]`), 1, []string{"ragged", "[1] is an array"}},
		{"ragged empty", false, textArg(`[[],[1]]`), 1, []string{"ragged"}},
		{"nested strings", false, textArg(`[["a","b"]]`), 1, []string{"nested array element [0][0] is a string, not a number"}},
		{"nested null", false, textArg(`[1,null]`), 1, []string{"element [1] is null"}},
		{"nested object", false, textArg(`[{}]`), 1, []string{"element [0] is an object"}},
		{"nested too deep", false, textArg(deepNest), 1, []string{"more than 64 levels"}},
		{"nested 1e400", false, textArg(`[1e400]`), 1, []string{"out of range"}},
		// Binary tensors and buffers.
		{"buffer index out of range", true, binArg(`{"dtype":"f64","shape":[2],"buffer":2}`, `[[128,16],[144,16]]`, 160), 1, []string{"buffer index 2 is out of range", "lists 2"}},
		{"buffer index negative", true, binArg(`{"dtype":"f64","shape":[2],"buffer":-1}`, `[[128,16]]`, 160), 1, []string{"buffer index -1"}},
		{"buffer index string", true, binArg(`{"dtype":"f64","shape":[2],"buffer":"0"}`, `[[128,16]]`, 160), 1, []string{`"buffer" must be an index`}},
		{"buffer index fraction", true, binArg(`{"dtype":"f64","shape":[2],"buffer":0.5}`, `[[128,16]]`, 160), 1, []string{`"buffer" must be an integer index`}},
		{"buffer offset not multiple of 8", true, binArg(f64, `[[132,16]]`, 160), 1, []string{"buffer 0: offset 132 is not a multiple of 8"}},
		{"buffer inside header", true, binArg(f64, `[[8,16]]`, 160), 1, []string{"offset 8 lies inside the preamble and header"}},
		{"buffer outside message", true, binArg(f64, `[[128,16],[1024,4096]]`, 2048), 1, []string{"buffer 1 [1024, 5120) lies outside the 2048-byte message"}},
		{"buffer offset past end", true, binArg(f64, `[[4096,0]]`, 2048), 1, []string{"lies outside the 2048-byte message"}},
		{"buffer length overflow", true, binArg(f64, `[[128,9223372036854775807]]`, 256), 1, []string{"buffer 0 [128, 9223372036854775935) lies outside"}},
		{"buffer length huge", true, binArg(f64, `[[128,1e30]]`, 256), 1, []string{"length must be a non-negative integer"}},
		{"buffer length negative", true, binArg(f64, `[[128,-16]]`, 256), 1, []string{"length must be a non-negative integer", "-16"}},
		{"buffers not list", true, binArg(f64, `{"0":[128,16]}`, 256), 1, []string{`"buffers" must be a list of [offset, length] pairs, got an object`}},
		{"buffer not pair", true, binArg(f64, `[[128]]`, 256), 1, []string{"buffer 0 must be an [offset, length] pair, got 1 numbers"}},
		{"buffer triple", true, binArg(f64, `[[128,16,0]]`, 256), 1, []string{"pair, got 3"}},
		{"buffer not list", true, binArg(f64, `[128]`, 256), 1, []string{"buffer 0 must be an [offset, length] pair, got a number"}},
		{"buffer string length", true, binArg(f64, `[[128,"16"]]`, 256), 1, []string{"buffer 0: length must be a non-negative integer, got a string"}},
		{"buffer length mismatch", true, binArg(f64, `[[128,8]]`, 256), 1, []string{"buffer 0 holds 8 bytes, but a f64 tensor of shape [2] needs 16"}},
		{"both in binary", true, binArg(`{"dtype":"f64","shape":[2],"buffer":0,"data":[1,2]}`, `[[128,16]]`, 256), 1, []string{`both "data" and "buffer"`}},
		{"neither in binary", true, binArg(`{"dtype":"f64","shape":[2]}`, `[]`, 256), 1, []string{`neither "buffer" nor "data"`}},
		{"no buffers list", true, binArg(f64, `null`, 256), 1, []string{"buffer index 0 is out of range", "lists 0"}},
	}
}

func TestDecodeRequestMalformed(t *testing.T) {
	for _, c := range malformedCases() {
		t.Run(c.name, func(t *testing.T) {
			req, err := DecodeRequest(c.binary, c.msg)
			if err == nil {
				t.Fatalf("accepted: %+v", req)
			}
			wantInvalid(t, err, c.parts...)
			switch {
			case c.id == 0 && req != nil:
				t.Errorf("returned a request %+v although the id is unreadable", req)
			case c.id != 0 && (req == nil || req.ID != c.id || req.Args != nil):
				t.Errorf("returned request %+v, want only id %d", req, c.id)
			}
		})
	}
}

func TestDecodeReplyMalformed(t *testing.T) {
	for _, c := range []struct {
		msg   string
		parts []string
	}{
		{`[]`, []string{"must be a JSON object"}},
		{`{"ok":true}`, []string{`"id" is missing`}},
		{`{"id":-1,"ok":true}`, []string{`"id" must be an integer from 0`}},
		{`{"id":1}`, []string{`neither "ok" nor "progress"`}},
		{`{"id":1,"ok":"yes"}`, []string{`"ok" must be true or false`}},
		{`{"id":1,"progress":"half"}`, []string{`"progress" must be a number`}},
		{`{"id":1,"progress":null}`, []string{`"progress" must be a number`}},
		{`{"id":1,"progress":1e999}`, []string{`"progress" is out of range`}},
		{`{"id":1,"ok":false}`, []string{`"error" must be an object`}},
		{`{"id":1,"ok":false,"error":"boom"}`, []string{`"error" must be an object`}},
		{`{"id":1,"ok":false,"error":{"message":"m"}}`, []string{`"error" has no "code"`}},
		{`{"id":1,"ok":false,"error":{"code":1}}`, []string{`"code" must be a string`}},
		{`{"id":1,"ok":false,"error":{"code":"overloaded","message":"m","retry_after_ms":-1}}`, []string{`"retry_after_ms"`}},
		{`{"id":1,"ok":true,"result":[]}`, []string{`"result" must be an object`}},
		{`{"id":1,"ok":true,"result":{},"stats":{"queue_us":"x"}}`, []string{`"stats"`}},
	} {
		_, err := DecodeReply(false, []byte(c.msg))
		if err == nil {
			t.Errorf("DecodeReply(%s) accepted it", c.msg)
			continue
		}
		wantInvalid(t, err, c.parts...)
	}
	_, err := DecodeReply(true, []byte("CRN1"))
	wantInvalid(t, err, "too short")
}

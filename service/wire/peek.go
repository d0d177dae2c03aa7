package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
)

// PeekRequest reads the id and the reply form ("", "binary" or "text") of
// a request from the first bytes of its message, head, as far as head
// holds them: for a message the server refuses without reading all of it
// (a large one that could not get a token in time), so that the refusal
// still names its request and comes in the form asked for. An id that is
// not in head, or not valid, is 0; so is one that only the rest of the
// message could confirm (the rest is never read). It looks at nothing but
// the top-level "id" and "reply" members, and holds no more memory than a
// copy of head.
func PeekRequest(isBinary bool, head []byte) (id int64, reply string) {
	obj := head
	if isBinary {
		if len(head) < preambleLen || string(head[:len(magic)]) != magic {
			return 0, ""
		}
		obj = head[preambleLen:]
		if h := binary.LittleEndian.Uint32(head[len(magic):preambleLen]); uint64(h) < uint64(len(obj)) {
			obj = obj[:h]
		}
	}
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0, ""
	}
	for {
		key, err := dec.Token()
		name, ok := key.(string)
		if err != nil || !ok {
			return id, reply // the object's end, or the end of head
		}
		var val json.RawMessage
		// A value cut short by the end of head fails here: what was
		// read before it stands.
		// So does a value that ends where head does: a number there may
		// go on in the rest.
		if err := dec.Decode(&val); err != nil || dec.InputOffset() >= int64(len(obj)) {
			return id, reply
		}
		switch name {
		case "id":
			id = 0
			if n, st := parseInt(val); len(val) > 0 && isNumberStart(val[0]) && st == intOK && n >= 1 && n <= MaxID {
				id = n
			}
		case "reply":
			reply = ""
			var s string
			if json.Unmarshal(val, &s) == nil && (s == "binary" || s == "text") {
				reply = s
			}
		}
	}
}

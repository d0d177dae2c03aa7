package wire_test

import (
	"fmt"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// A client encodes a request; the server decodes it, computes, and encodes
// the reply in the form the request came in.
func Example() {
	a := tensor.FromFloat64([]int{2, 2}, []float64{1, 2, 3, 4})
	msg, _ := wire.EncodeRequest(&wire.Request{ID: 7, Op: "gemm",
		Args: wire.Args{"a": wire.TensorValue(a), "b": wire.TensorValue(a)}}, false)
	fmt.Println(string(msg))

	req, err := wire.DecodeRequest(false, msg)
	if err != nil {
		return // the server would send a failure reply addressed to req.ID
	}
	x, _ := req.Args.Tensor("a")
	alpha, _ := req.Args.Float("alpha", 1)
	fmt.Println(x, alpha)

	c := tensor.FromFloat64([]int{2, 2}, []float64{7, 10, 15, 22})
	reply, isBinary, _ := wire.EncodeReply(&wire.Reply{ID: req.ID, OK: true,
		Result: wire.Result{"c": wire.TensorValue(c)}}, req.Binary)
	fmt.Println(string(reply), isBinary)
	// Output:
	// {"id":7,"op":"gemm","args":{"a":{"dtype":"f64","shape":[2,2],"data":[1,2,3,4]},"b":{"dtype":"f64","shape":[2,2],"data":[1,2,3,4]}}}
	// f64[2,2] 1
	// {"id":7,"ok":true,"result":{"c":{"dtype":"f64","shape":[2,2],"data":[7,10,15,22]}}} false
}

package js_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/browser"
	"github.com/crunchsvc/crunch/internal/readme"
	"github.com/crunchsvc/crunch/internal/testserver"
)

// readmePage runs the README's browser example, as printed, as a module
// script, then posts what it computed (or the error that stopped it) to
// /result. browser.HoldTag holds the page's load event, and so Chromium's
// dump, until that post has arrived: the page does not depend on how fast
// a loaded machine runs it.
const readmePage = `<!doctype html><meta charset="utf-8"><pre id="out">pending</pre>
%s
<script>
const out = (s) => {
  document.getElementById("out").textContent = s;
  fetch("/result", { method: "POST", body: s });
};
addEventListener("error", (e) => out("error: " + e.message));
addEventListener("unhandledrejection", (e) => out("error: " + (e.reason && e.reason.message || e.reason)));
</script>
<script type="module">
%s
out(JSON.stringify({ data: Array.from(prod.data), shape: prod.shape, rtt: rttMs }));
</script>`

// TestReadmeBrowserExample runs the README's browser example in headless
// Chromium on a page of the server's origin (a proxy in front of a real
// crunch server adds the page; /crunch.mjs and /v1/ws pass through), and
// checks the product against the one the README's comment shows.
func TestReadmeBrowserExample(t *testing.T) {
	chromium, err := browser.Find()
	if err != nil {
		t.Skipf("SKIPPED: the README's browser example needs chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	example, err := readme.Block("**The browser**", "```js")
	if err != nil {
		t.Fatal(err)
	}
	shown := regexp.MustCompile(`prod\.data: Float64Array \[([^\]]*)\]`).FindStringSubmatch(example)
	if shown == nil {
		t.Fatalf("the README's browser example no longer shows prod.data:\n%s", example)
	}
	var want []float64
	for _, f := range strings.Split(shown[1], ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			t.Fatalf("the README's prod.data %q: %v", shown[1], err)
		}
		want = append(want, v)
	}

	srv := testserver.Start(ctx, t, t.TempDir(), testserver.Small(), true)
	front := browser.StartFront(t, srv.Addr)
	front.Page("/readme.html", fmt.Sprintf(readmePage, browser.HoldTag, example))
	result := make(chan string, 1)
	var once sync.Once
	front.Mux.HandleFunc("/result", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		once.Do(func() { result <- string(body); front.Release() })
	})

	dom, err := browser.Headless(ctx, chromium, t.TempDir(), "http://"+front.Addr+"/readme.html", "--dump-dom")
	if err != nil {
		t.Fatal(err)
	}
	var posting string
	select {
	case posting = <-result:
	default:
		t.Fatalf("the page posted nothing:\n%s\nserver log:\n%s", dom, srv.Stderr())
	}
	var got struct {
		Data  []float64 `json:"data"`
		Shape []int     `json:"shape"`
		RTT   *float64  `json:"rtt"`
	}
	if err := json.Unmarshal([]byte(posting), &got); err != nil {
		t.Fatalf("the example did not finish: %s\nserver log:\n%s", posting, srv.Stderr())
	}
	if !reflect.DeepEqual(got.Data, want) || !reflect.DeepEqual(got.Shape, []int{2, 2}) {
		t.Errorf("prod = %v shape %v; the README shows %v", got.Data, got.Shape, want)
	}
	if got.RTT == nil || *got.RTT < 0 { // performance.now() is coarse: 0 is possible
		t.Errorf("no ping round trip: %s", posting)
	}
}

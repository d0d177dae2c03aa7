package js

import (
	"os/exec"
	"testing"
)

// TestCodec runs crunch_test.mjs with node's test runner.
func TestCodec(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("SKIPPED: the browser client's codec tests need node (apt-get install nodejs)")
	}
	out, err := exec.Command(node, "--test", "crunch_test.mjs").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test crunch_test.mjs: %v\n%s", err, out)
	}
}

// The embedded module is the file on disk.
func TestModuleEmbedded(t *testing.T) {
	if len(Module) < 1000 {
		t.Fatalf("embedded crunch.mjs is %d bytes", len(Module))
	}
}

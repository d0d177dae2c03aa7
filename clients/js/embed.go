// Package js holds the browser client, crunch.mjs, embedded so that the
// server can serve it (at /crunch.mjs) to its status page and to anyone.
package js

import _ "embed"

// Module is crunch.mjs, the ES module.
//
//go:embed crunch.mjs
var Module []byte

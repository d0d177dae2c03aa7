//go:build cgo && crunch_system

package cgo

// With the crunch_system tag the package links the libcrunch that
// pkg-config finds (see README: "Linking a system libcrunch").

/*
#cgo pkg-config: crunch
*/
import "C"

package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// byteSize is a flag value holding a number of bytes, written as an
// integer with an optional binary unit: 0, 4096, 512MiB, 2GiB (K, M, G and
// T, with or without "iB" or "B", all mean powers of 1024).
type byteSize int64

// units maps a suffix, upper-cased, to its multiplier.
var units = []struct {
	suffix string
	mult   int64
}{
	{"TIB", 1 << 40}, {"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10},
	{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10},
	{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10},
	{"B", 1},
}

// String formats the size in the largest unit that divides it.
func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range units[:4] {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix[:1] + "iB"
		}
	}
	return strconv.FormatInt(n, 10)
}

// Set parses s.
func (b *byteSize) Set(s string) error {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a size in bytes (e.g. 0, 1048576, 512MiB, 2GiB)", s)
	}
	if n > math.MaxInt64/mult {
		return fmt.Errorf("%q is too large", s)
	}
	*b = byteSize(n * mult)
	return nil
}

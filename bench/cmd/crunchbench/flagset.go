package main

import "flag"

// flagGiven reports whether the named flag was given on the command line,
// so that -quick changes only the defaults a user left alone.
func flagGiven(name string) bool {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

package main

import (
	"fmt"
	"io"
)

func gen(args []string, stdout, stderr io.Writer) error {
	fmt.Fprintln(stderr, "drswatch gen: not built yet")
	return errUsage
}

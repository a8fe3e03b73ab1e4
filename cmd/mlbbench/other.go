//go:build !linux

package main

import (
	"fmt"
	"os"
)

// mlbbench reads rusage, posix_fadvise and /proc, so it runs on Linux only.
func main() {
	fmt.Fprintln(os.Stderr, "mlbbench: runs on Linux only")
	os.Exit(1)
}

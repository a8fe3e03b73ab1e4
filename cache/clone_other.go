//go:build !linux

package cache

import (
	"errors"
	"os"
)

func cloneFile(dst, src *os.File) error {
	return errors.ErrUnsupported
}

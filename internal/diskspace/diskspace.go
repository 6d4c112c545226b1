// Package diskspace tells how much space is left for writing on a file
// system: what the tables' and the outbox's heal after a full disk, the
// free-space checks before compactions and backups, and the full-disk
// tests look at.
package diskspace

import (
	"fmt"
	"syscall"
)

// Free is the space left for an unprivileged writer on the file system of
// path, in bytes.
func Free(path string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

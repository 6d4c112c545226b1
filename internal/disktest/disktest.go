// Package disktest gives tests a real small file system that fills up: a
// tmpfs mounted on a temporary directory (mount needs root, which CI has;
// a test that cannot mount is skipped with the reason), and a filler file
// that takes every free byte of it.
package disktest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/custodian-dev/custodian/internal/diskspace"
)

// Small mounts a tmpfs of size bytes on a new temporary directory and
// returns its path; it is unmounted when the test ends. The test is
// skipped when the mount is refused (not root, no mount command), and
// fails in CI (CI set) where it must work.
func Small(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0755", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mount a %d-byte tmpfs: %v: %s (CI runs as root and must be able to)", size, err, out)
		}
		t.Skipf("cannot mount a tmpfs here (%v: %s): run as root", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// Free is the space left on the file system of dir.
func Free(t testing.TB, dir string) int64 {
	t.Helper()
	n, err := diskspace.Free(dir)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Fill writes a file into dir until the file system is full (ENOSPC) and
// returns its path; removing it frees the space again.
func Fill(t testing.TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return p
			}
			t.Fatalf("fill %s: %v", dir, err)
		}
	}
}

// Unfill removes a filler file.
func Unfill(t testing.TB, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}

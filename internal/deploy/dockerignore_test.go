package deploy

import (
	"bufio"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dockerignore reads the patterns of the repository's .dockerignore.
func dockerignore(t *testing.T, root string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pats []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") {
			t.Fatalf(".dockerignore: exceptions (%q) are not understood by this test", line)
		}
		pats = append(pats, strings.TrimSuffix(line, "/"))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return pats
}

// ignored reports whether rel (slash-separated, relative to the context)
// matches a pattern the way Docker's matcher does for these simple forms:
// a path from the root, or **/ followed by a name at any depth.
func ignored(pats []string, rel string) bool {
	for _, p := range pats {
		if strings.HasPrefix(p, "**/") {
			if ok, _ := filepath.Match(p[3:], filepath.Base(rel)); ok {
				return true
			}
			continue
		}
		if ok, _ := filepath.Match(p, rel); ok {
			return true
		}
	}
	return false
}

// TestDockerBuildContextBuilds copies the repository the way `docker build`
// sends it (without what .dockerignore excludes) and builds every binary of
// the Dockerfile there: nothing a build needs may be ignored.
func TestDockerBuildContextBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("copies the repository and builds four binaries")
	}
	root := repoRoot(t)
	pats := dockerignore(t, root)
	ctxDir := t.TempDir()
	copied := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if ignored(pats, rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		dst := filepath.Join(ctxDir, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		copied++
		return copyFile(path, dst)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{".git", "compose.yaml", "docs", "deploy", "README.md"} {
		if _, err := os.Stat(filepath.Join(ctxDir, gone)); err == nil {
			t.Errorf("%s is in the build context; .dockerignore should leave it out", gone)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	out := t.TempDir()
	for _, pkg := range []string{"./cmd/supervisor", "./cmd/dashboard", "./cmd/notifier", "./internal/deploy/probe"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(out, filepath.Base(pkg)), pkg)
		cmd.Dir = ctxDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("go build %s in the build context (%d files): %v\n%s", pkg, copied, err, b)
		}
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

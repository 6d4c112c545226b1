package scale

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procFigures are a process's resident memory and open descriptors.
type procFigures struct {
	RSS int64 `json:"rss"` // VmRSS, bytes
	HWM int64 `json:"hwm"` // VmHWM (peak resident), bytes
	FDs int   `json:"fds"` // entries of /proc/<pid>/fd
}

// readProc reads pid's figures from /proc ("self" for this process).
func readProc(pid string) (procFigures, error) {
	var f procFigures
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return f, fmt.Errorf("process %s: status: %w", pid, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return f, fmt.Errorf("process %s: status: unexpected %s line %q", pid, name, sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return f, fmt.Errorf("process %s: status: %s: %w", pid, name, err)
		}
		if name == "VmRSS" {
			f.RSS = kb << 10
		} else {
			f.HWM = kb << 10
		}
	}
	if f.RSS == 0 || f.HWM == 0 {
		return f, fmt.Errorf("process %s: status lacks VmRSS or VmHWM", pid)
	}
	fds, err := os.ReadDir("/proc/" + pid + "/fd")
	if err != nil {
		return f, fmt.Errorf("process %s: fd: %w", pid, err)
	}
	f.FDs = len(fds)
	return f, nil
}

// String formats f for logs.
func (f procFigures) String() string {
	return fmt.Sprintf("rss %.1f MiB, peak %.1f MiB, %d open files", mib(f.RSS), mib(f.HWM), f.FDs)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

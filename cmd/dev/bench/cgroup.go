package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// cpuLimit puts process pid in a cgroup of its own whose CPU time is held
// to share of one core (the cgroup v1 cpu controller's CFS quota, or
// cgroup v2's cpu.max), as an instance on a small machine of its own
// would have. It needs root; the returned function removes the cgroup once
// the process has exited.
func cpuLimit(pid int, name string, share float64) (func(), error) {
	const period = 100000 // microseconds
	quota := int(share * period)
	try := []struct{ root, file, value string }{
		{"/sys/fs/cgroup/cpu", "cpu.cfs_quota_us", strconv.Itoa(quota)},
		{"/sys/fs/cgroup", "cpu.max", fmt.Sprintf("%d %d", quota, period)},
	}
	var errs []error
	for _, t := range try {
		if _, err := os.Stat(filepath.Join(t.root, t.file)); err != nil {
			errs = append(errs, err)
			continue
		}
		dir := filepath.Join(t.root, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cgroup for %s: %w (the CPU limit needs root)", name, err)
		}
		remove := func() {
			for deadline := time.Now().Add(5 * time.Second); os.Remove(dir) != nil && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
		}
		if t.file == "cpu.cfs_quota_us" {
			if err := os.WriteFile(filepath.Join(dir, "cpu.cfs_period_us"), []byte(strconv.Itoa(period)), 0o644); err != nil {
				remove()
				return nil, err
			}
		}
		if err := os.WriteFile(filepath.Join(dir, t.file), []byte(t.value), 0o644); err != nil {
			remove()
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			remove()
			return nil, err
		}
		return remove, nil
	}
	return nil, fmt.Errorf("no cgroup cpu controller found: %w", errors.Join(errs...))
}

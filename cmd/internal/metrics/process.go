package metrics

import (
	"bytes"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"syscall"
	"time"
)

// Process writes the process's own metrics under the names Prometheus'
// client libraries use (process_*, go_*), so that dashboards made for them
// work: CPU time, resident memory, open files, start time, goroutines and
// the Go heap. All are read now, from the kernel and the runtime.
func Process(w *Writer, start time.Time) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		w.Value("process_cpu_seconds_total", Counter, "Total user and system CPU time spent in seconds.", cpu.Seconds())
	}
	if rss, ok := residentBytes(); ok {
		w.Value("process_resident_memory_bytes", Gauge, "Resident memory size in bytes.", float64(rss))
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		w.Value("process_open_fds", Gauge, "Number of open file descriptors.", float64(len(fds)))
	}
	w.Value("process_start_time_seconds", Gauge, "Start time of the process since unix epoch in seconds.", float64(start.UnixNano())/1e9)
	w.Value("go_goroutines", Gauge, "Number of goroutines that currently exist.", float64(runtime.NumGoroutine()))
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		w.Value("go_memstats_heap_alloc_bytes", Gauge, "Number of heap bytes allocated and still in use.", float64(s[0].Value.Uint64()))
	}
}

// residentBytes reads the resident set size from /proc/self/statm (its
// second field, in pages); ok is false where there is no /proc.
func residentBytes() (int64, bool) {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	fields := bytes.Fields(data)
	if len(fields) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseInt(string(fields[1]), 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * int64(os.Getpagesize()), true
}

package outbox

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// typical is a reading as the daemon publishes it.
var typical = []byte(`{"light":412,"seq":1024,"ts":"2026-11-25T17:43:18.123Z"}`)

// procCounter reads one "name: value" counter from a /proc/self file, or -1.
func procCounter(file, name string) int64 {
	f, err := os.Open("/proc/self/" + file)
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			v = strings.TrimSuffix(strings.TrimSpace(v), " kB")
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return -1
			}
			if strings.HasPrefix(name, "Vm") {
				n <<= 10
			}
			return n
		}
	}
	return -1
}

// BenchmarkAppend measures appends with each sync mode, Close (the final
// sync) included, and the bytes the process caused to be written to disk
// (/proc/self/io write_bytes, counted by the kernel as pages are dirtied)
// per payload byte. "one-per-sync" appends, acknowledges and syncs each
// reading, the disk cost of a reading when readings are further apart than
// SyncEvery (the daemon's 5 s readings with the 1 s default).
func BenchmarkAppend(b *testing.B) {
	for _, c := range []struct {
		name     string
		mode     SyncMode
		syncEach bool
	}{
		{"grouped", SyncGrouped, false},
		{"always", SyncAlways, false},
		{"one-per-sync", SyncGrouped, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			o, err := Open(filepath.Join(b.TempDir(), "outbox"), Options{Sync: c.mode})
			if err != nil {
				b.Fatal(err)
			}
			w0 := procCounter("io", "write_bytes")
			b.SetBytes(int64(len(typical)))
			b.ResetTimer()
			for range b.N {
				seq := o.NextSeq()
				if err := o.Append(seq, typical); err != nil {
					b.Fatal(err)
				}
				if c.syncEach {
					o.Next(1)
					o.Ack(seq)
					if err := o.Sync(); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := o.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			w1 := procCounter("io", "write_bytes")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
			if w0 >= 0 && w1 >= 0 {
				b.ReportMetric(float64(w1-w0)/float64(b.N*len(typical)), "disk-B/payload-B")
			}
		})
	}
}

// buildBacklog writes n typical readings into dir as segment files of the
// default size, directly with the record encoder: the benchmarks below are
// about reading, and this is 20 times faster than n Appends.
func buildBacklog(b *testing.B, dir string, n int) {
	b.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		b.Fatal(err)
	}
	var buf []byte
	first := uint64(1)
	flush := func(next uint64) {
		if err := os.WriteFile(filepath.Join(dir, segName(first)), buf, 0o640); err != nil {
			b.Fatal(err)
		}
		buf, first = buf[:0], next
	}
	for seq := uint64(1); seq <= uint64(n); seq++ {
		buf = appendRecord(buf, seq, typical)
		if len(buf) >= DefaultSegmentBytes {
			flush(seq + 1)
		}
	}
	if len(buf) > 0 {
		flush(0)
	}
}

// BenchmarkReplay reads a 100,000-reading backlog: "next" with Next and
// Rewind only (the read path), "open+next+ack" as after a restart: Open (which
// checks every record), Next in batches of 256, an Ack per record, Close.
func BenchmarkReplay(b *testing.B) {
	const backlog = 100_000
	tmpl := filepath.Join(b.TempDir(), "template")
	buildBacklog(b, tmpl, backlog)

	b.Run("next", func(b *testing.B) {
		o, err := Open(copyDirB(b, tmpl), Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer o.Close()
		b.ResetTimer()
		for range b.N {
			o.Rewind()
			if n := replay(b, o, false); n != backlog {
				b.Fatalf("replayed %d", n)
			}
		}
		b.ReportMetric(float64(b.N*backlog)/b.Elapsed().Seconds(), "readings/s")
	})
	b.Run("open+next+ack", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			dir := copyDirB(b, tmpl)
			b.StartTimer()
			o, err := Open(dir, Options{})
			if err != nil {
				b.Fatal(err)
			}
			if n := replay(b, o, true); n != backlog {
				b.Fatalf("replayed %d", n)
			}
			if err := o.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*backlog)/b.Elapsed().Seconds(), "readings/s")
	})
}

// replay reads the outbox to its end, acknowledging each batch if ack.
func replay(b *testing.B, o *Outbox, ack bool) int {
	n := 0
	for {
		recs, err := o.Next(256)
		if err != nil {
			b.Fatal(err)
		}
		if len(recs) == 0 {
			return n
		}
		n += len(recs)
		if ack {
			for _, r := range recs {
				if err := o.Ack(r.Seq); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

// BenchmarkBacklogMemory opens a 1,000,000-reading backlog (72 MB; MaxBytes
// raised to hold it) and replays it with acks, sampling the Go heap in use
// and the process's resident set every 50,000 readings: both must stay flat,
// since the outbox never loads the backlog. It reports the peaks.
func BenchmarkBacklogMemory(b *testing.B) {
	const backlog = 1_000_000
	var maxHeap, maxRSS uint64
	var ms runtime.MemStats
	sample := func() {
		runtime.ReadMemStats(&ms)
		maxHeap = max(maxHeap, ms.HeapInuse)
		if rss := procCounter("status", "VmRSS"); rss > 0 {
			maxRSS = max(maxRSS, uint64(rss))
		}
	}
	for range b.N {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "outbox")
		buildBacklog(b, dir, backlog)
		runtime.GC()
		b.StartTimer()
		o, err := Open(dir, Options{MaxBytes: 128 << 20})
		if err != nil {
			b.Fatal(err)
		}
		sample()
		n := 0
		for {
			recs, err := o.Next(256)
			if err != nil {
				b.Fatal(err)
			}
			if len(recs) == 0 {
				break
			}
			for _, r := range recs {
				o.Ack(r.Seq)
			}
			if n/50_000 != (n+len(recs))/50_000 {
				sample()
			}
			n += len(recs)
		}
		if n != backlog {
			b.Fatalf("replayed %d", n)
		}
		o.Close()
	}
	b.ReportMetric(float64(b.N*backlog)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(maxHeap)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(maxRSS)/(1<<20), "peak-RSS-MB")
}

// copyDirB is copyDir for benchmarks.
func copyDirB(b *testing.B, src string) string {
	b.Helper()
	dst := filepath.Join(b.TempDir(), "copy")
	if err := os.Mkdir(dst, 0o750); err != nil {
		b.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o640); err != nil {
			b.Fatal(err)
		}
	}
	return dst
}

package outbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWriteFailureRealLimit makes the kernel fail a write half-way, as a
// full disk does, by lowering the file size limit (RLIMIT_FSIZE) in a child
// process: the write that crosses it stores part of a record and fails with
// EFBIG. The outbox must stay as it was, and take the same record once the
// limit is lifted. A child, because the limit is per process.
func TestWriteFailureRealLimit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=fsize", "OUTBOX_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var last uint64
	if _, err := fmt.Sscanf(string(out), "ok %d", &last); err != nil {
		t.Fatalf("child said %q", out)
	}
	o, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if st := o.Stats(); st.Damaged != 0 {
		t.Fatalf("a failed write left %d damaged bytes", st.Damaged)
	}
	var want []uint64
	for q := uint64(1); q <= last; q++ {
		want = append(want, q)
	}
	wantSeqs(t, "records", drain(t, o, 100), want)
}

func fsizeChild() int {
	fail := func(format string, args ...any) int {
		fmt.Printf(format+"\n", args...)
		return 1
	}
	o, err := Open(os.Getenv("OUTBOX_DIR"), Options{})
	if err != nil {
		return fail("open: %v", err)
	}
	for range 10 {
		seq := o.NextSeq()
		if err := o.Append(seq, reading(seq)); err != nil {
			return fail("append: %v", err)
		}
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		return fail("getrlimit: %v", err)
	}
	// Above the state file (one page and a slot), inside the segment.
	low := lim
	low.Cur = 6000
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &low); err != nil {
		return fail("setrlimit: %v", err)
	}
	var failed uint64
	for range 1000 {
		seq := o.NextSeq()
		before := o.Stats()
		err := o.Append(seq, reading(seq))
		if err == nil {
			continue
		}
		if !errors.Is(err, syscall.EFBIG) || !strings.Contains(err.Error(), fmt.Sprint(seq)) {
			return fail("append %d failed with %v", seq, err)
		}
		if after := o.Stats(); after != before || o.NextSeq() != seq {
			return fail("failed append changed the outbox: %+v -> %+v, NextSeq %d", before, after, o.NextSeq())
		}
		if fi, err := os.Stat(o.cur.path); err != nil || fi.Size() != o.cur.size {
			return fail("failed write left the segment at %d bytes, records end at %d (%v)", fi.Size(), o.cur.size, err)
		}
		failed = seq
		break
	}
	if failed == 0 {
		return fail("no write failed under the limit")
	}
	if err := o.Append(failed, reading(failed)); err == nil {
		return fail("append succeeded while still over the limit")
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		return fail("setrlimit: %v", err)
	}
	for range 10 {
		seq := o.NextSeq()
		if err := o.Append(seq, reading(seq)); err != nil {
			return fail("append after the limit was lifted: %v", err)
		}
	}
	var n uint64
	for {
		recs, err := o.Next(100)
		if err != nil {
			return fail("next: %v", err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			n++
			if r.Seq != n || !bytes.Equal(r.Payload, reading(r.Seq)) {
				return fail("record %d is seq %d %q", n, r.Seq, r.Payload)
			}
		}
	}
	if err := o.Close(); err != nil {
		return fail("close: %v", err)
	}
	fmt.Printf("ok %d\n", n)
	return 0
}

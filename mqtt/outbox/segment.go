package outbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Segment files are named by the seq they were created for (normally their
// first record's), zero-padded so that lexical order is seq order.
const segSuffix = ".seg"

func segName(first uint64) string { return fmt.Sprintf("%020d%s", first, segSuffix) }

// parseSegName returns the seq in a segment file name.
func parseSegName(name string) (uint64, bool) {
	base, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(base) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(base, 10, 64)
	return n, err == nil
}

// segment is what the outbox keeps in memory about one file: a few counters,
// never its records.
type segment struct {
	path  string
	first uint64 // from the name
	last  uint64 // seq of the last record; 0 while empty
	size  int64  // bytes of good records; the file may hold junk past it after a failed write
	count int64  // records
	// ackedN and ackedBytes count the records at or before the ack position.
	ackedN     int64
	ackedBytes int64
}

// pos is a record boundary: an offset in a segment.
type pos struct {
	seg *segment
	off int64
}

// reader reads records from one segment through a fixed buffer, so that
// replaying a backlog of any size costs the same memory.
type reader struct {
	seg    *segment
	f      *os.File
	buf    []byte
	bufOff int64 // file offset of buf[0]
	bufN   int   // valid bytes in buf
}

// readerBuf holds at least one largest record, and many typical ones per read.
const readerBuf = 2 * maxFrame

func newReader() *reader { return &reader{buf: make([]byte, readerBuf)} }

// open points the reader at seg, reusing the file when it is the same.
func (r *reader) open(seg *segment) error {
	if r.seg == seg && r.f != nil {
		return nil
	}
	r.close()
	f, err := os.Open(seg.path)
	if err != nil {
		return err
	}
	r.seg, r.f, r.bufN = seg, f, 0
	return nil
}

func (r *reader) close() {
	if r.f != nil {
		r.f.Close()
	}
	r.seg, r.f, r.bufN = nil, nil, 0
}

// invalidate forgets buffered bytes, after the file was truncated or rewritten.
func (r *reader) invalidate() { r.bufN = 0 }

// record decodes the record at off, reading no further than limit. The payload
// aliases the reader's buffer until the next call.
func (r *reader) record(off, limit int64) (seq uint64, payload []byte, n int, err error) {
	if off >= limit {
		return 0, nil, 0, io.EOF
	}
	avail := func() []byte {
		if off < r.bufOff || off >= r.bufOff+int64(r.bufN) {
			return nil
		}
		end := min(r.bufOff+int64(r.bufN), limit)
		return r.buf[off-r.bufOff : end-r.bufOff]
	}
	b := avail()
	seq, payload, n, err = decodeRecord(b)
	if !errors.Is(err, errTorn) || int64(len(b)) == limit-off {
		return seq, payload, n, err
	}
	// The buffer ends before the record or the limit does: refill from off.
	want := min(int64(len(r.buf)), limit-off)
	m, rerr := r.f.ReadAt(r.buf[:want], off)
	r.bufOff, r.bufN = off, m
	if rerr != nil && !errors.Is(rerr, io.EOF) {
		r.bufN = 0
		return 0, nil, 0, rerr
	}
	// A short read (file shorter than limit) leaves a torn record below.
	return decodeRecord(r.buf[:m])
}

// scanResult is what a full scan of a segment found.
type scanResult struct {
	good    int64 // bytes of good records from the start
	fileLen int64
	why     error // why the scan stopped before fileLen; nil if it did not
}

// scan walks every record of seg's file, checking each and calling fn for
// it, and fills in seg's counters. It stops at the first bad record, or at a
// record whose seq does not exceed after (the seq of the record before this
// segment), since seqs only grow. An I/O error (not damage) is returned as err.
func scan(r *reader, seg *segment, after uint64, fn func(seq uint64, off int64, n int)) (res scanResult, err error) {
	if err := r.open(seg); err != nil {
		return res, err
	}
	fi, err := r.f.Stat()
	if err != nil {
		return res, err
	}
	res.fileLen = fi.Size()
	r.invalidate()
	prev := after
	var off int64
	seg.count, seg.last = 0, 0
	for off < res.fileLen {
		seq, _, n, derr := r.record(off, res.fileLen)
		if derr != nil {
			if !isDamage(derr) {
				return res, derr
			}
			res.why = derr
			break
		}
		if seq <= prev {
			res.why = &corruptError{fmt.Sprintf("seq %d after %d", seq, prev)}
			break
		}
		if fn != nil {
			fn(seq, off, n)
		}
		seg.count++
		seg.last = seq
		prev = seq
		off += int64(n)
	}
	res.good = off
	seg.size = off
	return res, nil
}

// isDamage tells damaged data, which costs records but must not stop the
// outbox, from other errors. A media error (EIO) reading a record counts as
// damage: an SD card with one bad sector must not keep the daemon down.
func isDamage(err error) bool {
	var ce *corruptError
	return errors.Is(err, errTorn) || errors.As(err, &ce) || errors.Is(err, syscall.EIO)
}

// listSegments returns the segment files in dir in seq order.
func listSegments(dir string) ([]*segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []*segment
	for _, e := range ents { // ReadDir sorts by name, which is seq order
		if first, ok := parseSegName(e.Name()); ok && e.Type().IsRegular() {
			segs = append(segs, &segment{path: filepath.Join(dir, e.Name()), first: first})
		}
	}
	return segs, nil
}

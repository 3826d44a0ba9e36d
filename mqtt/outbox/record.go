package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// MaxPayload is the largest payload Append accepts. Readings are under 100
// bytes; the bound lets the decoder reject a corrupt length field before it
// allocates or reads past the record.
const MaxPayload = 64 << 10

// headerLen is the size of a record's header: length, crc32c, seq.
const headerLen = 4 + 4 + 8

// maxFrame is the largest record on disk.
const maxFrame = headerLen + MaxPayload

// castagnoli is CRC-32C, hardware-accelerated on amd64 and on arm64 (Pi 3 and
// later), and better at catching burst errors than the IEEE polynomial.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTorn says the bytes end inside a record: the normal result of a crash or
// power cut during a write.
var errTorn = errors.New("torn record")

// corruptError says a record's bytes are complete but wrong.
type corruptError struct{ why string }

func (e *corruptError) Error() string { return "corrupt record: " + e.why }

// frameLen is the on-disk size of a record with this payload.
func frameLen(payload int) int64 { return int64(headerLen + payload) }

// appendRecord encodes one record onto dst:
//
//	[length uint32][crc32c uint32][seq uint64][payload]
//
// little-endian, where length is the payload's length and the checksum covers
// seq and payload. The caller checks the payload bound.
func appendRecord(dst []byte, seq uint64, payload []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = append(dst, payload...)
	crc := crc32.Checksum(dst[start+8:], castagnoli)
	binary.LittleEndian.PutUint32(dst[start+4:], crc)
	return dst
}

// decodeRecord decodes the record at the start of b. It returns the seq, the
// payload (aliasing b) and the record's size, errTorn if b ends inside the
// record, or a *corruptError. It never reads past b and never allocates, so it
// is safe on any bytes a damaged disk can return.
func decodeRecord(b []byte) (seq uint64, payload []byte, n int, err error) {
	if len(b) < headerLen {
		return 0, nil, 0, errTorn
	}
	length := binary.LittleEndian.Uint32(b)
	if length > MaxPayload {
		return 0, nil, 0, &corruptError{fmt.Sprintf("length %d over %d", length, MaxPayload)}
	}
	n = headerLen + int(length)
	if len(b) < n {
		return 0, nil, 0, errTorn
	}
	if crc32.Checksum(b[8:n], castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return 0, nil, 0, &corruptError{"checksum mismatch"}
	}
	seq = binary.LittleEndian.Uint64(b[8:])
	if seq == 0 {
		// Seqs start at 1; a zero here is a checksummed run of garbage.
		return 0, nil, 0, &corruptError{"seq 0"}
	}
	return seq, b[headerLen:n], n, nil
}
